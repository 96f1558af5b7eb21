//! Capture buffers in shared memory (`wl_shm`), lent to the pipeline without a copy.
//!
//! A pool is one memfd holding a few equally sized slots, one `wl_buffer` each. The
//! compositor writes a frame into a free slot; the slot then travels to the pipeline as the
//! [`Frame`](crate::desktop::Frame)'s pixels and comes back to the pool when the frame is
//! dropped (a message on the capture thread's command channel). When the output changes size
//! a new pool replaces the old one; slots still lent keep the old mapping alive through an
//! `Arc` and are simply forgotten when they come back.

use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use wayland_client::QueueHandle;
use wayland_client::protocol::{wl_buffer::WlBuffer, wl_shm, wl_shm_pool::WlShmPool};

use super::Error;
use super::control::Waker;
use crate::desktop::{PixelBuffer, PixelFormat};

/// A shared memory mapping, unmapped when the last holder lets go.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; it is only read through `&[u8]` while the
// compositor is not writing that slot (a slot is lent only after its capture completed and
// is not attached again until it is returned).
unsafe impl Send for Mapping {}
// SAFETY: as above; no interior mutability is exposed.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from a successful mmap and nothing borrows it any more
        // (every borrower holds the Arc this is dropped from).
        if let Err(err) = unsafe { munmap(self.ptr.cast(), self.len) } {
            tracing::warn!(%err, "munmap of a capture pool failed");
        }
    }
}

/// Which pixel layout a `wl_shm` format is, for the formats the pipeline takes.
pub fn pixel_format(format: wl_shm::Format) -> Option<PixelFormat> {
    match format {
        wl_shm::Format::Argb8888 => Some(PixelFormat::Bgra8888),
        wl_shm::Format::Xrgb8888 => Some(PixelFormat::Bgrx8888),
        _ => None,
    }
}

/// One slot of a pool.
pub struct Slot {
    pub buffer: WlBuffer,
    /// Lent to the pipeline or attached to a capture in progress.
    pub busy: bool,
}

/// A set of equally sized shm buffers.
pub struct BufferPool {
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub format: wl_shm::Format,
    /// Distinguishes slots of this pool from slots of a replaced one when they come back.
    pub generation: u64,
    pub slots: Vec<Slot>,
    map: Arc<Mapping>,
    pool: WlShmPool,
}

impl BufferPool {
    pub fn new<D>(
        shm: &wl_shm::WlShm,
        qh: &QueueHandle<D>,
        count: usize,
        (width, height, stride): (u32, u32, u32),
        format: wl_shm::Format,
        generation: u64,
    ) -> Result<Self, Error>
    where
        D: wayland_client::Dispatch<WlShmPool, ()>
            + wayland_client::Dispatch<WlBuffer, ()>
            + 'static,
    {
        let slot_len = stride as usize * height as usize;
        let len = slot_len * count;
        if slot_len == 0 || len > i32::MAX as usize {
            return Err(Error::BufferSize { width, height });
        }
        let fd = memfd_create("skerry-capture", MemfdFlags::CLOEXEC).map_err(Error::Os)?;
        ftruncate(&fd, len as u64).map_err(Error::Os)?;
        // SAFETY: a fresh shared mapping of a memfd we sized above; no other Rust object
        // aliases it.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(Error::Os)?;
        let map = Arc::new(Mapping {
            ptr: ptr.cast(),
            len,
        });
        let pool = shm.create_pool(fd.as_fd(), len as i32, qh, ());
        let slots = (0..count)
            .map(|i| Slot {
                buffer: pool.create_buffer(
                    (i * slot_len) as i32,
                    width as i32,
                    height as i32,
                    stride as i32,
                    format,
                    qh,
                    (),
                ),
                busy: false,
            })
            .collect();
        Ok(Self {
            width,
            height,
            stride,
            format,
            generation,
            slots,
            map,
            pool,
        })
    }

    pub fn matches(&self, width: u32, height: u32, stride: u32, format: wl_shm::Format) -> bool {
        self.width == width
            && self.height == height
            && self.stride == stride
            && self.format == format
    }

    /// A slot nobody is using, marked busy.
    pub fn take_free(&mut self) -> Option<usize> {
        let index = self.slots.iter().position(|s| !s.busy)?;
        self.slots[index].busy = true;
        Some(index)
    }

    /// Makes a slot available again (capture failed, or its frame came back).
    pub fn release(&mut self, generation: u64, index: usize) {
        if generation == self.generation
            && let Some(slot) = self.slots.get_mut(index)
        {
            slot.busy = false;
        }
    }

    /// A slot's bytes, read in place (for small images such as the cursor, whose slot is
    /// never lent).
    pub fn read(&self, index: usize) -> &[u8] {
        let slot_len = self.stride as usize * self.height as usize;
        &self.map_bytes()[index * slot_len..(index + 1) * slot_len]
    }

    /// Turns slot `index` upside down in place, for compositors that capture y-inverted.
    /// The slot must not be lent or attached to a capture.
    pub fn flip_vertical(&mut self, index: usize) {
        let slot_len = self.stride as usize * self.height as usize;
        if (index + 1) * slot_len > self.map.len {
            return;
        }
        // SAFETY: in bounds (checked above); the slot is ours alone: the capture into it has
        // completed and it has not been lent yet, so nothing else reads or writes it.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(self.map.ptr.add(index * slot_len), slot_len) };
        flip_rows(bytes, self.stride as usize);
    }

    fn map_bytes(&self) -> &[u8] {
        // SAFETY: the mapping lives as long as `self.map`; see `Mapping`'s Send/Sync note.
        unsafe { std::slice::from_raw_parts(self.map.ptr, self.map.len) }
    }

    /// Lends slot `index` to the pipeline; it returns through `waker` when dropped.
    pub fn lend(&self, index: usize, waker: Waker) -> Box<dyn PixelBuffer> {
        let slot_len = self.stride as usize * self.height as usize;
        Box::new(Lent {
            map: self.map.clone(),
            offset: index * slot_len,
            len: slot_len,
            generation: self.generation,
            index,
            waker,
        })
    }
}

impl Drop for BufferPool {
    fn drop(&mut self) {
        for slot in &self.slots {
            slot.buffer.destroy();
        }
        self.pool.destroy();
    }
}

/// A slot on loan to the pipeline.
struct Lent {
    map: Arc<Mapping>,
    offset: usize,
    len: usize,
    generation: u64,
    index: usize,
    waker: Waker,
}

impl PixelBuffer for Lent {
    fn bytes(&self) -> &[u8] {
        // SAFETY: in bounds of the mapping (checked at pool creation); the compositor does
        // not write this slot while it is lent.
        unsafe { std::slice::from_raw_parts(self.map.ptr.add(self.offset), self.len) }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.waker.send(super::control::Command::BufferReturned {
            generation: self.generation,
            index: self.index,
        });
    }
}

/// Reverses the order of the `stride`-long rows of `bytes`.
pub fn flip_rows(bytes: &mut [u8], stride: usize) {
    if stride == 0 {
        return;
    }
    let rows = bytes.len() / stride;
    for top in 0..rows / 2 {
        let bottom = rows - 1 - top;
        let (head, tail) = bytes.split_at_mut(bottom * stride);
        head[top * stride..(top + 1) * stride].swap_with_slice(&mut tail[..stride]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_flip_top_to_bottom() {
        let mut bytes = vec![1, 1, 2, 2, 3, 3];
        flip_rows(&mut bytes, 2);
        assert_eq!(bytes, vec![3, 3, 2, 2, 1, 1]);
        let mut even = vec![1, 2, 3, 4];
        flip_rows(&mut even, 1);
        assert_eq!(even, vec![4, 3, 2, 1]);
    }
}
