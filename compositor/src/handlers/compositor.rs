//! wl_compositor, wl_subcompositor, wl_shm and buffer bookkeeping: every surface commit
//! lands here and is routed to the shell that owns the surface's role.

use smithay::{
    backend::renderer::utils::{on_commit_buffer_handler, with_renderer_surface_state},
    delegate_compositor, delegate_shm,
    desktop::{PopupKind, layer_map_for_output},
    reexports::wayland_server::{
        Client, Resource,
        protocol::{wl_buffer, wl_surface::WlSurface},
    },
    wayland::{
        buffer::BufferHandler,
        compositor::{
            CompositorClientState, CompositorHandler, CompositorState, get_parent,
            is_sync_subsurface, with_states,
        },
        shell::{wlr_layer::LayerSurfaceData, xdg::XdgToplevelSurfaceData},
        shm::{ShmHandler, ShmState},
    },
};

use crate::state::{ClientState, Skerry};

/// Whether the surface has a buffer attached (is mapped, for shells that map on buffer).
pub(crate) fn has_buffer(surface: &WlSurface) -> bool {
    with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false)
}

impl CompositorHandler for Skerry {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        // Clients are always inserted with `ClientState` (Xwayland's too); a default keeps a
        // foreign client from panicking the compositor.
        static FALLBACK: std::sync::OnceLock<CompositorClientState> = std::sync::OnceLock::new();
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor_state,
            None => match client.get_data::<smithay::xwayland::XWaylandClientData>() {
                Some(data) => &data.compositor_state,
                None => FALLBACK.get_or_init(CompositorClientState::default),
            },
        }
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);

        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(id) = self.window_for_surface(&root) {
                let window = self.windows.get(&id).map(|m| m.window.clone());
                if let Some(window) = window {
                    window.on_commit();
                    if &root == surface && !has_buffer(surface) && window.toplevel().is_some() {
                        // A null buffer unmaps an xdg toplevel; it may map again later.
                        self.unmap_window(id);
                        self.pending_windows.push(window);
                    } else {
                        self.window_committed(id);
                    }
                }
            }
        }

        self.xdg_commit(surface);
        self.layer_commit(surface);
        if self
            .xwayland_client
            .as_ref()
            .is_some_and(|c| surface.client().as_ref() == Some(c))
        {
            self.resolve_x11_surfaces();
        }
        self.schedule_render();
    }
}

impl Skerry {
    /// xdg-shell commit: initial configure, mapping on first buffer, popups.
    fn xdg_commit(&mut self, surface: &WlSurface) {
        if let Some(pos) = self
            .pending_windows
            .iter()
            .position(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
        {
            let window = self.pending_windows[pos].clone();
            let Some(toplevel) = window.toplevel() else {
                return;
            };
            let initial_sent = with_states(surface, |states| {
                states
                    .data_map
                    .get::<XdgToplevelSurfaceData>()
                    .and_then(|d| d.lock().ok().map(|d| d.initial_configure_sent))
                    .unwrap_or(true)
            });
            if !initial_sent {
                self.send_scale(surface);
                if self.layout.single_app() {
                    let out = self.layout.output();
                    toplevel.with_pending_state(|state| {
                        state.size = Some((out.w, out.h).into());
                        state.states.set(
                            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State::Fullscreen,
                        );
                    });
                }
                toplevel.send_configure();
            } else if has_buffer(surface) {
                self.pending_windows.remove(pos);
                window.on_commit();
                self.map_window(window, None);
                self.send_scale(surface);
            }
        }

        self.popups.commit(surface);
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface)
            && !popup.is_initial_configure_sent()
            && let Err(e) = popup.send_configure()
        {
            tracing::debug!("popup initial configure: {e}");
        }
    }

    /// wlr-layer-shell commit: initial configure and re-arranging exclusive zones.
    fn layer_commit(&mut self, surface: &WlSurface) {
        let initial = {
            let map = layer_map_for_output(&self.output);
            let Some(layer) =
                map.layer_for_surface(surface, smithay::desktop::WindowSurfaceType::TOPLEVEL)
            else {
                return;
            };
            let initial_sent = with_states(surface, |states| {
                states
                    .data_map
                    .get::<LayerSurfaceData>()
                    .and_then(|d| d.lock().ok().map(|d| d.initial_configure_sent))
                    .unwrap_or(true)
            });
            (!initial_sent).then(|| layer.clone())
        };
        self.arrange_layers();
        if let Some(layer) = initial {
            self.send_scale(surface);
            layer.layer_surface().send_configure();
        }
        self.apply_layout();
    }
}

impl BufferHandler for Skerry {
    fn buffer_destroyed(&mut self, _buffer: &wl_buffer::WlBuffer) {}
}

impl ShmHandler for Skerry {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}

delegate_compositor!(Skerry);
delegate_shm!(Skerry);
