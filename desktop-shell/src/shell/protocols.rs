//! Protocols smithay-client-toolkit does not wrap: the window list
//! (`zwlr_foreign_toplevel_manager_v1`) and fractional scaling (`wp_fractional_scale_v1`,
//! `wp_viewporter`).

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, QueueHandle, event_created_child};
use wayland_protocols::wp::fractional_scale::v1::client::{
    wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
    wp_fractional_scale_v1::{self, WpFractionalScaleV1},
};
use wayland_protocols::wp::viewporter::client::{
    wp_viewport::WpViewport, wp_viewporter::WpViewporter,
};
use wayland_protocols_wlr::foreign_toplevel::v1::client::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};

use super::Shell;

/// A window as the taskbar knows it.
#[derive(Debug, Clone)]
pub struct Toplevel {
    pub handle: ZwlrForeignToplevelHandleV1,
    pub title: String,
    pub app_id: String,
    pub activated: bool,
    pub minimized: bool,
    /// Set once the first `done` arrived, so half-described windows are not shown.
    pub ready: bool,
    pending: Pending,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    title: Option<String>,
    app_id: Option<String>,
    state: Option<(bool, bool)>,
}

impl Toplevel {
    fn new(handle: ZwlrForeignToplevelHandleV1) -> Self {
        Self {
            handle,
            title: String::new(),
            app_id: String::new(),
            activated: false,
            minimized: false,
            ready: false,
            pending: Pending::default(),
        }
    }
}

/// Decodes the `state` array (native-endian u32 values).
fn decode_state(raw: &[u8]) -> (bool, bool) {
    use zwlr_foreign_toplevel_handle_v1::State;
    let mut activated = false;
    let mut minimized = false;
    for chunk in raw.chunks_exact(4) {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if v == State::Activated as u32 {
            activated = true;
        } else if v == State::Minimized as u32 {
            minimized = true;
        }
    }
    (activated, minimized)
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for Shell {
    fn event(
        state: &mut Self,
        _: &ZwlrForeignToplevelManagerV1,
        event: zwlr_foreign_toplevel_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_foreign_toplevel_manager_v1::Event::Toplevel { toplevel } => {
                state.toplevels.push(Toplevel::new(toplevel));
            }
            zwlr_foreign_toplevel_manager_v1::Event::Finished => {
                tracing::info!("the compositor stopped sending the window list");
                state.toplevels.clear();
                state.mark_panel();
            }
            _ => {}
        }
    }

    event_created_child!(Shell, ZwlrForeignToplevelManagerV1, [
        zwlr_foreign_toplevel_manager_v1::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ZwlrForeignToplevelHandleV1, ()> for Shell {
    fn event(
        state: &mut Self,
        handle: &ZwlrForeignToplevelHandleV1,
        event: zwlr_foreign_toplevel_handle_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_foreign_toplevel_handle_v1::Event;
        let Some(idx) = state.toplevels.iter().position(|t| &t.handle == handle) else {
            return;
        };
        match event {
            Event::Title { title } => state.toplevels[idx].pending.title = Some(title),
            Event::AppId { app_id } => state.toplevels[idx].pending.app_id = Some(app_id),
            Event::State { state: raw } => {
                state.toplevels[idx].pending.state = Some(decode_state(&raw));
            }
            Event::Done => {
                let t = &mut state.toplevels[idx];
                let p = std::mem::take(&mut t.pending);
                if let Some(title) = p.title {
                    t.title = title;
                }
                if let Some(app_id) = p.app_id {
                    t.app_id = app_id;
                }
                if let Some((a, m)) = p.state {
                    t.activated = a;
                    t.minimized = m;
                }
                t.ready = true;
                state.mark_panel();
            }
            Event::Closed => {
                let t = state.toplevels.remove(idx);
                t.handle.destroy();
                state.mark_panel();
            }
            _ => {}
        }
    }
}

impl Dispatch<WpFractionalScaleManagerV1, ()> for Shell {
    fn event(
        _: &mut Self,
        _: &WpFractionalScaleManagerV1,
        _: <WpFractionalScaleManagerV1 as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WpFractionalScaleV1, WlSurface> for Shell {
    fn event(
        state: &mut Self,
        _: &WpFractionalScaleV1,
        event: wp_fractional_scale_v1::Event,
        surface: &WlSurface,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_fractional_scale_v1::Event::PreferredScale { scale } = event {
            let scale = scale as f64 / 120.0;
            if let Some(s) = state.surface_mut(surface)
                && s.fractional != Some(scale)
            {
                tracing::debug!(role = ?s.role, scale, "fractional scale");
                s.fractional = Some(scale);
                s.dirty = true;
            }
        }
    }
}

impl Dispatch<WpViewporter, ()> for Shell {
    fn event(
        _: &mut Self,
        _: &WpViewporter,
        _: <WpViewporter as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WpViewport, ()> for Shell {
    fn event(
        _: &mut Self,
        _: &WpViewport,
        _: <WpViewport as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_array_decoding() {
        use zwlr_foreign_toplevel_handle_v1::State;
        let mut raw = Vec::new();
        raw.extend((State::Maximized as u32).to_ne_bytes());
        raw.extend((State::Activated as u32).to_ne_bytes());
        assert_eq!(decode_state(&raw), (true, false));
        raw.extend((State::Minimized as u32).to_ne_bytes());
        assert_eq!(decode_state(&raw), (true, true));
        assert_eq!(decode_state(&[]), (false, false));
    }
}
