//! The compositor's state: one field per protocol state (smithay's smallvil shape), the
//! window-management policy, the backend and the frame clock.
//!
//! Everything runs on one calloop event loop whose data is [`Skerry`] itself (Xwayland's
//! window manager requires that). Protocol handlers live under `handlers/`, one file per
//! protocol; this file only creates the globals and keeps the bookkeeping that ties protocol
//! windows to the pure [`Layout`].
//!
//! Adding a protocol module (as the `protocols/` modules do): add its `XxxState` as a field
//! here, create its global in [`Skerry::new`] next to the others, implement its handler trait
//! in a `handlers/` file named after the protocol and invoke its delegate macro there. The
//! operations such modules need are listed in `hooks.rs`.

use std::{
    collections::HashMap,
    ffi::OsString,
    sync::Arc,
    time::{Duration, Instant},
};

use smithay::{
    desktop::{PopupManager, Window},
    input::{Seat, SeatState, keyboard::XkbConfig, pointer::CursorImageStatus},
    output::{Mode as OutputMode, Output, PhysicalProperties, Scale, Subpixel},
    reexports::{
        calloop::{LoopHandle, LoopSignal, RegistrationToken},
        wayland_server::{
            Client, DisplayHandle, Resource,
            backend::{ClientData, ClientId, DisconnectReason},
            protocol::wl_surface::WlSurface,
        },
    },
    utils::{Clock, Monotonic, Transform},
    wayland::{
        compositor::{CompositorClientState, CompositorState},
        cursor_shape::CursorShapeManagerState,
        foreign_toplevel_list::{ForeignToplevelHandle, ForeignToplevelListState},
        fractional_scale::FractionalScaleManagerState,
        input_method::InputMethodManagerState,
        output::OutputManagerState,
        pointer_constraints::PointerConstraintsState,
        presentation::PresentationState,
        relative_pointer::RelativePointerManagerState,
        selection::{
            data_device::DataDeviceState,
            ext_data_control::DataControlState as ExtDataControlState,
            primary_selection::PrimarySelectionState,
            wlr_data_control::DataControlState as WlrDataControlState,
        },
        shell::{
            wlr_layer::WlrLayerShellState,
            xdg::{XdgShellState, decoration::XdgDecorationState},
        },
        shm::ShmState,
        text_input::TextInputManagerState,
        viewporter::ViewporterState,
        xdg_activation::XdgActivationState,
        xwayland_shell::XWaylandShellState,
    },
    xwayland::X11Wm,
};

use crate::{
    backend::Backend,
    config::Config,
    hooks::{FrameListener, Stats},
    layout::{Layout, WindowId},
};

/// Per-client data smithay needs.
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        tracing::debug!(?client_id, ?reason, "client disconnected");
    }
}

/// A window managed by the layout: an xdg toplevel or an X11 window.
#[derive(Debug, Clone)]
pub struct Managed {
    pub window: Window,
    /// For X11 windows on an Xwayland without `xwayland_shell_v1`: the surface found through
    /// the legacy `WL_SURFACE_ID` message.
    pub x11_surface: Option<WlSurface>,
    /// ext-foreign-toplevel-list entry.
    pub foreign: Option<ForeignToplevelHandle>,
    pub title: String,
    pub app_id: String,
    /// Whether the compositor draws this window's decorations (see `decoration`).
    pub ssd: bool,
}

impl Managed {
    /// The root surface drawn for this window, if it has one yet.
    pub fn surface(&self) -> Option<WlSurface> {
        if let Some(toplevel) = self.window.toplevel() {
            return Some(toplevel.wl_surface().clone());
        }
        self.window
            .x11_surface()
            .and_then(|x| x.wl_surface())
            .or_else(|| self.x11_surface.clone())
            .filter(|s| s.is_alive())
    }
}

/// The compositor.
pub struct Skerry {
    pub config: Config,
    pub display_handle: DisplayHandle,
    pub loop_handle: LoopHandle<'static, Skerry>,
    pub loop_signal: LoopSignal,
    pub socket_name: OsString,
    pub clock: Clock<Monotonic>,
    pub start_time: Instant,

    // Smithay protocol states, one per protocol.
    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    pub xdg_decoration_state: XdgDecorationState,
    pub layer_shell_state: WlrLayerShellState,
    pub xdg_activation_state: XdgActivationState,
    pub shm_state: ShmState,
    pub output_manager_state: OutputManagerState,
    pub seat_state: SeatState<Skerry>,
    pub data_device_state: DataDeviceState,
    pub primary_selection_state: PrimarySelectionState,
    pub ext_data_control_state: ExtDataControlState,
    pub wlr_data_control_state: WlrDataControlState,
    pub fractional_scale_state: FractionalScaleManagerState,
    pub viewporter_state: ViewporterState,
    pub presentation_state: PresentationState,
    pub foreign_toplevel_list_state: ForeignToplevelListState,
    pub cursor_shape_state: CursorShapeManagerState,
    pub xwayland_shell_state: XWaylandShellState,
    pub relative_pointer_state: RelativePointerManagerState,
    pub pointer_constraints_state: PointerConstraintsState,
    pub text_input_state: TextInputManagerState,
    pub input_method_state: InputMethodManagerState,
    /// Ours, not smithay's: its keys go through the compositor's shortcuts.
    pub virtual_keyboard_state: crate::protocols::virtual_keyboard::VirtualKeyboardManagerState,
    /// Which keymap the seat keyboard holds: its own (`None`) or a virtual keyboard's.
    pub keymap_source: Option<u64>,
    pub popups: PopupManager,
    pub seat: Seat<Skerry>,

    // Xwayland.
    pub xwm: Option<X11Wm>,
    pub xwayland_client: Option<Client>,
    pub xdisplay: Option<u32>,
    /// The Xauthority file X11 clients need (`XAUTHORITY`), when Xwayland has a cookie.
    pub xauthority: Option<std::path::PathBuf>,

    // Window management.
    pub layout: Layout,
    pub windows: HashMap<WindowId, Managed>,
    /// xdg toplevels created but not mapped yet (no buffer committed).
    pub pending_windows: Vec<Window>,
    /// X11 override-redirect windows (menus, tooltips): placed by X11, drawn above windows.
    pub override_redirect: Vec<Managed>,
    next_window_id: u64,
    /// Title-bar images and element ids per decorated window.
    pub(crate) decoration_caches: HashMap<WindowId, crate::decoration::DecorationCache>,
    /// Hover, pressed button and double-click state of the decorations.
    pub decoration_input: crate::decoration::DecorationInput,
    /// Compositor keyboard shortcuts (window switcher, start-menu key).
    pub shortcuts: crate::shortcuts::Shortcuts,

    // Output and rendering.
    pub output: Output,
    pub backend: Backend,
    pub stats: Stats,
    pub frame_listeners: Vec<Box<dyn FrameListener>>,
    pub(crate) frame_clock: crate::render::FrameClock,
    pub(crate) render_timer: Option<RegistrationToken>,
    /// Set when something may have changed on screen and a render is due.
    pub(crate) needs_render: bool,
    /// Force a render even if the damage tracker finds nothing (a capture wants a frame).
    pub(crate) force_frame: bool,
    /// Frames presented, for presentation-time's sequence number.
    pub(crate) frame_seq: u64,

    // Cursor.
    pub cursor_status: CursorImageStatus,
    pub cursor_serial: u32,
    pub cursor_listeners: Vec<crate::hooks::CursorListener>,

    /// Called when the toplevel list or a toplevel's state changes.
    pub toplevel_listeners: Vec<crate::hooks::ToplevelListener>,
    /// Called after the output mode or scale changed.
    pub mode_listeners: Vec<crate::hooks::ModeListener>,

    /// Capture, virtual-pointer, output-management and wlr window-list protocols.
    pub protocols: crate::handlers::protocols::ProtocolStates,
}

/// Errors creating the compositor.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot create the keyboard: {0}")]
    Keyboard(String),
    #[error("cannot create the renderer: {0}")]
    Backend(#[from] crate::backend::BackendError),
}

impl Skerry {
    pub(crate) fn new(
        config: Config,
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, Skerry>,
        loop_signal: LoopSignal,
        socket_name: OsString,
    ) -> Result<Self, InitError> {
        let dh = &display_handle;
        let clock = Clock::<Monotonic>::new();
        let compositor_state = CompositorState::new::<Self>(dh);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        let xdg_decoration_state = XdgDecorationState::new::<Self>(dh);
        let layer_shell_state = WlrLayerShellState::new::<Self>(dh);
        let xdg_activation_state = XdgActivationState::new::<Self>(dh);
        let shm_state = ShmState::new::<Self>(dh, vec![]);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        let mut seat_state = SeatState::new();
        let data_device_state = DataDeviceState::new::<Self>(dh);
        let primary_selection_state = PrimarySelectionState::new::<Self>(dh);
        let ext_data_control_state =
            ExtDataControlState::new::<Self, _>(dh, Some(&primary_selection_state), |_| true);
        let wlr_data_control_state =
            WlrDataControlState::new::<Self, _>(dh, Some(&primary_selection_state), |_| true);
        let fractional_scale_state = FractionalScaleManagerState::new::<Self>(dh);
        let viewporter_state = ViewporterState::new::<Self>(dh);
        let presentation_state = PresentationState::new::<Self>(dh, clock.id() as u32);
        let foreign_toplevel_list_state = ForeignToplevelListState::new::<Self>(dh);
        let cursor_shape_state = CursorShapeManagerState::new::<Self>(dh);
        let xwayland_shell_state = XWaylandShellState::new::<Self>(dh);
        let relative_pointer_state = RelativePointerManagerState::new::<Self>(dh);
        let pointer_constraints_state = PointerConstraintsState::new::<Self>(dh);
        let text_input_state = TextInputManagerState::new::<Self>(dh);
        let input_method_state = InputMethodManagerState::new::<Self, _>(dh, |_| true);
        let virtual_keyboard_state =
            crate::protocols::virtual_keyboard::VirtualKeyboardManagerState::new::<Self>(
                dh,
                |_| true,
            );

        let mut seat: Seat<Self> = seat_state.new_wl_seat(dh, "seat0");
        seat.add_keyboard(XkbConfig::default(), 600, 25)
            .map_err(|e| InitError::Keyboard(e.to_string()))?;
        seat.add_pointer();

        let output = Output::new(
            "HEADLESS-1".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Skerry".into(),
                model: "Headless".into(),
            },
        );
        let _global = output.create_global::<Self>(dh);
        let mode = output_mode(config.width, config.height, config.fps);
        output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            Some(Scale::Fractional(config.scale)),
            Some((0, 0).into()),
        );
        output.set_preferred(mode);
        let protocols = crate::handlers::protocols::ProtocolStates::new(dh, &output);

        let backend = Backend::headless(
            (config.width as i32, config.height as i32).into(),
            config.scale,
        )?;
        let (lw, lh) = logical_size(config.width, config.height, config.scale);
        let layout = Layout::new(lw, lh, config.single_app);
        let frame_clock = crate::render::FrameClock::new(config.fps);

        Ok(Self {
            config,
            display_handle,
            loop_handle,
            loop_signal,
            socket_name,
            clock,
            start_time: Instant::now(),
            compositor_state,
            xdg_shell_state,
            xdg_decoration_state,
            layer_shell_state,
            xdg_activation_state,
            shm_state,
            output_manager_state,
            seat_state,
            data_device_state,
            primary_selection_state,
            ext_data_control_state,
            wlr_data_control_state,
            fractional_scale_state,
            viewporter_state,
            presentation_state,
            foreign_toplevel_list_state,
            cursor_shape_state,
            xwayland_shell_state,
            relative_pointer_state,
            pointer_constraints_state,
            text_input_state,
            input_method_state,
            virtual_keyboard_state,
            keymap_source: None,
            popups: PopupManager::default(),
            seat,
            xwm: None,
            xwayland_client: None,
            xdisplay: None,
            xauthority: None,
            layout,
            windows: HashMap::new(),
            pending_windows: Vec::new(),
            override_redirect: Vec::new(),
            next_window_id: 1,
            decoration_caches: HashMap::new(),
            decoration_input: Default::default(),
            shortcuts: Default::default(),
            output,
            backend,
            stats: Stats::default(),
            frame_listeners: Vec::new(),
            frame_clock,
            render_timer: None,
            needs_render: true,
            force_frame: false,
            frame_seq: 0,
            cursor_status: CursorImageStatus::default_named(),
            cursor_serial: 0,
            cursor_listeners: Vec::new(),
            toplevel_listeners: Vec::new(),
            mode_listeners: Vec::new(),
            protocols,
        })
    }

    /// The output scale as a float.
    pub fn scale(&self) -> f64 {
        self.output.current_scale().fractional_scale()
    }

    pub(crate) fn alloc_window_id(&mut self) -> WindowId {
        let id = WindowId(self.next_window_id);
        self.next_window_id += 1;
        id
    }

    /// The managed window whose root surface is `surface`.
    pub fn window_for_surface(&self, surface: &WlSurface) -> Option<WindowId> {
        self.windows
            .iter()
            .find(|(_, m)| m.surface().as_ref() == Some(surface))
            .map(|(id, _)| *id)
    }

    /// The managed window wrapping this smithay window.
    pub fn window_id(&self, window: &Window) -> Option<WindowId> {
        self.windows
            .iter()
            .find(|(_, m)| &m.window == window)
            .map(|(id, _)| *id)
    }

    /// Uptime in the units Wayland input events carry.
    pub fn now_msec(&self) -> u32 {
        self.start_time.elapsed().as_millis() as u32
    }

    pub fn now(&self) -> Duration {
        self.clock.now().into()
    }
}

/// The output mode for a size and refresh cap (refresh in mHz).
pub fn output_mode(width: u32, height: u32, fps: u32) -> OutputMode {
    OutputMode {
        size: (width as i32, height as i32).into(),
        refresh: (fps * 1000) as i32,
    }
}

/// The logical size of an output of `width` x `height` pixels at `scale`.
pub fn logical_size(width: u32, height: u32, scale: f64) -> (i32, i32) {
    (
        (f64::from(width) / scale).round() as i32,
        (f64::from(height) / scale).round() as i32,
    )
}

/// Keeps `Arc` in use for client data.
pub(crate) fn new_client_data() -> Arc<ClientState> {
    Arc::new(ClientState::default())
}
