//! Xwayland: X11 applications as windows of the same layout.
//!
//! Debian 12's Xwayland (22.1.9) predates `xwayland_shell_v1`, so the X11 window manager
//! never learns which `wl_surface` draws an X11 window. Xwayland still sends the legacy
//! `WL_SURFACE_ID` client message; smithay records that id, and
//! [`Skerry::resolve_x11_surfaces`] looks the surface up by protocol id on the Xwayland
//! client whenever that client commits. Newer Xwayland versions associate the surface through
//! `xwayland_shell_v1` and `X11Surface::wl_surface` directly.

use std::{os::fd::OwnedFd, process::Stdio};

use smithay::{
    delegate_xwayland_shell,
    desktop::Window,
    reexports::wayland_server::{Resource, protocol::wl_surface::WlSurface},
    utils::{Logical, Rectangle},
    wayland::{
        compositor::CompositorHandler,
        selection::{
            SelectionTarget,
            data_device::{
                clear_data_device_selection, current_data_device_selection_userdata,
                request_data_device_client_selection, set_data_device_selection,
            },
            primary_selection::{
                clear_primary_selection, current_primary_selection_userdata,
                request_primary_client_selection, set_primary_selection,
            },
        },
        xwayland_shell::{XWaylandShellHandler, XWaylandShellState},
    },
    xwayland::{
        X11Surface, X11Wm, XWayland, XWaylandEvent, XwmHandler,
        xwm::{Reorder, ResizeEdge, XwmId},
    },
};

use crate::state::{Managed, Skerry};

impl Skerry {
    /// Spawns Xwayland; once it is ready the window manager attaches, `DISPLAY` is logged and
    /// `on_ready` runs (with the display number, or `None` if Xwayland failed).
    pub fn start_xwayland(&mut self, on_ready: impl FnOnce(&mut Skerry, Option<u32>) + 'static) {
        let dir = std::path::Path::new(crate::x11_dir::X11_UNIX_DIR);
        match crate::x11_dir::ensure(dir, rustix::process::geteuid().as_raw()) {
            Ok(crate::x11_dir::Prepared::Created) => {
                tracing::info!("created {} (mode 1777) for X11 sockets", dir.display());
            }
            Ok(crate::x11_dir::Prepared::Existing) => {}
            Err(e) => {
                tracing::warn!("cannot start Xwayland, X11 applications will not run: {e}");
                on_ready(self, None);
                return;
            }
        }
        // A supervisor names the display it expects (`DISPLAY=:N`); take it when free, else
        // any free one (announced with READY=1).
        let wanted = std::env::var("DISPLAY")
            .ok()
            .and_then(|d| d.strip_prefix(':')?.split('.').next()?.parse::<u32>().ok());
        // Clients need a cookie: Xwayland starts through the compositor's link (crate::xauth).
        let launch = match crate::xauth::prepare(
            &self.config.runtime_dir,
            self.config.xwayland_launcher.as_deref(),
        ) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(
                    "cannot give Xwayland a cookie ({e}): every local program may connect to it"
                );
                None
            }
        };
        let env = launch.as_ref().map(|l| l.env.clone()).unwrap_or_default();
        let mut authority = launch.map(|l| l.authority);
        let spawn = |display: Option<u32>| {
            XWayland::spawn(
                &self.display_handle,
                display,
                env.clone(),
                true,
                Stdio::null(),
                Stdio::null(),
                |_| (),
            )
        };
        let spawned = match wanted.map(|d| spawn(Some(d))) {
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => {
                tracing::info!(
                    "X display :{} is taken ({e}); picking a free one",
                    wanted.unwrap_or_default()
                );
                spawn(None)
            }
            None => spawn(None),
        };
        let (xwayland, client) = match spawned {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("cannot start Xwayland, X11 applications will not run: {e}");
                on_ready(self, None);
                return;
            }
        };
        self.xwayland_client = Some(client.clone());
        let mut on_ready = Some(on_ready);
        let inserted = self
            .loop_handle
            .insert_source(xwayland, move |event, _, state| {
                let display = match event {
                    XWaylandEvent::Ready {
                        x11_socket,
                        display_number,
                    } => {
                        state.client_compositor_state(&client).set_client_scale(1.0);
                        match X11Wm::start_wm(state.loop_handle.clone(), x11_socket, client.clone())
                        {
                            Ok(wm) => {
                                state.xwm = Some(wm);
                                state.xdisplay = Some(display_number);
                                state.xauthority = authority.take();
                                tracing::info!("Xwayland ready on DISPLAY=:{display_number}");
                                state.write_stats_file();
                                Some(display_number)
                            }
                            Err(e) => {
                                tracing::warn!("cannot attach the X11 window manager: {e}");
                                None
                            }
                        }
                    }
                    XWaylandEvent::Error => {
                        tracing::warn!("Xwayland failed to start");
                        None
                    }
                };
                if let Some(f) = on_ready.take() {
                    f(state, display);
                }
            });
        if let Err(e) = inserted {
            tracing::warn!("cannot watch Xwayland: {e}");
        }
    }

    /// Finds the `wl_surface` of X11 windows that only announced it by `WL_SURFACE_ID`.
    pub fn resolve_x11_surfaces(&mut self) {
        let Some(client) = self.xwayland_client.clone() else {
            return;
        };
        let dh = self.display_handle.clone();
        let lookup = |m: &mut Managed| -> bool {
            if m.x11_surface.as_ref().is_some_and(|s| s.is_alive()) {
                return false;
            }
            let Some(x11) = m.window.x11_surface() else {
                return false;
            };
            if x11.wl_surface().is_some() {
                return false;
            }
            #[allow(deprecated)] // the only association old Xwayland offers
            let Some(id) = x11.wl_surface_id() else {
                return false;
            };
            match client.object_from_protocol_id::<WlSurface>(&dh, id) {
                Ok(surface) => {
                    tracing::debug!(
                        window = x11.window_id(),
                        surface = id,
                        "X11 window drawn by surface"
                    );
                    m.x11_surface = Some(surface);
                    true
                }
                Err(_) => false,
            }
        };
        let mut found = Vec::new();
        for (id, m) in self.windows.iter_mut() {
            if lookup(m) {
                found.push(*id);
            }
        }
        for m in self.override_redirect.iter_mut() {
            lookup(m);
        }
        for m in self.windows.values() {
            if found
                .iter()
                .any(|id| self.windows.get(id).is_some_and(|f| f.window == m.window))
                && let Some(s) = m.surface()
            {
                self.send_scale(&s);
            }
        }
        if !found.is_empty() {
            self.apply_layout();
        }
    }

    fn x11_window_id(&self, window: &X11Surface) -> Option<crate::layout::WindowId> {
        self.windows
            .iter()
            .find(|(_, m)| m.window.x11_surface() == Some(window))
            .map(|(id, _)| *id)
    }

    fn forget_x11(&mut self, window: &X11Surface) {
        if let Some(id) = self.x11_window_id(window) {
            self.unmap_window(id);
        }
        self.override_redirect
            .retain(|m| m.window.x11_surface() != Some(window));
        self.schedule_render();
    }
}

fn unmanaged(window: X11Surface) -> Managed {
    Managed {
        window: Window::new_x11_window(window),
        x11_surface: None,
        foreign: None,
        title: String::new(),
        app_id: String::new(),
        ssd: false,
    }
}

impl XwmHandler for Skerry {
    fn xwm_state(&mut self, _xwm: XwmId) -> &mut X11Wm {
        // Only called by the window manager itself, which exists once `xwm` is set.
        self.xwm
            .as_mut()
            .expect("X11 window manager callback without a window manager")
    }

    fn new_window(&mut self, _xwm: XwmId, _window: X11Surface) {}
    fn new_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn map_window_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Err(e) = window.set_mapped(true) {
            tracing::debug!("cannot map X11 window: {e}");
            return;
        }
        self.map_window(Window::new_x11_window(window), None);
        self.resolve_x11_surfaces();
    }

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.override_redirect.push(unmanaged(window));
        self.resolve_x11_surfaces();
        self.schedule_render();
    }

    fn unmapped_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.forget_x11(&window);
        if !window.is_override_redirect() {
            let _ = window.set_mapped(false);
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.forget_x11(&window);
    }

    fn configure_request(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        _x: Option<i32>,
        _y: Option<i32>,
        w: Option<u32>,
        h: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        match self.x11_window_id(&window) {
            Some(id) => {
                if let Some(ws) = self.layout.get(id) {
                    // X11 asks for its content size; the layout holds the frame.
                    let title_h = self.title_height(id);
                    let (cw, ch) = (ws.rect.w, ws.rect.h);
                    let w = w.map(|w| w as i32).unwrap_or(cw);
                    let h = h.map(|h| h as i32 + title_h).unwrap_or(ch);
                    self.layout.resize_window(id, w, h);
                }
                self.apply_layout();
            }
            None => {
                // Not mapped yet: grant the size; the layout places it on map.
                let mut geo = window.geometry();
                if let Some(w) = w {
                    geo.size.w = w as i32;
                }
                if let Some(h) = h {
                    geo.size.h = h as i32;
                }
                let _ = window.configure(geo);
            }
        }
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        _window: X11Surface,
        _geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        self.schedule_render();
    }

    fn maximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_maximized(id, true);
        }
    }

    fn unmaximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_maximized(id, false);
        }
    }

    fn fullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_fullscreen(id, true);
        }
    }

    fn unfullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_fullscreen(id, false);
        }
    }

    fn minimize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_minimized(id, true);
        }
    }

    fn unminimize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            self.set_window_minimized(id, false);
        }
    }

    fn resize_request(
        &mut self,
        _xwm: XwmId,
        _window: X11Surface,
        _button: u32,
        _edge: ResizeEdge,
    ) {
    }
    fn move_request(&mut self, _xwm: XwmId, _window: X11Surface, _button: u32) {}

    fn allow_selection_access(&mut self, _xwm: XwmId, _selection: SelectionTarget) -> bool {
        // X11 clients may read the clipboard only while one of them has keyboard focus.
        let focus = self.seat.get_keyboard().and_then(|k| k.current_focus());
        let xclient = self.xwayland_client.as_ref();
        focus.is_some_and(|s| s.client().as_ref() == xclient)
    }

    fn send_selection(
        &mut self,
        _xwm: XwmId,
        selection: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
    ) {
        let result = match selection {
            SelectionTarget::Clipboard => {
                request_data_device_client_selection(&self.seat, mime_type, fd)
                    .map_err(|e| e.to_string())
            }
            SelectionTarget::Primary => request_primary_client_selection(&self.seat, mime_type, fd)
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            tracing::debug!("cannot hand the Wayland selection to X11: {e}");
        }
    }

    fn new_selection(&mut self, _xwm: XwmId, selection: SelectionTarget, mime_types: Vec<String>) {
        match selection {
            SelectionTarget::Clipboard => {
                set_data_device_selection(&self.display_handle, &self.seat, mime_types, ())
            }
            SelectionTarget::Primary => {
                set_primary_selection(&self.display_handle, &self.seat, mime_types, ())
            }
        }
    }

    fn cleared_selection(&mut self, _xwm: XwmId, selection: SelectionTarget) {
        match selection {
            SelectionTarget::Clipboard => {
                if current_data_device_selection_userdata(&self.seat).is_some() {
                    clear_data_device_selection(&self.display_handle, &self.seat)
                }
            }
            SelectionTarget::Primary => {
                if current_primary_selection_userdata(&self.seat).is_some() {
                    clear_primary_selection(&self.display_handle, &self.seat)
                }
            }
        }
    }

    fn disconnected(&mut self, _xwm: XwmId) {
        tracing::warn!("X11 window manager lost its connection to Xwayland");
        self.xwm = None;
        self.xdisplay = None;
        // Every X11 window went with it.
        let x11: Vec<_> = self
            .windows
            .iter()
            .filter(|(_, m)| m.window.x11_surface().is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in x11 {
            self.unmap_window(id);
        }
        self.override_redirect.clear();
        self.schedule_render();
    }
}

impl XWaylandShellHandler for Skerry {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        &mut self.xwayland_shell_state
    }

    fn surface_associated(&mut self, _xwm: XwmId, _surface: WlSurface, _window: X11Surface) {
        self.apply_layout();
    }
}
delegate_xwayland_shell!(Skerry);
