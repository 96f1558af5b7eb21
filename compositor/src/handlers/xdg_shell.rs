//! xdg-shell (toplevels and popups), xdg-decoration and xdg-activation.
//!
//! Toplevel requests (maximize, fullscreen, minimize, interactive move/resize) are turned into
//! layout operations; popups are placed by their positioner, constrained to the output.

use smithay::{
    delegate_xdg_activation, delegate_xdg_decoration, delegate_xdg_shell,
    desktop::{
        PopupKeyboardGrab, PopupKind, PopupManager, PopupPointerGrab, PopupUngrabStrategy, Window,
        find_popup_root_surface, get_popup_toplevel_coords,
    },
    input::{Seat, pointer::Focus},
    reexports::{
        wayland_protocols::xdg::{
            decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode as DecorationMode,
            shell::server::xdg_toplevel,
        },
        wayland_server::protocol::{wl_output::WlOutput, wl_seat, wl_surface::WlSurface},
    },
    utils::{Rectangle, Serial},
    wayland::{
        shell::xdg::{
            PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
            decoration::XdgDecorationHandler,
        },
        xdg_activation::{
            XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
        },
    },
};

use crate::{grabs::MoveResizeGrab, state::Skerry};

impl XdgShellHandler for Skerry {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        // Mapped once the client commits a buffer (see handlers/compositor.rs).
        self.pending_windows
            .push(Window::new_wayland_window(surface));
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.pending_windows
            .retain(|w| w.toplevel().is_some_and(|t| t != &surface));
        if let Some(id) = self.window_for_surface(surface.wl_surface()) {
            self.unmap_window(id);
        }
    }

    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        self.unconstrain_popup(&surface);
        if let Err(e) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            tracing::debug!("cannot track popup: {e}");
        }
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        self.unconstrain_popup(&surface);
        surface.send_repositioned(token);
    }

    fn popup_destroyed(&mut self, _surface: PopupSurface) {
        self.schedule_render();
    }

    fn grab(&mut self, surface: PopupSurface, seat: wl_seat::WlSeat, serial: Serial) {
        // A menu grabs keyboard and pointer; a click outside it dismisses the popup chain.
        let Some(seat) = Seat::<Self>::from_resource(&seat) else {
            return;
        };
        let kind = PopupKind::Xdg(surface);
        let Ok(root) = find_popup_root_surface(&kind) else {
            return;
        };
        let mut grab = match self.popups.grab_popup(root, kind, &seat, serial) {
            Ok(grab) => grab,
            Err(e) => {
                tracing::debug!("popup grab refused: {e}");
                return;
            }
        };
        if let Some(keyboard) = seat.get_keyboard() {
            if keyboard.is_grabbed()
                && !(keyboard.has_grab(serial)
                    || keyboard.has_grab(grab.previous_serial().unwrap_or(serial)))
            {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            keyboard.set_focus(self, grab.current_grab(), serial);
            keyboard.set_grab(self, PopupKeyboardGrab::new(&grab), serial);
        }
        if let Some(pointer) = seat.get_pointer() {
            if pointer.is_grabbed()
                && !(pointer.has_grab(serial)
                    || pointer.has_grab(grab.previous_serial().unwrap_or_else(|| grab.serial())))
            {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            pointer.set_grab(self, PopupPointerGrab::new(&grab), serial, Focus::Keep);
        }
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(id) => self.set_window_maximized(id, true),
            None => send_initial_state(&surface, xdg_toplevel::State::Maximized),
        }
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.window_for_surface(surface.wl_surface()) {
            self.set_window_maximized(id, false);
        }
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(id) => self.set_window_fullscreen(id, true),
            None => send_initial_state(&surface, xdg_toplevel::State::Fullscreen),
        }
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.window_for_surface(surface.wl_surface()) {
            self.set_window_fullscreen(id, false);
        }
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.window_for_surface(surface.wl_surface()) {
            self.set_window_minimized(id, true);
        }
    }

    fn move_request(&mut self, surface: ToplevelSurface, seat: wl_seat::WlSeat, serial: Serial) {
        self.start_grab(surface.wl_surface(), &seat, serial, None);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        seat: wl_seat::WlSeat,
        serial: Serial,
        edges: xdg_toplevel::ResizeEdge,
    ) {
        self.start_grab(surface.wl_surface(), &seat, serial, Some(edges.into()));
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.window_for_surface(surface.wl_surface()) {
            self.window_committed(id);
        }
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        self.title_changed(surface);
    }
}
delegate_xdg_shell!(Skerry);

/// A maximize/fullscreen request before the window is mapped: honour it in the configure.
fn send_initial_state(surface: &ToplevelSurface, state: xdg_toplevel::State) {
    surface.with_pending_state(|s| {
        s.states.set(state);
    });
    if surface.is_initial_configure_sent() {
        surface.send_pending_configure();
    }
}

impl Skerry {
    /// Starts an interactive move (edges `None`) or resize if the pointer button that
    /// started it is still held on this client's surface.
    fn start_grab(
        &mut self,
        surface: &WlSurface,
        seat: &wl_seat::WlSeat,
        serial: Serial,
        edges: Option<crate::grabs::Edges>,
    ) {
        let Some(seat) = Seat::<Self>::from_resource(seat) else {
            return;
        };
        let Some(pointer) = seat.get_pointer() else {
            return;
        };
        if !pointer.has_grab(serial) {
            return;
        }
        let Some(start_data) = pointer.grab_start_data() else {
            return;
        };
        let same_client = start_data.focus.as_ref().is_some_and(|(f, _)| {
            smithay::reexports::wayland_server::Resource::id(f)
                .same_client_as(&smithay::reexports::wayland_server::Resource::id(surface))
        });
        let Some(id) = self.window_for_surface(surface) else {
            return;
        };
        let Some(ws) = self.layout.get(id) else {
            return;
        };
        if !same_client || self.layout.single_app() {
            return;
        }
        let grab = MoveResizeGrab {
            start_data,
            window: id,
            initial: ws.rect,
            edges,
        };
        pointer.set_grab(self, grab, serial, Focus::Clear);
    }

    fn set_decoration_mode(&mut self, toplevel: &ToplevelSurface, mode: DecorationMode) {
        toplevel.with_pending_state(|state| state.decoration_mode = Some(mode));
        match self.window_for_surface(toplevel.wl_surface()) {
            // Mapped: the frame changes, so the layout re-sends the configure.
            Some(id) => self.window_committed(id),
            None if toplevel.is_initial_configure_sent() => {
                toplevel.send_pending_configure();
            }
            None => {}
        }
    }

    /// Keeps a popup on the output (positioner constraint adjustment).
    fn unconstrain_popup(&self, popup: &PopupSurface) {
        let Ok(root) = find_popup_root_surface(&PopupKind::Xdg(popup.clone())) else {
            return;
        };
        let origin = if let Some(content) = self
            .window_for_surface(&root)
            .and_then(|id| self.content_rect(id))
        {
            (content.x, content.y).into()
        } else {
            let map = smithay::desktop::layer_map_for_output(&self.output);
            match map
                .layer_for_surface(&root, smithay::desktop::WindowSurfaceType::TOPLEVEL)
                .and_then(|l| map.layer_geometry(l))
            {
                Some(geo) => geo.loc,
                None => return,
            }
        };
        let out = self.layout.output();
        let mut target = Rectangle::new((out.x, out.y).into(), (out.w, out.h).into());
        target.loc -= get_popup_toplevel_coords(&PopupKind::Xdg(popup.clone()));
        target.loc -= origin;
        popup.with_pending_state(|state| {
            state.geometry = state.positioner.get_unconstrained_geometry(target);
        });
    }

    /// Dismisses every popup of a surface.
    pub fn dismiss_popups(&mut self, surface: &WlSurface) {
        for (popup, _) in PopupManager::popups_for_surface(surface) {
            let _ = PopupManager::dismiss_popup(surface, &popup);
        }
    }
}

// xdg-decoration: a client that asks for server-side decorations, or binds the protocol
// and states no preference, gets Skerry's title bar (see `decoration`); one that asks for
// client-side draws its own.
impl XdgDecorationHandler for Skerry {
    fn new_decoration(&mut self, toplevel: ToplevelSurface) {
        self.set_decoration_mode(&toplevel, DecorationMode::ServerSide);
    }

    fn request_mode(&mut self, toplevel: ToplevelSurface, mode: DecorationMode) {
        self.set_decoration_mode(&toplevel, mode);
    }

    fn unset_mode(&mut self, toplevel: ToplevelSurface) {
        self.set_decoration_mode(&toplevel, DecorationMode::ServerSide);
    }
}
delegate_xdg_decoration!(Skerry);

// xdg-activation: a window may take focus with a token made while its client had focus.
impl XdgActivationHandler for Skerry {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.xdg_activation_state
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let Some((serial, seat)) = data.serial else {
            return false;
        };
        let Some(keyboard) = self.seat.get_keyboard() else {
            return false;
        };
        Seat::from_resource(&seat).as_ref() == Some(&self.seat)
            && keyboard
                .last_enter()
                .is_some_and(|last| serial.is_no_older_than(&last))
    }

    fn request_activation(
        &mut self,
        _token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        if token_data.timestamp.elapsed().as_secs() < 10
            && let Some(id) = self.window_for_surface(&surface)
        {
            self.activate_window(id);
        }
    }
}
delegate_xdg_activation!(Skerry);
