//! wlr-output-management against real wayland-client clients: the head as advertised,
//! test-only and applied configurations with custom modes and fractional scale, updates to
//! every manager, stale serials, refused sizes and protocol misuse.

#[macro_use]
mod proto_harness;

use std::sync::{Arc, Mutex};

use proto_harness::{Server, dispatch_until, make_output};
use skerry_compositor::protocols::output_management::{
    ModeRequest, OutputConfigError, OutputConfiguration, OutputManagementHandler,
    OutputManagementState,
};
use smithay::output::{Mode, Output, Scale};
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_registry;
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};
use wayland_protocols_wlr::output_management::v1::client::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    _outputs: OutputManagerState,
    management: OutputManagementState,
    output: Output,
    applied: Vec<OutputConfiguration>,
    refuse: bool,
}

impl OutputHandler for State {}
impl OutputManagementHandler for State {
    fn output_management_state(&mut self) -> &mut OutputManagementState {
        &mut self.management
    }
    fn apply_output_configuration(
        &mut self,
        config: OutputConfiguration,
    ) -> Result<(), OutputConfigError> {
        if self.refuse {
            return Err(OutputConfigError::Refused("test refuses".into()));
        }
        for head in &config.heads {
            let mode = match head.mode {
                Some(ModeRequest::Advertised(mode)) => Some(mode),
                Some(ModeRequest::Custom { size, refresh }) => Some(Mode {
                    size,
                    refresh: if refresh > 0 { refresh } else { 60_000 },
                }),
                None => None,
            };
            head.output.change_current_state(
                mode,
                head.transform,
                head.scale.map(Scale::Fractional),
                head.position,
            );
        }
        self.applied.push(config);
        Ok(())
    }
}
smithay::delegate_output!(State);
test_compositor!(State);
skerry_compositor::delegate_output_management!(State);

fn start() -> Server<State> {
    Server::start(|display| {
        let output = make_output("HEADLESS-1", 1920, 1080);
        output.create_global::<State>(display);
        let mut management = OutputManagementState::new::<State>(display, |_| true);
        management.add_head::<State>(&output);
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            _outputs: OutputManagerState::new(),
            management,
            output,
            applied: Vec::new(),
            refuse: false,
        }
    })
}

#[derive(Debug, Default)]
struct HeadEvents {
    name: Option<String>,
    modes: Vec<ZwlrOutputModeV1>,
    enabled: Option<i32>,
    current_mode: Option<ZwlrOutputModeV1>,
    position: Option<(i32, i32)>,
    scale: Option<f64>,
}
type Head = Arc<Mutex<HeadEvents>>;
type ModeEvents = Arc<Mutex<(i32, i32, i32, bool)>>;
type Outcome = Arc<Mutex<Option<&'static str>>>;

#[derive(Default)]
struct Client {
    heads: Vec<(ZwlrOutputHeadV1, Head)>,
    serial: Option<u32>,
    dones: usize,
}

impl Client {
    fn head(&self) -> std::sync::MutexGuard<'_, HeadEvents> {
        self.heads[0].1.lock().expect("head")
    }
    fn current_size(&self) -> Option<(i32, i32)> {
        let head = self.head();
        let mode = head
            .current_mode
            .as_ref()?
            .data::<ModeEvents>()?
            .lock()
            .ok()?;
        Some((mode.0, mode.1))
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
ignore_events!(Client: ZwlrOutputConfigurationHeadV1);

impl Dispatch<ZwlrOutputManagerV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ZwlrOutputManagerV1,
        event: zwlr_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_output_manager_v1::Event::Head { head } => {
                let data = head.data::<Head>().cloned().unwrap_or_default();
                state.heads.push((head, data));
            }
            zwlr_output_manager_v1::Event::Done { serial } => {
                state.serial = Some(serial);
                state.dones += 1;
            }
            _ => {}
        }
    }

    wayland_client::event_created_child!(Client, ZwlrOutputManagerV1, [
        zwlr_output_manager_v1::EVT_HEAD_OPCODE => (ZwlrOutputHeadV1, Head::default())
    ]);
}

impl Dispatch<ZwlrOutputHeadV1, Head> for Client {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputHeadV1,
        event: zwlr_output_head_v1::Event,
        data: &Head,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_output_head_v1::Event;
        let mut h = data.lock().expect("head");
        match event {
            Event::Name { name } => h.name = Some(name),
            Event::Mode { mode } => h.modes.push(mode),
            Event::Enabled { enabled } => h.enabled = Some(enabled),
            Event::CurrentMode { mode } => h.current_mode = Some(mode),
            Event::Position { x, y } => h.position = Some((x, y)),
            Event::Scale { scale } => h.scale = Some(scale),
            _ => {}
        }
    }

    wayland_client::event_created_child!(Client, ZwlrOutputHeadV1, [
        zwlr_output_head_v1::EVT_MODE_OPCODE => (ZwlrOutputModeV1, ModeEvents::default())
    ]);
}

impl Dispatch<ZwlrOutputModeV1, ModeEvents> for Client {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputModeV1,
        event: zwlr_output_mode_v1::Event,
        data: &ModeEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut m = data.lock().expect("mode");
        match event {
            zwlr_output_mode_v1::Event::Size { width, height } => (m.0, m.1) = (width, height),
            zwlr_output_mode_v1::Event::Refresh { refresh } => m.2 = refresh,
            zwlr_output_mode_v1::Event::Preferred => m.3 = true,
            _ => {}
        }
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, Outcome> for Client {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputConfigurationV1,
        event: zwlr_output_configuration_v1::Event,
        data: &Outcome,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let outcome = match event {
            zwlr_output_configuration_v1::Event::Succeeded => "succeeded",
            zwlr_output_configuration_v1::Event::Failed => "failed",
            zwlr_output_configuration_v1::Event::Cancelled => "cancelled",
            _ => return,
        };
        *data.lock().expect("outcome") = Some(outcome);
    }
}

struct Session {
    conn: Connection,
    queue: EventQueue<Client>,
    client: Client,
    manager: ZwlrOutputManagerV1,
}

impl Session {
    fn open(server: &Server<State>) -> Self {
        let conn = server.connect();
        let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
        let manager: ZwlrOutputManagerV1 = globals
            .bind(&queue.handle(), 4..=4, ())
            .expect("manager v4");
        let mut client = Client::default();
        dispatch_until(&mut queue, &mut client, |c| c.serial.is_some());
        Self {
            conn,
            queue,
            client,
            manager,
        }
    }

    /// Sends a configuration enabling the head with `configure`, then `apply` or `test`.
    fn configure(
        &mut self,
        serial: u32,
        apply: bool,
        configure: impl FnOnce(&ZwlrOutputConfigurationHeadV1),
    ) -> Outcome {
        let qh = self.queue.handle();
        let outcome = Outcome::default();
        let config = self
            .manager
            .create_configuration(serial, &qh, outcome.clone());
        let head = config.enable_head(&self.client.heads[0].0, &qh, ());
        configure(&head);
        if apply {
            config.apply();
        } else {
            config.test();
        }
        outcome
    }

    fn wait(&mut self, outcome: &Outcome) -> &'static str {
        dispatch_until(&mut self.queue, &mut self.client, |_| {
            outcome.lock().expect("o").is_some()
        });
        outcome.lock().expect("o").expect("outcome")
    }
}

#[test]
fn output_management_advertises_the_headless_head() {
    let server = start();
    let s = Session::open(&server);
    assert_eq!(s.client.heads.len(), 1);
    let head = s.client.head();
    assert_eq!(head.name.as_deref(), Some("HEADLESS-1"));
    assert_eq!(head.enabled, Some(1));
    assert_eq!(head.position, Some((0, 0)));
    assert_eq!(head.scale, Some(1.0));
    assert_eq!(head.modes.len(), 1);
    drop(head);
    assert_eq!(s.client.current_size(), Some((1920, 1080)));
    let mode = s.client.head().modes[0]
        .data::<ModeEvents>()
        .cloned()
        .expect("mode data");
    assert_eq!(*mode.lock().expect("m"), (1920, 1080, 60_000, true));
}

#[test]
fn output_management_test_then_apply_custom_mode_and_fractional_scale() {
    let server = start();
    let mut s = Session::open(&server);
    let mut other = Session::open(&server);
    let serial = s.client.serial.expect("serial");

    let outcome = s.configure(serial, false, |h| {
        h.set_custom_mode(1280, 720, 0);
        h.set_scale(1.5);
    });
    assert_eq!(s.wait(&outcome), "succeeded");
    assert!(
        server.with(|st, _| st.applied.is_empty()),
        "test changes nothing"
    );

    let outcome = s.configure(serial, true, |h| {
        h.set_custom_mode(1280, 720, 0);
        h.set_scale(1.5);
    });
    assert_eq!(s.wait(&outcome), "succeeded");
    let (mode, scale) = server.with(|st, _| {
        (
            st.output.current_mode().map(|m| m.size),
            st.output.current_scale().fractional_scale(),
        )
    });
    assert_eq!((mode, scale), (Some((1280, 720).into()), 1.5));

    // Both managers hear about the change under a new serial.
    for session in [&mut s, &mut other] {
        dispatch_until(&mut session.queue, &mut session.client, |c| {
            c.serial != Some(serial)
        });
        assert_eq!(session.client.current_size(), Some((1280, 720)));
        assert_eq!(session.client.head().scale, Some(1.5));
    }

    // A configuration made against the old serial is cancelled.
    let outcome = s.configure(serial, true, |h| h.set_custom_mode(800, 600, 0));
    assert_eq!(s.wait(&outcome), "cancelled");
    drop(other.conn);
}

#[test]
fn output_management_refuses_absurd_sizes_and_handler_refusals() {
    let server = start();
    let mut s = Session::open(&server);
    let serial = s.client.serial.expect("serial");
    let outcome = s.configure(serial, true, |h| h.set_custom_mode(16, 16, 0));
    assert_eq!(s.wait(&outcome), "failed");
    let outcome = s.configure(serial, true, |h| h.set_custom_mode(9000, 600, 0));
    assert_eq!(s.wait(&outcome), "failed");

    server.with(|st, _| st.refuse = true);
    let outcome = s.configure(serial, true, |h| h.set_custom_mode(1024, 768, 0));
    assert_eq!(s.wait(&outcome), "failed");
    assert_eq!(
        server.with(|st, _| st.output.current_mode().map(|m| m.size)),
        Some((1920, 1080).into())
    );
}

#[test]
fn output_management_misuse_is_a_protocol_error_and_others_keep_working() {
    let server = start();
    let mut bad = Session::open(&server);
    let serial = bad.client.serial.expect("serial");
    let _outcome = bad.configure(serial, true, |h| {
        h.set_scale(2.0);
        h.set_scale(1.0);
    });
    assert!(bad.queue.roundtrip(&mut bad.client).is_err());
    let err = bad.conn.protocol_error().expect("protocol error");
    assert_eq!(
        err.code,
        zwlr_output_configuration_head_v1::Error::AlreadySet as u32
    );

    // Applying without naming the head is also an error.
    let mut bad = Session::open(&server);
    let qh = bad.queue.handle();
    let config = bad
        .manager
        .create_configuration(serial, &qh, Outcome::default());
    config.apply();
    assert!(bad.queue.roundtrip(&mut bad.client).is_err());
    let err = bad.conn.protocol_error().expect("protocol error");
    assert_eq!(
        err.code,
        zwlr_output_configuration_v1::Error::UnconfiguredHead as u32
    );

    let mut good = Session::open(&server);
    let outcome = good.configure(serial, true, |h| h.set_scale(2.0));
    assert_eq!(good.wait(&outcome), "succeeded");
}
