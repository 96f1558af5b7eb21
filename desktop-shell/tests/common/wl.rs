//! A small Wayland client for the tests: a virtual pointer (`zwlr_virtual_pointer_v1`)
//! that clicks like a person would, and the window list
//! (`zwlr_foreign_toplevel_manager_v1`) to see what the shell did.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_pointer, wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, event_created_child};
use wayland_protocols_wlr::foreign_toplevel::v1::client::{
    zwlr_foreign_toplevel_handle_v1::{self as handle, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self as manager, ZwlrForeignToplevelManagerV1},
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

pub const BTN_LEFT: u32 = 0x110;
pub const BTN_MIDDLE: u32 = 0x112;

#[derive(Debug, Clone, Default)]
pub struct Window {
    pub title: String,
    pub app_id: String,
    pub activated: bool,
    pub minimized: bool,
}

#[derive(Default)]
pub struct State {
    windows: HashMap<u32, Window>,
    pending: HashMap<u32, Window>,
    handles: HashMap<u32, ZwlrForeignToplevelHandleV1>,
}

pub struct TestClient {
    queue: EventQueue<State>,
    state: State,
    pointer: ZwlrVirtualPointerV1,
    extent: (u32, u32),
    time: u32,
    /// Where the pointer was last moved to.
    pub last: Option<(u32, u32)>,
}

impl TestClient {
    /// Connects to the compositor at `socket` whose output is `extent` logical pixels.
    pub fn connect(socket: &Path, extent: (u32, u32)) -> Self {
        let stream = UnixStream::connect(socket).expect("connect to the compositor");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, mut queue) = registry_queue_init::<State>(&conn).expect("globals");
        let qh = queue.handle();
        let seat: wl_seat::WlSeat = globals.bind(&qh, 1..=1, ()).expect("wl_seat");
        let vpm: ZwlrVirtualPointerManagerV1 = globals
            .bind(&qh, 1..=2, ())
            .expect("zwlr_virtual_pointer_manager_v1");
        let _tlm: ZwlrForeignToplevelManagerV1 = globals
            .bind(&qh, 1..=3, ())
            .expect("zwlr_foreign_toplevel_manager_v1");
        let pointer = vpm.create_virtual_pointer(Some(&seat), &qh, ());
        let mut state = State::default();
        queue.roundtrip(&mut state).expect("roundtrip");
        Self {
            queue,
            state,
            pointer,
            extent,
            time: 1,
            last: None,
        }
    }

    fn tick(&mut self) -> u32 {
        self.time += 16;
        self.time
    }

    pub fn move_to(&mut self, x: u32, y: u32) {
        let t = self.tick();
        self.pointer
            .motion_absolute(t, x, y, self.extent.0, self.extent.1);
        self.pointer.frame();
        self.roundtrip();
        self.last = Some((x, y));
    }

    /// Presses and releases `button` where the pointer is.
    pub fn press_release(&mut self, button: u32) {
        for st in [
            wl_pointer::ButtonState::Pressed,
            wl_pointer::ButtonState::Released,
        ] {
            let t = self.tick();
            self.pointer.button(t, button, st);
            self.pointer.frame();
            self.roundtrip();
        }
    }

    pub fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.state).expect("roundtrip");
    }

    pub fn windows(&mut self) -> Vec<Window> {
        self.roundtrip();
        let mut v: Vec<_> = self.state.windows.values().cloned().collect();
        v.sort_by(|a, b| a.app_id.cmp(&b.app_id));
        v
    }

    /// Polls the window list until `pred` holds for the window with `app_id`.
    pub fn wait_window(
        &mut self,
        app_id: &str,
        what: &str,
        pred: impl Fn(&Window) -> bool,
    ) -> Window {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(w) = self
                .windows()
                .into_iter()
                .find(|w| w.app_id == app_id && pred(w))
            {
                return w;
            }
            assert!(
                Instant::now() < deadline,
                "window {app_id} never became {what}: {:?}",
                self.state.windows.values().collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_gone(&mut self, app_id: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.windows().iter().any(|w| w.app_id == app_id) {
            assert!(Instant::now() < deadline, "window {app_id} was not closed");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes every window (so the compositor can exit cleanly).
    pub fn close_all(&mut self) {
        for h in self.state.handles.values() {
            h.close();
        }
        let _ = self.queue.roundtrip(&mut self.state);
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for State {
    fn event(
        _: &mut Self,
        _: &wl_seat::WlSeat,
        _: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &ZwlrVirtualPointerManagerV1,
        _: <ZwlrVirtualPointerManagerV1 as Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrVirtualPointerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &ZwlrVirtualPointerV1,
        _: <ZwlrVirtualPointerV1 as Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrForeignToplevelManagerV1,
        event: manager::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let manager::Event::Toplevel { toplevel } = event {
            let id = toplevel.id().protocol_id();
            state.pending.insert(id, Window::default());
            state.handles.insert(id, toplevel);
        }
    }

    event_created_child!(State, ZwlrForeignToplevelManagerV1, [
        manager::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ZwlrForeignToplevelHandleV1, ()> for State {
    fn event(
        state: &mut Self,
        h: &ZwlrForeignToplevelHandleV1,
        event: handle::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let id = h.id().protocol_id();
        let p = state.pending.entry(id).or_default();
        match event {
            handle::Event::Title { title } => p.title = title,
            handle::Event::AppId { app_id } => p.app_id = app_id,
            handle::Event::State { state: raw } => {
                let vals: Vec<u32> = raw
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                p.activated = vals.contains(&(handle::State::Activated as u32));
                p.minimized = vals.contains(&(handle::State::Minimized as u32));
            }
            handle::Event::Done => {
                let w = p.clone();
                state.windows.insert(id, w);
            }
            handle::Event::Closed => {
                state.windows.remove(&id);
                state.pending.remove(&id);
                state.handles.remove(&id);
            }
            _ => {}
        }
    }
}
