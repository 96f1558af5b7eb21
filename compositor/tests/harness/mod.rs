//! A real `wayland-client` client against the compositor running in-process on its own
//! thread, for the in-process test binaries.
#![allow(dead_code)]

use std::os::unix::net::UnixStream;

use skerry_compositor::{CompositorThread, Config, layout::WindowId};
use wayland_client::{
    Connection, Dispatch, EventQueue, QueueHandle, WEnum, delegate_noop,
    protocol::{
        wl_buffer::WlBuffer,
        wl_compositor::WlCompositor,
        wl_keyboard::WlKeyboard,
        wl_pointer::{self, WlPointer},
        wl_registry,
        wl_seat::WlSeat,
        wl_shm::WlShm,
        wl_shm_pool::WlShmPool,
        wl_surface::WlSurface,
    },
};
use wayland_protocols::ext::foreign_toplevel_list::v1::client::{
    ext_foreign_toplevel_handle_v1::{self, ExtForeignToplevelHandleV1},
    ext_foreign_toplevel_list_v1::{self, ExtForeignToplevelListV1},
};
use wayland_protocols::wp::viewporter::client::{
    wp_viewport::WpViewport, wp_viewporter::WpViewporter,
};
use wayland_protocols::wp::{
    pointer_constraints::zv1::client::{
        zwp_confined_pointer_v1::ZwpConfinedPointerV1,
        zwp_locked_pointer_v1::{self, ZwpLockedPointerV1},
        zwp_pointer_constraints_v1::ZwpPointerConstraintsV1,
    },
    relative_pointer::zv1::client::{
        zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1,
        zwp_relative_pointer_v1::{self, ZwpRelativePointerV1},
    },
};
use wayland_protocols::xdg::decoration::zv1::client::{
    zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
    zxdg_toplevel_decoration_v1::{self, ZxdgToplevelDecorationV1},
};
use wayland_protocols::xdg::shell::client::{
    xdg_popup::{self, XdgPopup},
    xdg_positioner::XdgPositioner,
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::ZwlrLayerShellV1,
    zwlr_layer_surface_v1::{self, ZwlrLayerSurfaceV1},
};

#[derive(Default)]
pub struct Client {
    pub compositor: Option<WlCompositor>,
    pub shm: Option<WlShm>,
    pub wm_base: Option<XdgWmBase>,
    pub seat: Option<WlSeat>,
    pub layer_shell: Option<ZwlrLayerShellV1>,
    pub viewporter: Option<WpViewporter>,
    pub toplevel_list: Option<ExtForeignToplevelListV1>,
    pub constraints: Option<ZwpPointerConstraintsV1>,
    pub relative_manager: Option<ZwpRelativePointerManagerV1>,
    /// zwp_relative_pointer_v1 motions (dx, dy), and whether the lock was granted.
    pub relative_motions: Vec<(f64, f64)>,
    pub locked: bool,
    /// ext-foreign-toplevel-list entries by handle id: (title, app_id, closed).
    pub foreign: std::collections::BTreeMap<u32, (String, String, bool)>,
    /// Layer surface configures: (serial, width, height).
    pub layer_configures: Vec<(u32, u32, u32)>,
    /// zwlr_layer_surface_v1.closed events received.
    pub layers_closed: u32,
    pub keyboard: Option<WlKeyboard>,
    pub pointer: Option<WlPointer>,
    /// Pointer events in arrival order.
    pub pointer_events: Vec<PointerEvent>,
    /// Per toplevel index: configures received (size, states).
    pub configures: Vec<Vec<(i32, i32, Vec<xdg_toplevel::State>)>>,
    /// Popup configures: (x, y, w, h).
    pub popup_configures: Vec<(i32, i32, i32, i32)>,
    /// xdg_popup.popup_done events received.
    pub popups_done: u32,
    /// Surface that has keyboard focus (by protocol id).
    pub keyboard_focus: Option<u32>,
    pub decoration_manager: Option<ZxdgDecorationManagerV1>,
    /// zxdg_toplevel_decoration_v1.configure modes received (true = server-side).
    pub decoration_modes: Vec<bool>,
    /// wl_keyboard.key events: (focused surface id, evdev key, pressed).
    pub keys: Vec<(Option<u32>, u32, bool)>,
    /// Toplevel indexes that received xdg_toplevel.close.
    pub closes: Vec<usize>,
}

pub struct Window {
    pub surface: WlSurface,
    pub xdg: XdgSurface,
    pub toplevel: XdgToplevel,
    pub index: usize,
}

impl Dispatch<wl_registry::WlRegistry, ()> for Client {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        {
            match interface.as_str() {
                "wl_compositor" => state.compositor = Some(registry.bind(name, 4, qh, ())),
                "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
                "xdg_wm_base" => state.wm_base = Some(registry.bind(name, 3, qh, ())),
                "zwp_pointer_constraints_v1" => {
                    state.constraints = Some(registry.bind(name, 1, qh, ()))
                }
                "zwp_relative_pointer_manager_v1" => {
                    state.relative_manager = Some(registry.bind(name, 1, qh, ()))
                }
                "ext_foreign_toplevel_list_v1" => {
                    state.toplevel_list = Some(registry.bind(name, 1, qh, ()))
                }
                "zxdg_decoration_manager_v1" => {
                    state.decoration_manager = Some(registry.bind(name, 1, qh, ()))
                }
                "zwlr_layer_shell_v1" => state.layer_shell = Some(registry.bind(name, 4, qh, ())),
                "wp_viewporter" => state.viewporter = Some(registry.bind(name, 1, qh, ())),
                "wl_seat" => {
                    let seat: WlSeat = registry.bind(name, version.min(8), qh, ());
                    state.keyboard = Some(seat.get_keyboard(qh, ()));
                    state.pointer = Some(seat.get_pointer(qh, ()));
                    state.seat = Some(seat);
                }
                _ => {}
            }
        }
    }
}

impl Dispatch<XdgWmBase, ()> for Client {
    fn event(
        _: &mut Self,
        base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for Client {
    fn event(
        _: &mut Self,
        xdg: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg.ack_configure(serial);
        }
    }
}

impl Dispatch<XdgToplevel, usize> for Client {
    fn event(
        state: &mut Self,
        _: &XdgToplevel,
        event: xdg_toplevel::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure {
            width,
            height,
            states,
        } = event
        {
            let states = states
                .chunks_exact(4)
                .filter_map(|c| {
                    xdg_toplevel::State::try_from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).ok()
                })
                .collect();
            state.configures[*index].push((width, height, states));
        } else if let xdg_toplevel::Event::Close = event {
            state.closes.push(*index);
        }
    }
}

impl Dispatch<XdgPopup, ()> for Client {
    fn event(
        state: &mut Self,
        _: &XdgPopup,
        event: xdg_popup::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_popup::Event::Configure {
            x,
            y,
            width,
            height,
        } = event
        {
            state.popup_configures.push((x, y, width, height));
        } else if let xdg_popup::Event::PopupDone = event {
            state.popups_done += 1;
        }
    }
}

impl Dispatch<WlKeyboard, ()> for Client {
    fn event(
        state: &mut Self,
        _: &WlKeyboard,
        event: wayland_client::protocol::wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_client::{Proxy, protocol::wl_keyboard::Event};
        match event {
            Event::Enter { surface, .. } => state.keyboard_focus = Some(surface.id().protocol_id()),
            Event::Leave { .. } => state.keyboard_focus = None,
            Event::Key { key, state: s, .. } => state.keys.push((
                state.keyboard_focus,
                key,
                s == WEnum::Value(wayland_client::protocol::wl_keyboard::KeyState::Pressed),
            )),
            _ => {}
        }
    }
}

impl Dispatch<ZwlrLayerSurfaceV1, ()> for Client {
    fn event(
        state: &mut Self,
        layer: &ZwlrLayerSurfaceV1,
        event: zwlr_layer_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_layer_surface_v1::Event::Configure {
                serial,
                width,
                height,
            } => {
                layer.ack_configure(serial);
                state.layer_configures.push((serial, width, height));
            }
            zwlr_layer_surface_v1::Event::Closed => state.layers_closed += 1,
            _ => {}
        }
    }
}

/// What a test needs to know about wl_pointer events.
#[derive(Debug, Clone, PartialEq)]
pub enum PointerEvent {
    Enter {
        serial: u32,
        surface: u32,
        x: f64,
        y: f64,
    },
    Leave,
    Motion {
        x: f64,
        y: f64,
    },
    Button {
        serial: u32,
        button: u32,
        pressed: bool,
    },
    Axis {
        vertical: bool,
        value: f64,
    },
    Value120 {
        vertical: bool,
        value120: i32,
    },
    Frame,
}

impl Dispatch<WlPointer, ()> for Client {
    fn event(
        state: &mut Self,
        _: &WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_client::Proxy;
        let vertical =
            |a: WEnum<wl_pointer::Axis>| a == WEnum::Value(wl_pointer::Axis::VerticalScroll);
        let e = match event {
            wl_pointer::Event::Enter {
                serial,
                surface,
                surface_x,
                surface_y,
            } => PointerEvent::Enter {
                serial,
                surface: surface.id().protocol_id(),
                x: surface_x,
                y: surface_y,
            },
            wl_pointer::Event::Leave { .. } => PointerEvent::Leave,
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => PointerEvent::Motion {
                x: surface_x,
                y: surface_y,
            },
            wl_pointer::Event::Button {
                serial,
                button,
                state: s,
                ..
            } => PointerEvent::Button {
                serial,
                button,
                pressed: s == WEnum::Value(wl_pointer::ButtonState::Pressed),
            },
            wl_pointer::Event::Axis { axis, value, .. } => PointerEvent::Axis {
                vertical: vertical(axis),
                value,
            },
            wl_pointer::Event::AxisValue120 { axis, value120 } => PointerEvent::Value120 {
                vertical: vertical(axis),
                value120,
            },
            wl_pointer::Event::Frame => PointerEvent::Frame,
            _ => return,
        };
        state.pointer_events.push(e);
    }
}

impl Dispatch<ExtForeignToplevelListV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ExtForeignToplevelListV1,
        event: ext_foreign_toplevel_list_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_client::Proxy;
        if let ext_foreign_toplevel_list_v1::Event::Toplevel { toplevel } = event {
            state
                .foreign
                .insert(toplevel.id().protocol_id(), Default::default());
        }
    }

    wayland_client::event_created_child!(Client, ExtForeignToplevelListV1, [
        ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ExtForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ExtForeignToplevelHandleV1, ()> for Client {
    fn event(
        state: &mut Self,
        handle: &ExtForeignToplevelHandleV1,
        event: ext_foreign_toplevel_handle_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_client::Proxy;
        let entry = state.foreign.entry(handle.id().protocol_id()).or_default();
        match event {
            ext_foreign_toplevel_handle_v1::Event::Title { title } => entry.0 = title,
            ext_foreign_toplevel_handle_v1::Event::AppId { app_id } => entry.1 = app_id,
            ext_foreign_toplevel_handle_v1::Event::Closed => entry.2 = true,
            _ => {}
        }
    }
}

impl Dispatch<ZwpRelativePointerV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ZwpRelativePointerV1,
        event: zwp_relative_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwp_relative_pointer_v1::Event::RelativeMotion { dx, dy, .. } = event {
            state.relative_motions.push((dx, dy));
        }
    }
}

impl Dispatch<ZwpLockedPointerV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ZwpLockedPointerV1,
        event: zwp_locked_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_locked_pointer_v1::Event::Locked => state.locked = true,
            zwp_locked_pointer_v1::Event::Unlocked => state.locked = false,
            _ => {}
        }
    }
}

delegate_noop!(Client: ignore ZwpPointerConstraintsV1);
delegate_noop!(Client: ignore ZwpConfinedPointerV1);
delegate_noop!(Client: ignore ZwpRelativePointerManagerV1);
delegate_noop!(Client: ignore ZwlrLayerShellV1);
delegate_noop!(Client: ignore WpViewporter);
delegate_noop!(Client: ignore WpViewport);
impl Dispatch<ZxdgToplevelDecorationV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ZxdgToplevelDecorationV1,
        event: zxdg_toplevel_decoration_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_toplevel_decoration_v1::Event::Configure { mode } = event {
            state
                .decoration_modes
                .push(mode == WEnum::Value(zxdg_toplevel_decoration_v1::Mode::ServerSide));
        }
    }
}

delegate_noop!(Client: ignore ZxdgDecorationManagerV1);
delegate_noop!(Client: ignore WlCompositor);
delegate_noop!(Client: ignore WlShm);
delegate_noop!(Client: ignore WlShmPool);
delegate_noop!(Client: ignore WlBuffer);
delegate_noop!(Client: ignore WlSurface);
delegate_noop!(Client: ignore WlSeat);
delegate_noop!(Client: ignore XdgPositioner);

pub struct Harness {
    pub compositor: CompositorThread,
    pub queue: EventQueue<Client>,
    pub qh: QueueHandle<Client>,
    pub client: Client,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().to_path_buf());
        config.socket_name = Some("skerry-inprocess".into());
        f(&mut config);
        let compositor = CompositorThread::spawn(config).expect("start compositor");
        let stream = UnixStream::connect(dir.path().join("skerry-inprocess")).expect("connect");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let mut queue = conn.new_event_queue();
        let qh = queue.handle();
        conn.display().get_registry(&qh, ());
        let mut client = Client::default();
        queue.roundtrip(&mut client).expect("roundtrip");
        queue.roundtrip(&mut client).expect("roundtrip");
        assert!(client.compositor.is_some() && client.shm.is_some() && client.wm_base.is_some());
        Self {
            compositor,
            queue,
            qh,
            client,
            _dir: dir,
        }
    }

    pub fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.client).expect("roundtrip");
    }

    /// A shm buffer of one colour.
    pub fn buffer(&mut self, w: i32, h: i32, argb: u32) -> WlBuffer {
        let fd = rustix::fs::memfd_create("skerry-test", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd");
        let bytes: Vec<u8> = std::iter::repeat_n(argb.to_le_bytes(), (w * h) as usize)
            .flatten()
            .collect();
        rustix::io::write(&fd, &bytes).expect("write pixels");
        let shm = self.client.shm.as_ref().expect("wl_shm");
        let pool = shm.create_pool(std::os::fd::AsFd::as_fd(&fd), w * h * 4, &self.qh, ());
        let buffer = pool.create_buffer(
            0,
            w,
            h,
            w * 4,
            wayland_client::protocol::wl_shm::Format::Argb8888,
            &self.qh,
            (),
        );
        pool.destroy();
        buffer
    }

    /// Creates a toplevel and goes through the initial configure; the window is not mapped.
    pub fn toplevel(&mut self, title: &str) -> Window {
        let surface = self
            .client
            .compositor
            .as_ref()
            .expect("compositor")
            .create_surface(&self.qh, ());
        let xdg = self
            .client
            .wm_base
            .as_ref()
            .expect("wm base")
            .get_xdg_surface(&surface, &self.qh, ());
        let index = self.client.configures.len();
        self.client.configures.push(Vec::new());
        let toplevel = xdg.get_toplevel(&self.qh, index);
        toplevel.set_title(title.into());
        surface.commit();
        self.roundtrip();
        Window {
            surface,
            xdg,
            toplevel,
            index,
        }
    }

    /// Creates a toplevel that asks for server-side decorations (xdg-decoration) and goes
    /// through the initial configure; the window is not mapped.
    pub fn decorated_toplevel(&mut self, title: &str) -> Window {
        let surface = self
            .client
            .compositor
            .as_ref()
            .expect("compositor")
            .create_surface(&self.qh, ());
        let xdg = self
            .client
            .wm_base
            .as_ref()
            .expect("wm base")
            .get_xdg_surface(&surface, &self.qh, ());
        let index = self.client.configures.len();
        self.client.configures.push(Vec::new());
        let toplevel = xdg.get_toplevel(&self.qh, index);
        toplevel.set_title(title.into());
        let decoration = self
            .client
            .decoration_manager
            .as_ref()
            .expect("zxdg_decoration_manager_v1 advertised")
            .get_toplevel_decoration(&toplevel, &self.qh, ());
        decoration.set_mode(zxdg_toplevel_decoration_v1::Mode::ServerSide);
        surface.commit();
        self.roundtrip();
        Window {
            surface,
            xdg,
            toplevel,
            index,
        }
    }

    /// Presses or releases a key (evdev code) on the compositor's keyboard.
    pub fn key(&mut self, code: u32, pressed: bool) {
        self.compositor
            .with_state(move |s| s.keyboard_key(code, pressed));
        self.roundtrip();
    }

    /// Attaches a buffer of `w` x `h` and commits (maps the window the first time).
    pub fn show(&mut self, window: &Window, w: i32, h: i32) {
        self.show_color(window, w, h, 0xff3366cc);
    }

    /// Like [`Harness::show`] with a given colour (0xAARRGGBB).
    pub fn show_color(&mut self, window: &Window, w: i32, h: i32, argb: u32) {
        let buffer = self.buffer(w, h, argb);
        window.surface.attach(Some(&buffer), 0, 0);
        window.surface.damage_buffer(0, 0, w, h);
        window.surface.commit();
        self.roundtrip();
        self.roundtrip();
    }

    pub fn last_configure(&self, window: &Window) -> (i32, i32, Vec<xdg_toplevel::State>) {
        self.client.configures[window.index]
            .last()
            .cloned()
            .expect("a configure")
    }

    pub fn window_id(&self, title: &'static str) -> WindowId {
        self.compositor.with_state(move |s| {
            s.toplevels()
                .into_iter()
                .find(|t| t.title == title)
                .map(|t| t.id)
                .expect("window listed")
        })
    }

    pub fn rect(&self, id: WindowId) -> skerry_compositor::layout::Rect {
        self.compositor
            .with_state(move |s| s.layout.get(id).map(|w| w.rect).expect("window in layout"))
    }

    /// Waits (polling with a deadline) until the compositor has rendered everything pending,
    /// then returns the output pixel at (x, y) as B,G,R,A.
    pub fn pixel(&mut self, x: i32, y: i32) -> [u8; 4] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let done = self.compositor.with_state(|s| !s.render_pending());
            if done {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "render never happened"
            );
            std::thread::yield_now();
        }
        self.compositor.with_state(move |s| {
            let img = s.backend.image();
            let off = (y as u32 * img.stride + x as u32 * 4) as usize;
            let mut px = [0u8; 4];
            px.copy_from_slice(&img.bytes[off..off + 4]);
            px
        })
    }

    pub fn click(&mut self, x: f64, y: f64) {
        self.compositor.with_state(move |s| {
            s.pointer_motion_absolute(x, y);
            s.pointer_frame();
            s.pointer_button(0x110, true);
            s.pointer_frame();
            s.pointer_button(0x110, false);
            s.pointer_frame();
        });
        self.roundtrip();
    }
}
