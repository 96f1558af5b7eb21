//! Random operation sequences against the state machine, checking its invariants after
//! every step: whatever happens, the supervisor never starts a service before what it needs
//! is ready, never stops a service before what needs it, and ends only when nothing runs.

use std::time::Duration;

use proptest::prelude::*;
use skerry_init::machine::{
    Action, Event, Exit, Machine, Outcome, RestartPolicy, ServicePlan, Sig, State, Timing,
};

#[derive(Debug, Clone)]
enum Op {
    /// The n-th living service ends with this code (negative: killed by that signal).
    End(usize, i32),
    /// The n-th service says READY=1.
    Ready(usize),
    /// Time passes.
    Wait(u64),
    Stop,
    Hangup,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<usize>(), -15i32..3).prop_map(|(n, c)| Op::End(n, c)),
        3 => any::<usize>().prop_map(Op::Ready),
        3 => (0u64..40_000).prop_map(Op::Wait),
        1 => Just(Op::Stop),
        1 => Just(Op::Hangup),
    ]
}

fn plans() -> impl Strategy<Value = Vec<ServicePlan>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            0u8..3,
            any::<bool>(),
        ),
        1..6,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(
                |(i, (deps, critical, ready_on_start, restart, timeout))| ServicePlan {
                    name: format!("s{i}"),
                    // Only earlier services: no cycles, as validation guarantees.
                    after: (0..i).filter(|d| deps & (1 << d) != 0).collect(),
                    critical,
                    ready_on_start,
                    restart: [
                        RestartPolicy::Always,
                        RestartPolicy::OnFailure,
                        RestartPolicy::Never,
                    ][restart as usize],
                    ready_timeout: timeout.then(|| Duration::from_secs(5)),
                },
            )
            .collect()
    })
}

struct Sim {
    m: Machine,
    now: Duration,
    next_pid: i32,
    done: Option<Outcome>,
}

impl Sim {
    fn feed(&mut self, event: Event) {
        let mut queue = vec![event];
        while let Some(ev) = queue.pop() {
            let actions = self.m.handle(self.now, ev);
            if self.done.is_some() {
                assert!(actions.is_empty(), "actions after the end: {actions:?}");
            }
            for a in actions {
                self.check_action(&a);
                match a {
                    Action::Spawn(id) => {
                        self.next_pid += 1;
                        queue.push(Event::Spawned(id, self.next_pid));
                    }
                    Action::Signal(..) => {}
                    Action::Exit(outcome) => {
                        assert!(self.m.services().iter().all(|s| s.pid.is_none()));
                        self.done = Some(outcome);
                    }
                }
            }
            self.check_states();
        }
    }

    fn check_action(&self, a: &Action) {
        let services = self.m.services();
        match *a {
            Action::Spawn(id) => {
                assert!(!self.m.is_stopping(), "spawn while stopping");
                assert!(services[id].pid.is_none(), "spawn of a running service");
                for &d in &services[id].plan.after {
                    assert!(services[d].ready(), "{id} spawned before {d} was ready");
                }
            }
            Action::Signal(id, sig) => {
                assert!(services[id].pid.is_some(), "signal to a dead service");
                if self.m.is_stopping() && sig == Sig::Term {
                    // Reverse order: nothing that needs it is still alive.
                    for (other, s) in services.iter().enumerate() {
                        assert!(
                            !(s.plan.after.contains(&id) && s.pid.is_some()),
                            "{id} stopped while {other} that needs it is alive"
                        );
                    }
                }
            }
            Action::Exit(_) => {}
        }
    }

    fn check_states(&self) {
        let services = self.m.services();
        for (id, s) in services.iter().enumerate() {
            let alive_state = matches!(s.state, State::Running { .. } | State::Stopping { .. })
                || (matches!(s.state, State::Starting { .. }) && s.pid.is_some());
            assert_eq!(s.pid.is_some(), alive_state, "service {id}: {:?}", s.state);
            if !self.m.is_stopping() && s.ready() {
                for &d in &s.plan.after {
                    assert!(services[d].ready(), "{id} runs while {d} is not ready");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn invariants_hold(plans in plans(), ops in prop::collection::vec(op(), 0..80)) {
        let timing = Timing { restart_limit: 3, ..Timing::default() };
        let mut sim = Sim { m: Machine::new(plans, timing), now: Duration::ZERO, next_pid: 1, done: None };
        sim.feed(Event::Start);
        for op in ops {
            match op {
                Op::End(n, code) => {
                    let alive: Vec<usize> = (0..sim.m.services().len())
                        .filter(|&i| sim.m.services()[i].pid.is_some())
                        .collect();
                    if alive.is_empty() {
                        continue;
                    }
                    let exit = if code < 0 { Exit::Signal(-code) } else { Exit::Code(code) };
                    sim.feed(Event::Exited(alive[n % alive.len()], exit));
                }
                Op::Ready(n) => {
                    let id = n % sim.m.services().len();
                    sim.feed(Event::Ready(id));
                }
                Op::Wait(ms) => {
                    sim.now += Duration::from_millis(ms);
                    sim.feed(Event::Tick);
                }
                Op::Stop => sim.feed(Event::StopRequested),
                Op::Hangup => sim.feed(Event::Hangup),
            }
        }
        // However it got here, a stop request ends everything once the processes die.
        sim.feed(Event::StopRequested);
        for _ in 0..20 {
            if sim.done.is_some() {
                break;
            }
            sim.now += Duration::from_secs(11);
            sim.feed(Event::Tick);
            let alive: Vec<usize> = (0..sim.m.services().len())
                .filter(|&i| sim.m.services()[i].pid.is_some())
                .collect();
            for id in alive {
                sim.feed(Event::Exited(id, Exit::Signal(9)));
            }
        }
        prop_assert!(sim.done.is_some(), "the supervisor never ended");
    }
}
