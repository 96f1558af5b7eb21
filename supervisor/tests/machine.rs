//! Table tests of the supervisor's decisions: each row is (time in ms, event, the actions
//! expected in answer). No processes; time is whatever the row says.

use std::time::Duration;

use skerry_init::machine::{
    Action::{self, Exit as Done, Signal, Spawn},
    Event::{self, *},
    Exit, Machine, Outcome, RestartPolicy, ServicePlan,
    Sig::{Hup, Kill, Term},
    Timing,
};

fn plan(name: &str, after: &[usize]) -> ServicePlan {
    ServicePlan {
        name: name.into(),
        after: after.to_vec(),
        critical: false,
        ready_on_start: true,
        restart: RestartPolicy::Always,
        ready_timeout: None,
    }
}

/// compositor (0, critical, notify) <- app (1), streamer (2, notify).
fn appliance() -> Machine {
    let compositor = ServicePlan {
        critical: true,
        ready_on_start: false,
        ..plan("compositor", &[])
    };
    let streamer = ServicePlan {
        ready_on_start: false,
        ..plan("streamer", &[0])
    };
    Machine::new(
        vec![compositor, plan("app", &[0]), streamer],
        Timing::default(),
    )
}

fn ms(t: u64) -> Duration {
    Duration::from_millis(t)
}

#[track_caller]
fn table(m: &mut Machine, rows: &[(u64, Event, Vec<Action>)]) {
    for (i, (t, event, expected)) in rows.iter().enumerate() {
        let got = m.handle(ms(*t), event.clone());
        assert_eq!(&got, expected, "row {i}: at {t} ms, {event:?}");
    }
}

/// Brings the appliance up: pids 100, 101, 102 at time 0.
fn up(m: &mut Machine) {
    table(
        m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Spawned(0, 100), vec![]),
            (0, Ready(0), vec![Spawn(1), Spawn(2)]),
            (0, Spawned(1, 101), vec![]),
            (0, Spawned(2, 102), vec![]),
            (0, Ready(2), vec![]),
        ],
    );
    assert!(m.ready());
}

#[test]
fn starts_in_dependency_order_with_readiness() {
    let mut m = appliance();
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (5, Spawned(0, 100), vec![]),
            // Not ready yet: nothing that needs the compositor starts.
            (50, Tick, vec![]),
            // A READY=1 from a service that is not starting is ignored.
            (60, Ready(2), vec![]),
            (70, Ready(0), vec![Spawn(1), Spawn(2)]),
            (71, Spawned(1, 101), vec![]),
            (72, Spawned(2, 102), vec![]),
        ],
    );
    // The app has no readiness protocol; the streamer has not said READY=1.
    assert!(m.services()[1].ready());
    assert!(!m.services()[2].ready());
    assert!(!m.ready());
    table(&mut m, &[(90, Ready(2), vec![])]);
    assert!(m.ready());
}

#[test]
fn streamer_crash_restarts_only_the_streamer_with_backoff() {
    let mut m = appliance();
    up(&mut m);
    table(
        &mut m,
        &[
            // No signal to the app or the compositor.
            (1_000, Exited(2, Exit::Code(1)), vec![]),
            (1_499, Tick, vec![]),
            (1_500, Tick, vec![Spawn(2)]),
            (1_500, Spawned(2, 200), vec![]),
            (1_600, Exited(2, Exit::Signal(11)), vec![]),
            // The second delay doubled.
            (2_599, Tick, vec![]),
            (2_600, Tick, vec![Spawn(2)]),
        ],
    );
    assert_eq!(m.services()[2].restarts, 2);
    assert_eq!(m.services()[1].restarts, 0);
    assert_eq!(m.services()[1].pid, Some(101));
}

#[test]
fn backoff_doubles_to_the_cap_and_resets_after_a_stable_run() {
    let timing = Timing {
        restart_limit: 100,
        restart_window: Duration::from_secs(3600),
        ..Timing::default()
    };
    let mut m = Machine::new(vec![plan("svc", &[])], timing);
    table(&mut m, &[(0, Start, vec![Spawn(0)])]);
    let mut now = 0;
    let mut pid = 1;
    let mut delays = Vec::new();
    for _ in 0..9 {
        m.handle(ms(now), Spawned(0, pid));
        pid += 1;
        m.handle(ms(now + 10), Exited(0, Exit::Code(1)));
        let deadline = m.next_deadline().expect("a restart is scheduled");
        delays.push(deadline.as_millis() as u64 - (now + 10));
        now = deadline.as_millis() as u64;
        assert_eq!(m.handle(ms(now), Tick), vec![Spawn(0)]);
    }
    assert_eq!(
        delays,
        [
            500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
        ]
    );
    // Up for longer than the reset time: the next failure waits the initial delay again.
    m.handle(ms(now), Spawned(0, pid));
    m.handle(ms(now + 31_000), Exited(0, Exit::Code(1)));
    assert_eq!(m.next_deadline(), Some(ms(now + 31_000 + 500)));
}

#[test]
fn critical_service_failing_too_often_stops_the_appliance() {
    let timing = Timing {
        restart_limit: 3,
        ..Timing::default()
    };
    let mut m = Machine::new(
        vec![
            ServicePlan {
                critical: true,
                ..plan("compositor", &[])
            },
            plan("app", &[0]),
        ],
        timing,
    );
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Spawned(0, 10), vec![Spawn(1)]),
            (0, Spawned(1, 11), vec![]),
            // First failure: the app goes down with the compositor.
            (100, Exited(0, Exit::Code(1)), vec![Signal(1, Term)]),
            (110, Exited(1, Exit::Signal(15)), vec![]),
            (600, Tick, vec![Spawn(0)]),
            (600, Spawned(0, 12), vec![Spawn(1)]),
            (600, Spawned(1, 13), vec![]),
            (700, Exited(0, Exit::Code(1)), vec![Signal(1, Term)]),
            (710, Exited(1, Exit::Signal(15)), vec![]),
            (1_700, Tick, vec![Spawn(0)]),
            (1_700, Spawned(0, 14), vec![Spawn(1)]),
            (1_700, Spawned(1, 15), vec![]),
            (1_800, Exited(0, Exit::Code(1)), vec![Signal(1, Term)]),
            (1_810, Exited(1, Exit::Signal(15)), vec![]),
            (3_810, Tick, vec![Spawn(0)]),
            (3_810, Spawned(0, 16), vec![Spawn(1)]),
            (3_810, Spawned(1, 17), vec![]),
            // Fourth failure within the window, limit 3: give up; the app is stopped.
            (3_900, Exited(0, Exit::Code(1)), vec![Signal(1, Term)]),
            (
                3_910,
                Exited(1, Exit::Code(0)),
                vec![Done(Outcome::CriticalFailed(0))],
            ),
        ],
    );
    assert_eq!(Outcome::CriticalFailed(0).exit_code(), 3);
    // The dependency restarts did not count as the app's failures.
    assert_eq!(m.services()[1].restarts, 0);
    assert_eq!(m.services()[0].restarts, 3);
}

#[test]
fn non_critical_service_gives_up_alone() {
    let timing = Timing {
        restart_limit: 1,
        ..Timing::default()
    };
    let a = ServicePlan {
        restart: RestartPolicy::Never,
        ..plan("a", &[])
    };
    let mut m = Machine::new(vec![a, plan("b", &[])], timing);
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0), Spawn(1)]),
            (0, Spawned(0, 10), vec![]),
            (0, Spawned(1, 11), vec![]),
            (10, Exited(1, Exit::Code(2)), vec![]),
            (510, Tick, vec![Spawn(1)]),
            (510, Spawned(1, 12), vec![]),
            (520, Exited(1, Exit::Code(2)), vec![]),
            (60_000, Tick, vec![]),
        ],
    );
    assert_eq!(m.services()[1].state.name(), "failed");
    assert_eq!(m.services()[0].pid, Some(10));
    assert!(!m.ready());
    // When the last one ends, the supervisor ends, reporting the failure.
    table(
        &mut m,
        &[(
            60_001,
            Exited(0, Exit::Code(0)),
            vec![Done(Outcome::ServicesFailed)],
        )],
    );
}

#[test]
fn restart_policies() {
    let never = ServicePlan {
        restart: RestartPolicy::Never,
        ..plan("never", &[])
    };
    let on_failure = ServicePlan {
        restart: RestartPolicy::OnFailure,
        ..plan("on-failure", &[])
    };
    let mut m = Machine::new(vec![never, on_failure], Timing::default());
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0), Spawn(1)]),
            (0, Spawned(0, 10), vec![]),
            (0, Spawned(1, 11), vec![]),
            (5, Exited(1, Exit::Code(3)), vec![]),
            (505, Tick, vec![Spawn(1)]),
            (505, Spawned(1, 12), vec![]),
            (600, Exited(1, Exit::Code(0)), vec![]),
            (700, Exited(0, Exit::Code(0)), vec![Done(Outcome::AllDone)]),
            // Nothing more after the end.
            (800, Tick, vec![]),
        ],
    );
    let mut m = Machine::new(
        vec![ServicePlan {
            restart: RestartPolicy::Never,
            ..plan("x", &[])
        }],
        Timing::default(),
    );
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Spawned(0, 10), vec![]),
            (
                1,
                Exited(0, Exit::Code(1)),
                vec![Done(Outcome::ServicesFailed)],
            ),
        ],
    );
    assert_eq!(Outcome::ServicesFailed.exit_code(), 4);
}

#[test]
fn compositor_crash_restarts_its_dependents_after_it() {
    let mut m = appliance();
    up(&mut m);
    table(
        &mut m,
        &[
            (
                1_000,
                Exited(0, Exit::Signal(6)),
                vec![Signal(1, Term), Signal(2, Term)],
            ),
            (1_010, Exited(1, Exit::Signal(15)), vec![]),
            (1_020, Exited(2, Exit::Code(0)), vec![]),
            (1_500, Tick, vec![Spawn(0)]),
            (1_500, Spawned(0, 300), vec![]),
            (1_600, Ready(0), vec![Spawn(1), Spawn(2)]),
        ],
    );
    assert_eq!(m.services()[0].restarts, 1);
    assert_eq!(m.services()[1].restarts, 0);
    assert_eq!(m.services()[2].restarts, 0);
}

#[test]
fn stop_goes_in_reverse_dependency_order() {
    // a <- b <- c, and d alone.
    let mut m = Machine::new(
        vec![
            plan("a", &[]),
            plan("b", &[0]),
            plan("c", &[1]),
            plan("d", &[]),
        ],
        Timing::default(),
    );
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0), Spawn(3)]),
            (0, Spawned(0, 10), vec![Spawn(1)]),
            (0, Spawned(3, 13), vec![]),
            (0, Spawned(1, 11), vec![Spawn(2)]),
            (0, Spawned(2, 12), vec![]),
            (100, StopRequested, vec![Signal(2, Term), Signal(3, Term)]),
            (110, Exited(3, Exit::Code(0)), vec![]),
            (120, Exited(2, Exit::Code(0)), vec![Signal(1, Term)]),
            (130, Exited(1, Exit::Code(0)), vec![Signal(0, Term)]),
            // A second request changes nothing.
            (131, StopRequested, vec![]),
            (140, Exited(0, Exit::Code(0)), vec![Done(Outcome::Stopped)]),
        ],
    );
    assert_eq!(Outcome::Stopped.exit_code(), 0);
}

#[test]
fn stop_kills_what_outlives_the_grace_period() {
    let mut m = Machine::new(vec![plan("a", &[]), plan("b", &[0])], Timing::default());
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Spawned(0, 10), vec![Spawn(1)]),
            (0, Spawned(1, 11), vec![]),
            (1_000, StopRequested, vec![Signal(1, Term)]),
            (10_999, Tick, vec![]),
            (11_000, Tick, vec![Signal(0, Kill), Signal(1, Kill)]),
            (11_001, Tick, vec![]),
            (11_010, Exited(1, Exit::Signal(9)), vec![]),
            (
                11_020,
                Exited(0, Exit::Signal(9)),
                vec![Done(Outcome::StopTimedOut)],
            ),
        ],
    );
    assert_eq!(Outcome::StopTimedOut.exit_code(), 5);
}

#[test]
fn stop_during_backoff_and_startup() {
    let mut m = appliance();
    up(&mut m);
    table(
        &mut m,
        &[
            (1_000, Exited(2, Exit::Code(1)), vec![]),
            // The streamer is in backoff: it is not started again, just forgotten.
            (1_100, StopRequested, vec![Signal(1, Term)]),
            (2_000, Tick, vec![]),
            (2_100, Exited(1, Exit::Code(0)), vec![Signal(0, Term)]),
            (
                2_200,
                Exited(0, Exit::Code(0)),
                vec![Done(Outcome::Stopped)],
            ),
        ],
    );
}

#[test]
fn hangup_is_forwarded_to_every_running_service() {
    let mut m = appliance();
    up(&mut m);
    table(
        &mut m,
        &[(
            10,
            Hangup,
            vec![Signal(0, Hup), Signal(1, Hup), Signal(2, Hup)],
        )],
    );
}

#[test]
fn readiness_timeout_counts_as_a_failure() {
    let slow = ServicePlan {
        ready_on_start: false,
        ready_timeout: Some(Duration::from_secs(2)),
        ..plan("slow", &[])
    };
    let mut m = Machine::new(vec![slow], Timing::default());
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Spawned(0, 10), vec![]),
            (1_999, Tick, vec![]),
            (2_000, Tick, vec![Signal(0, Term)]),
            (12_000, Tick, vec![Signal(0, Kill)]),
            (12_001, Exited(0, Exit::Signal(9)), vec![]),
            (12_501, Tick, vec![Spawn(0)]),
        ],
    );
    assert_eq!(m.services()[0].restarts, 1);
}

#[test]
fn a_service_that_cannot_start_is_retried_then_given_up() {
    let timing = Timing {
        restart_limit: 2,
        ..Timing::default()
    };
    let mut m = Machine::new(
        vec![ServicePlan {
            critical: true,
            ..plan("compositor", &[])
        }],
        timing,
    );
    table(
        &mut m,
        &[
            (0, Start, vec![Spawn(0)]),
            (0, Exited(0, Exit::SpawnFailed), vec![]),
            (500, Tick, vec![Spawn(0)]),
            (500, Exited(0, Exit::SpawnFailed), vec![]),
            (1_500, Tick, vec![Spawn(0)]),
            (
                1_500,
                Exited(0, Exit::SpawnFailed),
                vec![Done(Outcome::CriticalFailed(0))],
            ),
        ],
    );
}

#[test]
fn deadlines_tell_the_runner_when_to_wake() {
    let mut m = appliance();
    assert_eq!(m.next_deadline(), None);
    up(&mut m);
    assert_eq!(m.next_deadline(), None);
    m.handle(ms(1_000), Exited(2, Exit::Code(1)));
    assert_eq!(m.next_deadline(), Some(ms(1_500)));
    m.handle(ms(1_100), StopRequested);
    // Stopping: only the grace deadline matters.
    assert_eq!(m.next_deadline(), Some(ms(11_100)));
}

#[test]
fn stray_events_are_ignored() {
    let mut m = appliance();
    up(&mut m);
    table(
        &mut m,
        &[
            (1, Exited(7, Exit::Code(1)), vec![]),
            (1, Ready(9), vec![]),
            (1, Spawned(1, 999), vec![]),
        ],
    );
    assert_eq!(m.services()[1].pid, Some(101));
}
