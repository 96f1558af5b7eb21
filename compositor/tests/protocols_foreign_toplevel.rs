//! wlr-foreign-toplevel-management against real wayland-client clients: the window list,
//! its updates, requests reaching the handler, close and stop.

#[macro_use]
mod proto_harness;

use std::sync::{Arc, Mutex};

use proto_harness::{Server, dispatch_until, make_output};
use skerry_compositor::protocols::foreign_toplevel::{
    ForeignToplevelHandler, ForeignToplevelManagerState, ToplevelHandle, ToplevelInfo,
    ToplevelRequest,
};
use smithay::output::Output;
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_output, wl_registry};
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols_wlr::foreign_toplevel::v1::client::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};

/// Requests as the handler saw them: (window id, what).
type Seen = Vec<(u64, String)>;

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    _outputs: OutputManagerState,
    toplevels: ForeignToplevelManagerState,
    output: Output,
    windows: Vec<ToplevelHandle>,
    requests: Seen,
}

impl OutputHandler for State {
    fn output_bound(
        &mut self,
        output: Output,
        wl_output: wayland_server::protocol::wl_output::WlOutput,
    ) {
        self.toplevels.output_bound(&output, &wl_output);
    }
}
impl ForeignToplevelHandler for State {
    fn foreign_toplevel_state(&mut self) -> &mut ForeignToplevelManagerState {
        &mut self.toplevels
    }
    fn foreign_toplevel_request(&mut self, toplevel: &ToplevelHandle, request: ToplevelRequest) {
        let what = match &request {
            ToplevelRequest::SetFullscreen { fullscreen, output } => {
                format!(
                    "fullscreen {fullscreen} on {:?}",
                    output.as_ref().map(Output::name)
                )
            }
            other => format!("{other:?}"),
        };
        self.requests.push((toplevel.id(), what));
        // Like a window manager would: honour close by closing the window.
        if let ToplevelRequest::Close = request {
            self.toplevels.remove_toplevel(toplevel);
        }
    }
}
smithay::delegate_output!(State);
test_compositor!(State);
skerry_compositor::delegate_foreign_toplevel!(State);

fn start() -> Server<State> {
    Server::start(|display| {
        let output = make_output("HEADLESS-1", 640, 480);
        output.create_global::<State>(display);
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            _outputs: OutputManagerState::new(),
            toplevels: ForeignToplevelManagerState::new::<State>(display, |_| true),
            output,
            windows: Vec::new(),
            requests: Vec::new(),
        }
    })
}

fn open_window(server: &Server<State>, title: &str, app_id: &str) -> u64 {
    let (title, app_id) = (title.to_string(), app_id.to_string());
    server.with(move |s, _| {
        let info = ToplevelInfo {
            title,
            app_id,
            outputs: vec![s.output.clone()],
            ..Default::default()
        };
        let handle = s.toplevels.new_toplevel::<State>(info);
        s.windows.push(handle.clone());
        handle.id()
    })
}

#[derive(Debug, Default)]
struct Window {
    title: Vec<String>,
    app_id: Vec<String>,
    states: Vec<Vec<u32>>,
    outputs: usize,
    done: usize,
    closed: bool,
    parent: Option<wayland_client::backend::ObjectId>,
}
type WindowEvents = Arc<Mutex<Window>>;

#[derive(Default)]
struct Client {
    windows: Vec<(ZwlrForeignToplevelHandleV1, WindowEvents)>,
    finished: bool,
}

impl Client {
    fn window(&self, i: usize) -> std::sync::MutexGuard<'_, Window> {
        self.windows[i].1.lock().expect("window")
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Client {
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
ignore_events!(Client: wl_output::WlOutput);

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for Client {
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
                let data = toplevel.data::<WindowEvents>().cloned().unwrap_or_default();
                state.windows.push((toplevel, data));
            }
            zwlr_foreign_toplevel_manager_v1::Event::Finished => state.finished = true,
            _ => {}
        }
    }

    wayland_client::event_created_child!(Client, ZwlrForeignToplevelManagerV1, [
        zwlr_foreign_toplevel_manager_v1::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, WindowEvents::default())
    ]);
}

impl Dispatch<ZwlrForeignToplevelHandleV1, WindowEvents> for Client {
    fn event(
        _: &mut Self,
        _: &ZwlrForeignToplevelHandleV1,
        event: zwlr_foreign_toplevel_handle_v1::Event,
        data: &WindowEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_foreign_toplevel_handle_v1::Event;
        let mut w = data.lock().expect("window");
        match event {
            Event::Title { title } => w.title.push(title),
            Event::AppId { app_id } => w.app_id.push(app_id),
            Event::State { state } => w.states.push(
                state
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Event::OutputEnter { .. } => w.outputs += 1,
            Event::OutputLeave { .. } => w.outputs -= 1,
            Event::Done => w.done += 1,
            Event::Closed => w.closed = true,
            Event::Parent { parent } => w.parent = parent.map(|p| p.id()),
            _ => {}
        }
    }
}

#[test]
fn foreign_toplevel_lists_windows_and_pushes_changes() {
    let server = start();
    let first = open_window(&server, "Terminal", "foot");
    let conn = server.connect();
    let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
    let qh = queue.handle();
    let _output: wl_output::WlOutput = globals.bind(&qh, 1..=4, ()).expect("wl_output");
    let mut client = Client::default();
    queue
        .roundtrip(&mut client)
        .expect("wl_output bound before the manager");
    let _manager: ZwlrForeignToplevelManagerV1 = globals.bind(&qh, 3..=3, ()).expect("manager v3");
    dispatch_until(&mut queue, &mut client, |c| {
        c.windows.len() == 1 && c.window(0).done == 1
    });
    {
        let w = client.window(0);
        assert_eq!(
            (w.title.as_slice(), w.app_id.as_slice()),
            (&["Terminal".to_string()][..], &["foot".to_string()][..])
        );
        assert_eq!(w.states, vec![Vec::<u32>::new()]);
        assert_eq!(w.outputs, 1, "output_enter for the bound wl_output");
    }

    open_window(&server, "Browser", "chromium");
    dispatch_until(&mut queue, &mut client, |c| {
        c.windows.len() == 2 && c.window(1).done == 1
    });
    assert_eq!(client.window(1).app_id, vec!["chromium".to_string()]);

    // The first window gets focus and a new title: only those change, then one done.
    server.with(move |s, _| {
        let handle = s
            .windows
            .iter()
            .find(|w| w.id() == first)
            .cloned()
            .expect("window");
        let mut info = handle.info();
        info.title = "Terminal — vim".into();
        info.activated = true;
        info.maximized = true;
        handle.set_info(info);
    });
    dispatch_until(&mut queue, &mut client, |c| c.window(0).done == 2);
    let w = client.window(0);
    assert_eq!(w.title.last().map(String::as_str), Some("Terminal — vim"));
    assert_eq!(w.app_id.len(), 1, "unchanged app_id is not resent");
    let mut last = w.states.last().cloned().expect("state");
    last.sort_unstable();
    assert_eq!(
        last,
        vec![
            zwlr_foreign_toplevel_handle_v1::State::Maximized as u32,
            zwlr_foreign_toplevel_handle_v1::State::Activated as u32
        ]
    );
}

#[test]
fn foreign_toplevel_requests_reach_the_handler_and_close_closes() {
    let server = start();
    let id = open_window(&server, "Terminal", "foot");
    let conn = server.connect();
    let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
    let qh = queue.handle();
    let output: wl_output::WlOutput = globals.bind(&qh, 1..=4, ()).expect("wl_output");
    let manager: ZwlrForeignToplevelManagerV1 = globals.bind(&qh, 3..=3, ()).expect("manager v3");
    let mut client = Client::default();
    dispatch_until(&mut queue, &mut client, |c| c.windows.len() == 1);
    let handle = client.windows[0].0.clone();
    handle.set_maximized();
    handle.unset_maximized();
    handle.set_minimized();
    handle.unset_minimized();
    handle.set_fullscreen(Some(&output));
    handle.unset_fullscreen();
    handle.close();
    dispatch_until(&mut queue, &mut client, |c| c.window(0).closed);

    let seen = server.with(|s, _| std::mem::take(&mut s.requests));
    let what: Vec<_> = seen.iter().map(|(w, what)| (*w, what.as_str())).collect();
    assert_eq!(
        what,
        vec![
            (id, "SetMaximized(true)"),
            (id, "SetMaximized(false)"),
            (id, "SetMinimized(true)"),
            (id, "SetMinimized(false)"),
            (id, "fullscreen true on Some(\"HEADLESS-1\")"),
            (id, "fullscreen false on None"),
            (id, "Close"),
        ]
    );

    // Requests on a closed window are ignored; stop ends the list.
    handle.set_maximized();
    manager.stop();
    dispatch_until(&mut queue, &mut client, |c| c.finished);
    assert!(server.with(|s, _| s.requests.is_empty()));
    open_window(&server, "Later", "foot");
    queue.roundtrip(&mut client).expect("roundtrip");
    assert_eq!(client.windows.len(), 1, "no windows announced after stop");
}

#[test]
fn foreign_toplevel_output_enter_follows_late_wl_output_binds() {
    let server = start();
    open_window(&server, "Terminal", "foot");
    let conn = server.connect();
    let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
    let qh = queue.handle();
    let _manager: ZwlrForeignToplevelManagerV1 = globals.bind(&qh, 3..=3, ()).expect("manager v3");
    let mut client = Client::default();
    dispatch_until(&mut queue, &mut client, |c| {
        c.windows.len() == 1 && c.window(0).done == 1
    });
    assert_eq!(client.window(0).outputs, 0, "no wl_output bound yet");
    let _output: wl_output::WlOutput = globals.bind(&qh, 1..=4, ()).expect("wl_output");
    dispatch_until(&mut queue, &mut client, |c| c.window(0).outputs == 1);
    assert_eq!(client.window(0).done, 2);
}

#[test]
fn foreign_toplevel_dialogs_name_their_parent() {
    let server = start();
    let main = open_window(&server, "Editor", "gedit");
    server.with(move |s, _| {
        let parent = s.windows.iter().find(|w| w.id() == main).cloned();
        let info = ToplevelInfo {
            title: "Save as".into(),
            app_id: "gedit".into(),
            parent,
            ..Default::default()
        };
        let dialog = s.toplevels.new_toplevel::<State>(info);
        s.windows.push(dialog);
    });
    let conn = server.connect();
    let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
    let qh = queue.handle();
    let _manager: ZwlrForeignToplevelManagerV1 = globals.bind(&qh, 3..=3, ()).expect("manager v3");
    let mut client = Client::default();
    dispatch_until(&mut queue, &mut client, |c| {
        c.windows.len() == 2 && c.window(1).done == 1
    });
    assert_eq!(client.window(0).parent, None);
    assert_eq!(client.window(1).parent, Some(client.windows[0].0.id()));

    // The dialog is detached from its parent.
    server.with(|s, _| {
        let dialog = s.windows[1].clone();
        let mut info = dialog.info();
        info.parent = None;
        dialog.set_info(info);
    });
    dispatch_until(&mut queue, &mut client, |c| c.window(1).done == 2);
    assert_eq!(client.window(1).parent, None);
}
