//! The compositor in-process (on its own thread) with real `wayland-client` clients: the
//! xdg-shell configure sequence, focus on click, maximize / minimize / fullscreen through the
//! layout policy, popup placement, output mode changes and the frame hooks.

use std::{
    os::unix::net::UnixStream,
    sync::{Arc, Mutex},
};

use skerry_compositor::{CompositorThread, Config, layout::WindowId};
use wayland_client::{
    Connection, Dispatch, EventQueue, QueueHandle, delegate_noop,
    protocol::{
        wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_keyboard::WlKeyboard, wl_registry,
        wl_seat::WlSeat, wl_shm::WlShm, wl_shm_pool::WlShmPool, wl_surface::WlSurface,
    },
};
use wayland_protocols::xdg::shell::client::{
    xdg_popup::{self, XdgPopup},
    xdg_positioner::{self, XdgPositioner},
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};

#[derive(Default)]
struct Client {
    compositor: Option<WlCompositor>,
    shm: Option<WlShm>,
    wm_base: Option<XdgWmBase>,
    seat: Option<WlSeat>,
    keyboard: Option<WlKeyboard>,
    /// Per toplevel index: configures received (size, states).
    configures: Vec<Vec<(i32, i32, Vec<xdg_toplevel::State>)>>,
    /// Popup configures: (x, y, w, h).
    popup_configures: Vec<(i32, i32, i32, i32)>,
    /// Surface that has keyboard focus (by protocol id).
    keyboard_focus: Option<u32>,
}

struct Window {
    surface: WlSurface,
    xdg: XdgSurface,
    toplevel: XdgToplevel,
    index: usize,
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
            name, interface, ..
        } = event
        {
            match interface.as_str() {
                "wl_compositor" => state.compositor = Some(registry.bind(name, 4, qh, ())),
                "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
                "xdg_wm_base" => state.wm_base = Some(registry.bind(name, 3, qh, ())),
                "wl_seat" => {
                    let seat: WlSeat = registry.bind(name, 5, qh, ());
                    state.keyboard = Some(seat.get_keyboard(qh, ()));
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
            _ => {}
        }
    }
}

delegate_noop!(Client: ignore WlCompositor);
delegate_noop!(Client: ignore WlShm);
delegate_noop!(Client: ignore WlShmPool);
delegate_noop!(Client: ignore WlBuffer);
delegate_noop!(Client: ignore WlSurface);
delegate_noop!(Client: ignore WlSeat);
delegate_noop!(Client: ignore XdgPositioner);

struct Harness {
    compositor: CompositorThread,
    queue: EventQueue<Client>,
    qh: QueueHandle<Client>,
    client: Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(|_| {})
    }

    fn with_config(f: impl FnOnce(&mut Config)) -> Self {
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

    fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.client).expect("roundtrip");
    }

    /// A shm buffer of one colour.
    fn buffer(&mut self, w: i32, h: i32, argb: u32) -> WlBuffer {
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
    fn toplevel(&mut self, title: &str) -> Window {
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

    /// Attaches a buffer of `w` x `h` and commits (maps the window the first time).
    fn show(&mut self, window: &Window, w: i32, h: i32) {
        let buffer = self.buffer(w, h, 0xff3366cc);
        window.surface.attach(Some(&buffer), 0, 0);
        window.surface.damage_buffer(0, 0, w, h);
        window.surface.commit();
        self.roundtrip();
        self.roundtrip();
    }

    fn last_configure(&self, window: &Window) -> (i32, i32, Vec<xdg_toplevel::State>) {
        self.client.configures[window.index]
            .last()
            .cloned()
            .expect("a configure")
    }

    fn window_id(&self, title: &'static str) -> WindowId {
        self.compositor.with_state(move |s| {
            s.toplevels()
                .into_iter()
                .find(|t| t.title == title)
                .map(|t| t.id)
                .expect("window listed")
        })
    }

    fn rect(&self, id: WindowId) -> skerry_compositor::layout::Rect {
        self.compositor
            .with_state(move |s| s.layout.get(id).map(|w| w.rect).expect("window in layout"))
    }

    fn click(&mut self, x: f64, y: f64) {
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

#[test]
fn toplevel_configure_sequence_and_mapping() {
    let mut h = Harness::new();
    let w = h.toplevel("first");
    // The initial configure lets the client choose its size.
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!((cw, ch), (0, 0));
    assert!(!states.contains(&xdg_toplevel::State::Activated));
    assert!(
        h.compositor.with_state(|s| s.toplevels().is_empty()),
        "not mapped before a buffer"
    );

    h.show(&w, 400, 300);
    let id = h.window_id("first");
    let rect = h.rect(id);
    assert_eq!((rect.w, rect.h), (400, 300));
    assert_eq!(
        (rect.x, rect.y),
        ((1920 - 400) / 2, (1080 - 300) / 2),
        "centered"
    );
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!((cw, ch), (400, 300));
    assert!(
        states.contains(&xdg_toplevel::State::Activated),
        "mapped window is focused"
    );
    use wayland_client::Proxy;
    assert_eq!(h.client.keyboard_focus, Some(w.surface.id().protocol_id()));
    let stats = h.compositor.with_state(|s| s.stats);
    assert_eq!(stats.windows_mapped, 1);
}

#[test]
fn click_focuses_and_raises() {
    let mut h = Harness::new();
    let a = h.toplevel("a");
    h.show(&a, 400, 300);
    let b = h.toplevel("b");
    h.show(&b, 400, 300);
    let (ida, idb) = (h.window_id("a"), h.window_id("b"));
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(idb));
    let ra = h.rect(ida);
    // A's top-left corner is not covered by B (cascaded down-right).
    h.click(f64::from(ra.x + 5), f64::from(ra.y + 5));
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(ida));
    let top = h
        .compositor
        .with_state(|s| s.layout.windows().last().map(|w| w.id));
    assert_eq!(top, Some(ida), "raised");
    use wayland_client::Proxy;
    assert_eq!(h.client.keyboard_focus, Some(a.surface.id().protocol_id()));
    assert!(
        h.last_configure(&a)
            .2
            .contains(&xdg_toplevel::State::Activated)
    );
    assert!(
        !h.last_configure(&b)
            .2
            .contains(&xdg_toplevel::State::Activated)
    );
    // A click on the empty desktop clears focus.
    h.click(5.0, 5.0);
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), None);
}

#[test]
fn maximize_fullscreen_minimize_requests_follow_the_policy() {
    let mut h = Harness::new();
    let w = h.toplevel("m");
    h.show(&w, 500, 400);
    let id = h.window_id("m");

    w.toplevel.set_maximized();
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (1920, 1080));
    h.show(&w, cw, ch);
    assert_eq!(
        h.rect(id),
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1080)
    );

    w.toplevel.unset_maximized();
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(!states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (500, 400), "restored to its floating size");
    h.show(&w, cw, ch);

    w.toplevel.set_fullscreen(None);
    h.roundtrip();
    assert!(
        h.last_configure(&w)
            .2
            .contains(&xdg_toplevel::State::Fullscreen)
    );

    w.toplevel.set_minimized();
    h.roundtrip();
    let (minimized, focus) = h
        .compositor
        .with_state(move |s| (s.layout.get(id).map(|w| w.minimized), s.layout.focus()));
    assert_eq!(minimized, Some(true));
    assert_eq!(focus, None, "a minimized window loses focus");
    h.compositor.with_state(move |s| s.activate_window(id));
    h.roundtrip();
    assert_eq!(h.compositor.with_state(|s| s.layout.focus()), Some(id));
}

#[test]
fn popup_is_kept_on_the_output() {
    let mut h = Harness::new();
    let w = h.toplevel("popup-parent");
    h.show(&w, 400, 300);
    let id = h.window_id("popup-parent");
    // Move the window so its right edge is near the output's right edge.
    h.compositor.with_state(move |s| {
        s.layout.move_window(id, 1920 - 420, 100);
        s.apply_layout();
    });
    let rect = h.rect(id);
    let positioner = h
        .client
        .wm_base
        .as_ref()
        .expect("wm base")
        .create_positioner(&h.qh, ());
    positioner.set_size(300, 200);
    positioner.set_anchor_rect(380, 10, 10, 10);
    positioner.set_anchor(xdg_positioner::Anchor::TopRight);
    positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
    positioner.set_constraint_adjustment(
        xdg_positioner::ConstraintAdjustment::SlideX | xdg_positioner::ConstraintAdjustment::FlipX,
    );
    let surface = h
        .client
        .compositor
        .as_ref()
        .expect("compositor")
        .create_surface(&h.qh, ());
    let xdg = h
        .client
        .wm_base
        .as_ref()
        .expect("wm base")
        .get_xdg_surface(&surface, &h.qh, ());
    let _popup = xdg.get_popup(Some(&w.xdg), &positioner, &h.qh, ());
    surface.commit();
    h.roundtrip();
    let (x, _y, pw, ph) = *h.client.popup_configures.last().expect("popup configure");
    assert_eq!((pw, ph), (300, 200));
    assert!(
        rect.x + x + pw <= 1920,
        "popup at {x} overflows the output (window at {})",
        rect.x
    );
    assert!(rect.x + x >= 0);
    let buffer = h.buffer(300, 200, 0xffffffff);
    surface.attach(Some(&buffer), 0, 0);
    surface.commit();
    h.roundtrip();
}

#[test]
fn frame_hooks_see_damage_and_forced_frames() {
    let mut h = Harness::new();
    let frames: Arc<Mutex<Vec<(u32, u32, usize)>>> = Arc::default();
    let sink = frames.clone();
    h.compositor.with_state(move |s| {
        s.frame_listeners.push(Box::new(
            move |image: &skerry_compositor::hooks::OutputImage<'_>,
                  damage: &[smithay::utils::Rectangle<i32, smithay::utils::Physical>]| {
                if let Ok(mut f) = sink.lock() {
                    f.push((image.width, image.stride, damage.len()));
                }
            },
        ));
    });
    let w = h.toplevel("painted");
    h.show(&w, 64, 64);
    let id = h.window_id("painted");
    let rect = h.rect(id);
    // Wait for the paced render to happen (poll the counter with a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.compositor.with_state(|s| s.stats.frames_damaged) < 2 {
        assert!(std::time::Instant::now() < deadline, "no frame rendered");
        std::thread::yield_now();
    }
    // The window's pixels are in the output image: B,G,R,A of 0xff3366cc.
    let pixel = h.compositor.with_state(move |s| {
        let img = s.backend.image();
        let off = ((rect.y + 10) as u32 * img.stride + (rect.x + 10) as u32 * 4) as usize;
        img.bytes[off..off + 4].to_vec()
    });
    assert_eq!(pixel, vec![0xcc, 0x66, 0x33, 0xff]);
    assert!(
        frames
            .lock()
            .unwrap()
            .iter()
            .any(|(w, stride, d)| *w == 1920 && *stride >= 1920 * 4 && *d > 0)
    );

    // Nothing changed: a forced frame reaches listeners with empty damage.
    let before = frames.lock().unwrap().len();
    h.compositor.with_state(|s| s.request_frame());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while frames.lock().unwrap().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "forced frame never came"
        );
        h.compositor.with_state(|_| ());
    }
    assert_eq!(frames.lock().unwrap().last().map(|f| f.2), Some(0));
}

#[test]
fn output_mode_change_reconfigures_maximized_windows() {
    let mut h = Harness::new();
    let w = h.toplevel("max");
    h.show(&w, 300, 200);
    w.toplevel.set_maximized();
    h.roundtrip();
    h.compositor
        .with_state(|s| s.set_output_mode(1280, 720, 1.0))
        .expect("mode change");
    h.roundtrip();
    let (cw, ch, states) = h.last_configure(&w);
    assert!(states.contains(&xdg_toplevel::State::Maximized));
    assert_eq!((cw, ch), (1280, 720));
    let size = h.compositor.with_state(|s| {
        let img = s.backend.image();
        (img.width, img.height)
    });
    assert_eq!(size, (1280, 720));
    // Scale 2: the logical output halves.
    h.compositor
        .with_state(|s| s.set_output_mode(1280, 720, 2.0))
        .expect("mode change");
    h.roundtrip();
    assert_eq!(h.last_configure(&w).0, 640);
    assert!(
        h.compositor
            .with_state(|s| s.set_output_mode(0, 720, 1.0))
            .is_err()
    );
}

#[test]
fn single_app_mode_fills_the_output() {
    let mut h = Harness::with_config(|c| c.single_app = true);
    let w = h.toplevel("app");
    let (cw, ch, states) = h.last_configure(&w);
    assert_eq!(
        (cw, ch),
        (1920, 1080),
        "the first configure already fills the output"
    );
    assert!(states.contains(&xdg_toplevel::State::Fullscreen));
    h.show(&w, cw, ch);
    let id = h.window_id("app");
    assert_eq!(
        h.rect(id),
        skerry_compositor::layout::Rect::new(0, 0, 1920, 1080)
    );
}
