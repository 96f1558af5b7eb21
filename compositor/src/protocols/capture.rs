//! What the capture protocols (wlr-screencopy and ext-image-copy-capture) share: the
//! rendered image the compositor hands them, the cursor, per-session damage bookkeeping and
//! the copy into a client's shm buffer.
//!
//! The compositor renders the output without the cursor; frames that ask for it get the
//! cursor blended in here, so one render serves clients that want the cursor painted and
//! clients (the streamer) that draw it themselves from a cursor session.

use std::time::Duration;

use smithay::output::Output;
use smithay::utils::{Physical, Point, Rectangle, Size};
use smithay::wayland::shm::{BufferAccessError, with_buffer_contents_mut};
use wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm};

/// Pixels in memory order B, G, R, A (Wayland's little-endian `argb8888`), premultiplied.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pub size: Size<i32, Physical>,
    /// Bytes from one row to the next.
    pub stride: usize,
    pub pixels: &'a [u8],
}

impl Image<'_> {
    fn row(&self, y: i32, x: i32, width: i32) -> Option<&[u8]> {
        let start = y as usize * self.stride + x as usize * 4;
        self.pixels.get(start..start + width as usize * 4)
    }
}

/// The cursor as the compositor shows it on one output.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    /// Where the hotspot is, in the output's buffer coordinates.
    pub position: Point<i32, Physical>,
    /// The cursor image and its hotspot, or `None` when the cursor is hidden.
    pub image: Option<(Image<'a>, Point<i32, Physical>)>,
}

/// One rendered output, handed to the capture protocols after each render (and when a
/// capture protocol asks for a frame while nothing changed, with empty damage).
#[derive(Debug, Clone, Copy)]
pub struct RenderedOutput<'a> {
    pub output: &'a Output,
    /// The whole output, without the cursor, in buffer coordinates.
    pub image: Image<'a>,
    /// What changed since the previous call for this output.
    pub damage: &'a [Rectangle<i32, Physical>],
    /// `None` when the pointer is not on this output.
    pub cursor: Option<Cursor<'a>>,
    /// `CLOCK_MONOTONIC` time at which this content was presented.
    pub time: Duration,
}

/// Why a client's buffer could not receive a frame. Sent to the client as `failed`.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("buffer is not a wl_shm buffer")]
    NotShm,
    #[error("buffer is {got:?}, the frame needs {want:?}")]
    Size {
        got: Size<i32, Physical>,
        want: Size<i32, Physical>,
    },
    #[error("unsupported buffer format {0:?}")]
    Format(wl_shm::Format),
    #[error("buffer stride {0} is too small or its pool too short")]
    Layout(i32),
    #[error("buffer memory is not accessible")]
    Access,
}

/// The shm formats capture buffers may use; both have the output's byte layout.
pub const SHM_FORMATS: [wl_shm::Format; 2] = [wl_shm::Format::Xrgb8888, wl_shm::Format::Argb8888];

/// Copies `region` of `image` into the client's shm `buffer` (which must be exactly the
/// region's size), blending `cursor` on top when given. With `only`, just those rectangles
/// of the buffer (in buffer coordinates) are written: the client keeps the rest up to date.
pub fn copy_to_shm(
    buffer: &WlBuffer,
    image: &Image<'_>,
    region: Rectangle<i32, Physical>,
    only: Option<&[Rectangle<i32, Physical>]>,
    cursor: Option<&Cursor<'_>>,
) -> Result<(), CopyError> {
    let result = with_buffer_contents_mut(buffer, |ptr, len, data| {
        let got = Size::from((data.width, data.height));
        if got != region.size {
            return Err(CopyError::Size {
                got,
                want: region.size,
            });
        }
        if !SHM_FORMATS.contains(&data.format) {
            return Err(CopyError::Format(data.format));
        }
        let row_bytes = data.width as usize * 4;
        let stride = data.stride;
        let end = data.offset as usize + stride.max(0) as usize * data.height as usize;
        if data.offset < 0 || (stride as usize) < row_bytes || end > len {
            return Err(CopyError::Layout(stride));
        }
        // SAFETY: smithay maps the pool for `len` bytes and keeps it alive during this
        // closure; the checks above keep every access inside `offset..end`.
        let dst = unsafe { std::slice::from_raw_parts_mut(ptr.add(data.offset as usize), end) };
        let dst = &mut dst[..end - data.offset as usize];
        let whole = [Rectangle::from_size(region.size)];
        for rect in only.unwrap_or(&whole) {
            if let Some(rect) = rect.intersection(whole[0]) {
                blit(dst, stride as usize, image, region, rect);
            }
        }
        if let Some(cursor) = cursor {
            blend_cursor(dst, stride as usize, region, cursor);
        }
        Ok(())
    });
    match result {
        Ok(inner) => inner,
        Err(BufferAccessError::NotManaged) => Err(CopyError::NotShm),
        Err(_) => Err(CopyError::Access),
    }
}

/// Writes `rect` of the buffer (buffer coordinates, inside `region`'s size) from `image`,
/// where the buffer shows `region` of it; what lies outside the image is black.
fn blit(
    dst: &mut [u8],
    stride: usize,
    image: &Image<'_>,
    region: Rectangle<i32, Physical>,
    rect: Rectangle<i32, Physical>,
) {
    let source = Rectangle::new(region.loc + rect.loc, rect.size);
    let clipped = source.intersection(Rectangle::from_size(image.size));
    for y in rect.loc.y..rect.loc.y + rect.size.h {
        let dst_row =
            &mut dst[y as usize * stride + rect.loc.x as usize * 4..][..rect.size.w as usize * 4];
        let src_y = region.loc.y + y;
        match clipped {
            Some(c) if src_y >= c.loc.y && src_y < c.loc.y + c.size.h => {
                let left = (c.loc.x - source.loc.x) as usize * 4;
                let width = c.size.w as usize * 4;
                dst_row[..left].fill(0);
                if let Some(src) = image.row(src_y, c.loc.x, c.size.w) {
                    dst_row[left..left + width].copy_from_slice(src);
                }
                dst_row[left + width..].fill(0);
            }
            _ => dst_row.fill(0),
        }
    }
}

/// Premultiplied "over" of the cursor image onto a copy of `region`.
fn blend_cursor(
    dst: &mut [u8],
    stride: usize,
    region: Rectangle<i32, Physical>,
    cursor: &Cursor<'_>,
) {
    let Some((image, hotspot)) = cursor.image else {
        return;
    };
    let top_left = cursor.position - hotspot - region.loc;
    let Some(area) =
        Rectangle::new(top_left, image.size).intersection(Rectangle::from_size(region.size))
    else {
        return;
    };
    for y in area.loc.y..area.loc.y + area.size.h {
        let Some(src) = image.row(y - top_left.y, area.loc.x - top_left.x, area.size.w) else {
            continue;
        };
        let dst_row = &mut dst[y as usize * stride + area.loc.x as usize * 4..][..src.len()];
        for (d, s) in dst_row.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
            let inv = 255 - u16::from(s[3]);
            for i in 0..4 {
                d[i] = (u16::from(s[i]) + (u16::from(d[i]) * inv + 127) / 255).min(255) as u8;
            }
        }
    }
}

/// Damage accumulated for one capture consumer since its last delivered frame.
#[derive(Debug, Clone)]
pub struct DamageTracker {
    full: bool,
    rects: Vec<Rectangle<i32, Physical>>,
}

/// More rectangles than this collapse into their bounding box.
const MAX_RECTS: usize = 32;

impl DamageTracker {
    /// A consumer that has seen nothing yet: its first frame is all damage.
    pub fn new_full() -> Self {
        Self {
            full: true,
            rects: Vec::new(),
        }
    }

    pub fn add(&mut self, damage: &[Rectangle<i32, Physical>]) {
        if self.full {
            return;
        }
        self.rects.extend(damage.iter().filter(|r| !r.is_empty()));
        if self.rects.len() > MAX_RECTS {
            let bbox = self.rects.iter().copied().reduce(|a, b| a.merge(b));
            self.rects = bbox.into_iter().collect();
        }
    }

    /// Marks everything damaged (a mode change, a new consumer).
    pub fn set_full(&mut self) {
        self.full = true;
        self.rects.clear();
    }

    pub fn is_empty(&self) -> bool {
        !self.full && self.rects.is_empty()
    }

    /// The accumulated damage clipped to `bounds`, leaving it in the tracker.
    pub fn peek(&self, bounds: Rectangle<i32, Physical>) -> Vec<Rectangle<i32, Physical>> {
        if self.full {
            return vec![bounds];
        }
        self.rects
            .iter()
            .filter_map(|r| r.intersection(bounds))
            .collect()
    }

    /// The accumulated damage clipped to `bounds`, leaving the tracker empty.
    pub fn take(&mut self, bounds: Rectangle<i32, Physical>) -> Vec<Rectangle<i32, Physical>> {
        let rects = self.peek(bounds);
        self.full = false;
        self.rects.clear();
        rects
    }
}

/// Splits a monotonic time into the `tv_sec_hi`, `tv_sec_lo`, `tv_nsec` triple the capture
/// protocols use.
pub fn timespec(time: Duration) -> (u32, u32, u32) {
    let secs = time.as_secs();
    ((secs >> 32) as u32, secs as u32, time.subsec_nanos())
}

/// The output's size in buffer pixels, `None` while it has no mode.
pub fn output_buffer_size(output: &Output) -> Option<Size<i32, Physical>> {
    let mode = output.current_mode()?;
    Some(output.current_transform().transform_size(mode.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_starts_full_then_accumulates_and_clips() {
        let bounds = Rectangle::<i32, Physical>::from_size((100, 50).into());
        let mut t = DamageTracker::new_full();
        t.add(&[Rectangle::new((1, 1).into(), (2, 2).into())]);
        assert_eq!(t.take(bounds), vec![bounds]);
        assert!(t.is_empty());
        t.add(&[Rectangle::new((90, 40).into(), (20, 20).into())]);
        assert!(!t.is_empty());
        assert_eq!(
            t.take(bounds),
            vec![Rectangle::new((90, 40).into(), (10, 10).into())]
        );
        for i in 0..40 {
            t.add(&[Rectangle::new((i, 0).into(), (1, 1).into())]);
        }
        // Past MAX_RECTS the list collapses into a bounding box: still covers everything.
        let rects = t.take(bounds);
        assert!(rects.len() <= MAX_RECTS, "{rects:?}");
        let bbox = rects.into_iter().reduce(|a, b| a.merge(b));
        assert_eq!(bbox, Some(Rectangle::new((0, 0).into(), (40, 1).into())));
    }

    #[test]
    fn cursor_blends_over_the_copy_at_its_hotspot() {
        let cursor_px = [0u8, 0, 255, 255, 0, 0, 0, 0];
        let cursor = Cursor {
            position: (3, 1).into(),
            image: Some((
                Image {
                    size: (2, 1).into(),
                    stride: 8,
                    pixels: &cursor_px,
                },
                (1, 0).into(),
            )),
        };
        let mut dst = vec![10u8; 4 * 4 * 2];
        blend_cursor(
            &mut dst,
            16,
            Rectangle::new((0, 0).into(), (4, 2).into()),
            &cursor,
        );
        // The opaque pixel lands at x = 3 - 1 = 2 on row 1; the transparent one leaves x = 3.
        assert_eq!(&dst[16 + 8..16 + 12], &[0, 0, 255, 255]);
        assert_eq!(&dst[16 + 12..16 + 16], &[10, 10, 10, 10]);
        assert_eq!(&dst[..16], &[10u8; 16]);
    }
}
