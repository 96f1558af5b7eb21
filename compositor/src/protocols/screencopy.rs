//! `zwlr_screencopy_manager_v1` (version 3): the capture protocol grim, wayvnc and OBS
//! (through xdg-desktop-portal-wlr) speak.
//!
//! A frame is answered from the next [`RenderedOutput`] the compositor feeds in. With
//! `copy_with_damage` the frame waits until the output changed since that client's last
//! copy of it, so an idle desktop costs a polling client nothing; damage is tracked per
//! client and output because the protocol defines it that way. Only shm buffers are
//! offered.

use std::sync::atomic::{AtomicBool, Ordering};

use smithay::output::{Output, WeakOutput};
use smithay::utils::{Logical, Physical, Rectangle};
use wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm};
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource};

use super::capture::{self, Cursor, DamageTracker, RenderedOutput};

const VERSION: u32 = 3;

/// The compositor side of screencopy.
pub trait ScreencopyHandler:
    GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData>
    + Dispatch<ZwlrScreencopyManagerV1, ()>
    + Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData>
    + 'static
{
    fn screencopy_state(&mut self) -> &mut ScreencopyManagerState;

    /// A frame of `output` is waiting: the compositor should call
    /// [`ScreencopyManagerState::on_output_rendered`] soon, even if nothing changed.
    fn screencopy_frame_requested(&mut self, _output: &Output) {}
}

/// Global data: which clients may see the global.
pub struct ScreencopyGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for ScreencopyGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreencopyGlobalData")
            .finish_non_exhaustive()
    }
}

/// What a frame captures, fixed when it is created.
#[derive(Debug)]
pub struct ScreencopyFrameData {
    /// `None` when the output was unknown or had no mode: the frame only ever fails.
    target: Option<(WeakOutput, Rectangle<i32, Physical>)>,
    overlay_cursor: bool,
    used: AtomicBool,
}

#[derive(Debug)]
struct PendingFrame {
    frame: ZwlrScreencopyFrameV1,
    buffer: WlBuffer,
    output: WeakOutput,
    region: Rectangle<i32, Physical>,
    overlay_cursor: bool,
    with_damage: bool,
}

#[derive(Debug)]
struct ClientDamage {
    client: ClientId,
    output: WeakOutput,
    tracker: DamageTracker,
    /// Whether the client's last frame had the cursor painted in: then cursor moves are
    /// damage to it.
    overlay_cursor: bool,
}

/// State of the screencopy global: frames waiting for a render and per-client damage.
#[derive(Debug)]
pub struct ScreencopyManagerState {
    global: GlobalId,
    display: DisplayHandle,
    pending: Vec<PendingFrame>,
    damage: Vec<ClientDamage>,
    /// Where the cursor image was last seen on each output.
    cursor_rects: Vec<(WeakOutput, Option<Rectangle<i32, Physical>>)>,
}

impl ScreencopyManagerState {
    pub fn new<D: ScreencopyHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let global = display.create_global::<D, ZwlrScreencopyManagerV1, _>(
            VERSION,
            ScreencopyGlobalData {
                filter: Box::new(filter),
            },
        );
        Self {
            global,
            display: display.clone(),
            pending: Vec::new(),
            damage: Vec::new(),
            cursor_rects: Vec::new(),
        }
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// Whether a frame of `output` waits for [`Self::on_output_rendered`] regardless of
    /// damage (a plain `copy`, or a first `copy_with_damage`).
    pub fn wants_frame(&self, output: &Output) -> bool {
        self.pending.iter().any(|p| {
            p.output == *output
                && (!p.with_damage || self.tracker(&p.frame, output).is_none_or(|t| !t.is_empty()))
        })
    }

    fn tracker(&self, frame: &ZwlrScreencopyFrameV1, output: &Output) -> Option<&DamageTracker> {
        let client = frame.client()?.id();
        self.damage
            .iter()
            .find(|d| d.client == client && d.output == *output)
            .map(|d| &d.tracker)
    }

    /// Feeds one render of an output: accumulates its damage and completes the frames that
    /// can be answered now.
    pub fn on_output_rendered(&mut self, rendered: &RenderedOutput<'_>) {
        let display = self.display.clone();
        self.damage.retain(|d| {
            d.output.is_alive()
                && display
                    .backend_handle()
                    .get_client_data(d.client.clone())
                    .is_ok()
        });
        for entry in self
            .damage
            .iter_mut()
            .filter(|d| d.output == *rendered.output)
        {
            entry.tracker.add(rendered.damage);
        }
        self.on_cursor_changed(rendered.output, rendered.cursor.as_ref());
        self.pending
            .retain(|p| p.frame.is_alive() && p.output.is_alive());

        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                p.output == *rendered.output
                    && (!p.with_damage
                        || self
                            .tracker(&p.frame, rendered.output)
                            .is_none_or(|t| !t.is_empty()))
            });
        self.pending = waiting;
        for frame in ready {
            self.complete(frame, rendered);
        }
    }

    fn complete(&mut self, pending: PendingFrame, rendered: &RenderedOutput<'_>) {
        let cursor = rendered.cursor.as_ref().filter(|_| pending.overlay_cursor);
        if let Err(err) = capture::copy_to_shm(
            &pending.buffer,
            &rendered.image,
            pending.region,
            None,
            cursor,
        ) {
            tracing::debug!(%err, "screencopy frame failed");
            pending.frame.failed();
            return;
        }
        let damage = match pending.frame.client() {
            Some(client) => self.take_damage(
                client.id(),
                rendered.output,
                pending.region,
                pending.overlay_cursor,
            ),
            None => Vec::new(),
        };
        pending
            .frame
            .flags(zwlr_screencopy_frame_v1::Flags::empty());
        if pending.with_damage {
            for rect in damage {
                let rect = Rectangle::new(rect.loc - pending.region.loc, rect.size);
                pending.frame.damage(
                    rect.loc.x as u32,
                    rect.loc.y as u32,
                    rect.size.w as u32,
                    rect.size.h as u32,
                );
            }
        }
        let (hi, lo, nsec) = capture::timespec(rendered.time);
        pending.frame.ready(hi, lo, nsec);
    }

    /// The cursor moved, changed or hid on `output` (`None`: not on it). Clients whose
    /// frames carry the cursor see its old and new places as damage; returns whether a
    /// waiting frame of `output` can now be answered.
    pub fn on_cursor_changed(&mut self, output: &Output, cursor: Option<&Cursor<'_>>) -> bool {
        let rect = cursor.and_then(|c| {
            c.image
                .map(|(image, hotspot)| Rectangle::new(c.position - hotspot, image.size))
        });
        self.cursor_rects.retain(|(o, _)| o.is_alive());
        let old = match self.cursor_rects.iter_mut().find(|(o, _)| o == output) {
            Some((_, seen)) => std::mem::replace(seen, rect),
            None => {
                self.cursor_rects.push((output.downgrade(), rect));
                None
            }
        };
        if old != rect {
            let rects: Vec<_> = [old, rect].into_iter().flatten().collect();
            for entry in self
                .damage
                .iter_mut()
                .filter(|d| d.overlay_cursor && d.output == *output)
            {
                entry.tracker.add(&rects);
            }
        }
        self.wants_frame(output)
    }

    /// The client's damage for `output` within `region` since its last copy; its first copy
    /// is all damage.
    fn take_damage(
        &mut self,
        client: ClientId,
        output: &Output,
        region: Rectangle<i32, Physical>,
        overlay_cursor: bool,
    ) -> Vec<Rectangle<i32, Physical>> {
        match self
            .damage
            .iter_mut()
            .find(|d| d.client == client && d.output == *output)
        {
            Some(entry) => {
                entry.overlay_cursor = overlay_cursor;
                entry.tracker.take(region)
            }
            None => {
                let mut tracker = DamageTracker::new_full();
                let rects = tracker.take(region);
                self.damage.push(ClientDamage {
                    client,
                    output: output.downgrade(),
                    tracker,
                    overlay_cursor,
                });
                rects
            }
        }
    }

    /// Marks every client's view of `output` stale (after a mode change).
    pub fn output_changed(&mut self, output: &Output) {
        for entry in self.damage.iter_mut().filter(|d| d.output == *output) {
            entry.tracker.set_full();
        }
        // Frames negotiated for the old size can no longer be filled.
        let (stale, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.output == *output);
        self.pending = keep;
        for p in stale {
            p.frame.failed();
        }
    }
}

/// Physical capture region for a logical `region` of `output` (the whole output if `None`).
fn capture_region(
    output: &Output,
    region: Option<Rectangle<i32, Logical>>,
) -> Option<Rectangle<i32, Physical>> {
    let size = capture::output_buffer_size(output)?;
    let full = Rectangle::from_size(size);
    let Some(region) = region else {
        return Some(full);
    };
    let scale = output.current_scale().fractional_scale();
    let physical = region.to_f64().to_physical(scale).to_i32_round();
    physical.intersection(full).filter(|r| !r.is_empty())
}

impl<D: ScreencopyHandler> GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData, D>
    for ScreencopyManagerState
{
    fn bind(
        _state: &mut D,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _global_data: &ScreencopyGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &ScreencopyGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: ScreencopyHandler> Dispatch<ZwlrScreencopyManagerV1, (), D> for ScreencopyManagerState {
    fn request(
        _state: &mut D,
        _client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let (frame, overlay_cursor, output, region) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput {
                frame,
                overlay_cursor,
                output,
            } => (frame, overlay_cursor, output, None),
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                overlay_cursor,
                output,
                x,
                y,
                width,
                height,
            } => (
                frame,
                overlay_cursor,
                output,
                Some(Rectangle::new((x, y).into(), (width, height).into())),
            ),
            zwlr_screencopy_manager_v1::Request::Destroy => return,
            _ => return,
        };
        let target = Output::from_resource(&output)
            .and_then(|o| capture_region(&o, region).map(|r| (o.downgrade(), r)));
        let frame = data_init.init(
            frame,
            ScreencopyFrameData {
                target: target.clone(),
                overlay_cursor: overlay_cursor != 0,
                used: AtomicBool::new(false),
            },
        );
        let Some((_, rect)) = target else {
            frame.failed();
            return;
        };
        let (w, h) = (rect.size.w as u32, rect.size.h as u32);
        // One shm format only: clients such as grim 1.4 copy on every `buffer` event, and
        // a second copy on one frame is a protocol error. Buffers in argb8888 are accepted
        // too, having the same layout.
        frame.buffer(wl_shm::Format::Xrgb8888, w, h, w * 4);
        if frame.version() >= 3 {
            frame.buffer_done();
        }
    }
}

impl<D: ScreencopyHandler> Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData, D>
    for ScreencopyManagerState
{
    fn request(
        state: &mut D,
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &ScreencopyFrameData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            zwlr_screencopy_frame_v1::Request::Destroy => return,
            _ => return,
        };
        if data.used.swap(true, Ordering::SeqCst) {
            frame.post_error(
                zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                "copy was already requested on this frame",
            );
            return;
        }
        let Some((output, region)) = data
            .target
            .as_ref()
            .and_then(|(o, r)| Some((o.upgrade()?, *r)))
        else {
            frame.failed();
            return;
        };
        state.screencopy_state().pending.push(PendingFrame {
            frame: frame.clone(),
            buffer,
            output: output.downgrade(),
            region,
            overlay_cursor: data.overlay_cursor,
            with_damage,
        });
        state.screencopy_frame_requested(&output);
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        frame: &ZwlrScreencopyFrameV1,
        _data: &ScreencopyFrameData,
    ) {
        state
            .screencopy_state()
            .pending
            .retain(|p| p.frame != *frame);
    }
}

/// Delegates screencopy to [`ScreencopyManagerState`]; implement [`ScreencopyHandler`].
#[macro_export]
macro_rules! delegate_screencopy {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1:
                $crate::protocols::screencopy::ScreencopyGlobalData
        ] => $crate::protocols::screencopy::ScreencopyManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1: ()
        ] => $crate::protocols::screencopy::ScreencopyManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1:
                $crate::protocols::screencopy::ScreencopyFrameData
        ] => $crate::protocols::screencopy::ScreencopyManagerState);
    };
}
