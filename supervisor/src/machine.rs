//! The supervisor's decisions, as a pure state machine.
//!
//! Everything that decides *what* to do — which service to start next, when a crashed one
//! may come back, when to give up, in which order to stop — lives here and nothing else
//! does: no processes, no clocks, no signals. The runner feeds [`Event`]s in with the
//! current time and carries out the [`Action`]s that come back. That split is what lets
//! restart policy be tested with tables of events instead of real crashing processes.
//!
//! Time is a [`Duration`] since the supervisor started, supplied by the caller.

use std::collections::VecDeque;
use std::time::Duration;

/// Index of a service in the list given to [`Machine::new`].
pub type ServiceId = usize;

/// When a service that ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Whatever the exit status.
    Always,
    /// Only after a non-zero exit or a death by signal.
    OnFailure,
    /// Never: the service is done once it ends.
    Never,
}

/// What the state machine needs to know about one service.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub name: String,
    /// Services that must be ready before this one starts; they are also stopped after it.
    pub after: Vec<ServiceId>,
    /// A critical service that keeps failing (or ends for good) stops the appliance.
    pub critical: bool,
    /// The service is ready as soon as it started (no readiness protocol).
    pub ready_on_start: bool,
    pub restart: RestartPolicy,
    /// How long a started service may take to report readiness; `None` waits forever.
    pub ready_timeout: Option<Duration>,
}

/// Restart and stop timing shared by all services.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Delay before the first restart; doubles after each quick failure.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A service that stayed up this long starts over at `backoff_initial`.
    pub backoff_reset_after: Duration,
    /// More than `restart_limit` restarts within `restart_window` and the service fails.
    pub restart_limit: u32,
    pub restart_window: Duration,
    /// Time between SIGTERM and SIGKILL when stopping.
    pub grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            backoff_reset_after: Duration::from_secs(30),
            restart_limit: 10,
            restart_window: Duration::from_secs(60),
            grace: Duration::from_secs(10),
        }
    }
}

/// How a service's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The process could not be started at all (exec failed, binary missing).
    SpawnFailed,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// Something that happened, fed to [`Machine::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Begin: start whatever has no unmet dependency.
    Start,
    /// The runner started the service (after an [`Action::Spawn`]).
    Spawned(ServiceId, i32),
    /// The service said it is ready (sd_notify `READY=1`, or its socket appeared).
    Ready(ServiceId),
    /// The service's main process ended.
    Exited(ServiceId, Exit),
    /// Time passed; lets deadlines (backoff, grace, readiness) fire.
    Tick,
    /// SIGTERM or SIGINT: stop everything in reverse dependency order.
    StopRequested,
    /// SIGHUP: pass it on to every running service.
    Hangup,
}

/// A signal the runner sends to a service's whole process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Term,
    Kill,
    Hup,
}

/// Why the supervisor ends; each maps to a documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stopped on request, every service ended within the grace period.
    Stopped,
    /// Stopped on request, but some service had to be killed after the grace period.
    StopTimedOut,
    /// A critical service failed too often (or ended for good).
    CriticalFailed(ServiceId),
    /// Every service ended by itself and at least one failed.
    ServicesFailed,
    /// Every service ended by itself, successfully.
    AllDone,
}

impl Outcome {
    /// The process exit code for this outcome (see docs/configuration.md).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Stopped | Outcome::AllDone => 0,
            Outcome::CriticalFailed(_) => 3,
            Outcome::ServicesFailed => 4,
            Outcome::StopTimedOut => 5,
        }
    }
}

/// What the runner must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Spawn(ServiceId),
    Signal(ServiceId, Sig),
    /// Every service has ended: exit the supervisor.
    Exit(Outcome),
}

/// Where one service is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State {
    /// Waiting for its dependencies to be ready.
    Waiting,
    /// Spawn requested, or started and not ready yet.
    Starting { since: Duration },
    /// Started and ready.
    Running { since: Duration },
    /// Crashed; starts again at `until`.
    Backoff { until: Duration },
    /// Sent SIGTERM; SIGKILL at `kill_at` unless it ends first.
    Stopping {
        kill_at: Duration,
        killed: bool,
        then: AfterStop,
    },
    /// Ended and will not start again (policy, or the appliance is stopping).
    Stopped,
    /// Failed too often; given up.
    Failed,
}

/// What happens once a service being stopped has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Its dependency went away: start again once the dependency is back.
    WaitForDeps,
    /// It did not get ready in time: count it as a failure.
    Failure,
    /// The appliance is stopping.
    Stay,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting { .. } => "starting",
            State::Running { .. } => "running",
            State::Backoff { .. } => "backoff",
            State::Stopping { .. } => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

/// The live record of one service.
#[derive(Debug, Clone)]
pub struct Service {
    pub plan: ServicePlan,
    pub state: State,
    pub pid: Option<i32>,
    /// Restarts after failures or exits (not restarts caused by a dependency).
    pub restarts: u32,
    pub last_exit: Option<Exit>,
    recent_restarts: VecDeque<Duration>,
    next_delay: Duration,
}

impl Service {
    pub fn ready(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }
}

/// The whole supervisor's decision state.
#[derive(Debug)]
pub struct Machine {
    services: Vec<Service>,
    timing: Timing,
    started: bool,
    /// Set once stopping began; the outcome reported at exit.
    stopping: Option<Outcome>,
    stop_deadline: Option<Duration>,
    /// Some service needed SIGKILL while the appliance was stopping.
    stop_killed: bool,
    exited: bool,
}

impl Machine {
    /// `plans` must be valid: dependencies point at earlier-validated ids and form no cycle.
    pub fn new(plans: Vec<ServicePlan>, timing: Timing) -> Self {
        let services = plans
            .into_iter()
            .map(|plan| Service {
                plan,
                state: State::Waiting,
                pid: None,
                restarts: 0,
                last_exit: None,
                recent_restarts: VecDeque::new(),
                next_delay: timing.backoff_initial,
            })
            .collect();
        Self {
            services,
            timing,
            started: false,
            stopping: None,
            stop_deadline: None,
            stop_killed: false,
            exited: false,
        }
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// The appliance is ready: not stopping, and every service is ready or ended well.
    pub fn ready(&self) -> bool {
        self.started
            && self.stopping.is_none()
            && self.services.iter().all(|s| {
                s.ready() || (s.state == State::Stopped && s.last_exit.is_some_and(Exit::success))
            })
    }

    /// The earliest time at which a [`Event::Tick`] would change something.
    pub fn next_deadline(&self) -> Option<Duration> {
        let mut next: Option<Duration> = self.stop_deadline;
        let mut consider = |t: Duration| next = Some(next.map_or(t, |n| n.min(t)));
        for s in &self.services {
            match s.state {
                State::Backoff { until } if self.stopping.is_none() => consider(until),
                State::Starting { since } if s.pid.is_some() => {
                    if let Some(timeout) = s.plan.ready_timeout {
                        consider(since + timeout);
                    }
                }
                State::Stopping {
                    kill_at,
                    killed: false,
                    ..
                } => consider(kill_at),
                _ => {}
            }
        }
        next
    }

    /// Feeds one event at time `now`; returns what to do, in order.
    pub fn handle(&mut self, now: Duration, event: Event) -> Vec<Action> {
        if self.exited {
            return Vec::new();
        }
        let mut actions = Vec::new();
        match event {
            Event::Start => self.started = true,
            Event::Spawned(id, pid) => self.on_spawned(now, id, pid),
            Event::Ready(id) => {
                if let Some(s) = self.services.get_mut(id)
                    && matches!(s.state, State::Starting { .. })
                    && s.pid.is_some()
                {
                    s.state = State::Running { since: now };
                }
            }
            Event::Exited(id, exit) => self.on_exited(now, id, exit, &mut actions),
            Event::Tick => {}
            Event::StopRequested => self.begin_stop(now, Outcome::Stopped),
            Event::Hangup => {
                for (id, s) in self.services.iter().enumerate() {
                    if s.pid.is_some() {
                        actions.push(Action::Signal(id, Sig::Hup));
                    }
                }
            }
        }
        if self.started {
            self.step(now, &mut actions);
        }
        actions
    }

    fn on_spawned(&mut self, now: Duration, id: ServiceId, pid: i32) {
        let Some(s) = self.services.get_mut(id) else {
            return;
        };
        if !matches!(s.state, State::Starting { .. }) {
            return;
        }
        s.pid = Some(pid);
        s.state = if s.plan.ready_on_start {
            State::Running { since: now }
        } else {
            State::Starting { since: now }
        };
    }

    fn on_exited(&mut self, now: Duration, id: ServiceId, exit: Exit, actions: &mut Vec<Action>) {
        let Some(s) = self.services.get_mut(id) else {
            return;
        };
        let up_since = match s.state {
            State::Starting { since } | State::Running { since } => Some(since),
            State::Stopping { .. } => None,
            // Not running: a stray report; nothing to do.
            _ => return,
        };
        s.pid = None;
        s.last_exit = Some(exit);
        if self.stopping.is_some() {
            s.state = State::Stopped;
            return;
        }
        let after = match s.state {
            State::Stopping { then, .. } => then,
            _ => AfterStop::Failure,
        };
        match after {
            AfterStop::WaitForDeps => s.state = State::Waiting,
            AfterStop::Stay => s.state = State::Stopped,
            AfterStop::Failure => self.after_failure(now, id, exit, up_since),
        }
        // Whatever needs this service goes down with it and comes back after it. When the
        // appliance began stopping just now, the reverse-order stop takes care of them.
        if self.stopping.is_none() {
            self.stop_dependents(now, id, actions);
        }
    }

    /// Decides between backoff, stopped, and giving up for a service that ended by itself.
    fn after_failure(
        &mut self,
        now: Duration,
        id: ServiceId,
        exit: Exit,
        up_since: Option<Duration>,
    ) {
        let timing = self.timing.clone();
        let s = &mut self.services[id];
        let restart = match s.plan.restart {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !exit.success(),
            RestartPolicy::Never => false,
        };
        if !restart {
            s.state = State::Stopped;
            if s.plan.critical {
                self.begin_stop(now, Outcome::CriticalFailed(id));
            }
            return;
        }
        while s
            .recent_restarts
            .front()
            .is_some_and(|&t| now.saturating_sub(t) > timing.restart_window)
        {
            s.recent_restarts.pop_front();
        }
        if s.recent_restarts.len() >= timing.restart_limit as usize {
            s.state = State::Failed;
            if s.plan.critical {
                self.begin_stop(now, Outcome::CriticalFailed(id));
            }
            return;
        }
        if up_since.is_some_and(|since| now.saturating_sub(since) >= timing.backoff_reset_after) {
            s.next_delay = timing.backoff_initial;
        }
        let delay = s.next_delay;
        s.next_delay = (delay * 2).min(timing.backoff_max);
        s.recent_restarts.push_back(now);
        s.restarts += 1;
        s.state = State::Backoff { until: now + delay };
    }

    /// Stops every running service that (transitively) needs `id`, to restart it later.
    fn stop_dependents(&mut self, now: Duration, id: ServiceId, actions: &mut Vec<Action>) {
        let grace = self.timing.grace;
        for dep in self.dependents_of(id) {
            let s = &mut self.services[dep];
            match s.state {
                State::Starting { .. } | State::Running { .. } if s.pid.is_some() => {
                    s.state = State::Stopping {
                        kill_at: now + grace,
                        killed: false,
                        then: AfterStop::WaitForDeps,
                    };
                    actions.push(Action::Signal(dep, Sig::Term));
                }
                State::Starting { .. } => s.state = State::Waiting,
                _ => {}
            }
        }
    }

    /// Every service that needs `id`, directly or through others.
    fn dependents_of(&self, id: ServiceId) -> Vec<ServiceId> {
        let mut found = vec![false; self.services.len()];
        let mut queue = vec![id];
        while let Some(cur) = queue.pop() {
            for (other, s) in self.services.iter().enumerate() {
                if !found[other] && s.plan.after.contains(&cur) {
                    found[other] = true;
                    queue.push(other);
                }
            }
        }
        (0..found.len()).filter(|&i| found[i]).collect()
    }

    fn begin_stop(&mut self, now: Duration, outcome: Outcome) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(outcome);
        self.stop_deadline = Some(now + self.timing.grace);
        for s in &mut self.services {
            match s.state {
                State::Waiting | State::Backoff { .. } => s.state = State::Stopped,
                State::Starting { .. } if s.pid.is_none() => s.state = State::Stopped,
                _ => {}
            }
        }
    }

    fn step(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if self.stopping.is_some() {
            self.step_stopping(now, actions);
            return;
        }
        let grace = self.timing.grace;
        for id in 0..self.services.len() {
            // Deadlines first: backoff over, readiness timeout, SIGKILL after grace.
            let s = &mut self.services[id];
            match s.state {
                State::Backoff { until } if now >= until => s.state = State::Waiting,
                State::Starting { since }
                    if s.pid.is_some()
                        && s.plan.ready_timeout.is_some_and(|t| now >= since + t) =>
                {
                    s.state = State::Stopping {
                        kill_at: now + grace,
                        killed: false,
                        then: AfterStop::Failure,
                    };
                    actions.push(Action::Signal(id, Sig::Term));
                }
                State::Stopping {
                    kill_at,
                    killed: false,
                    then,
                } if now >= kill_at => {
                    s.state = State::Stopping {
                        kill_at,
                        killed: true,
                        then,
                    };
                    actions.push(Action::Signal(id, Sig::Kill));
                }
                _ => {}
            }
            // Start in list order, each once everything it needs is ready.
            if self.services[id].state == State::Waiting
                && self.services[id]
                    .plan
                    .after
                    .iter()
                    .all(|&d| self.services[d].ready())
            {
                self.services[id].state = State::Starting { since: now };
                actions.push(Action::Spawn(id));
            }
        }
        let all_ended = self
            .services
            .iter()
            .all(|s| matches!(s.state, State::Stopped | State::Failed));
        if all_ended {
            let failed = self
                .services
                .iter()
                .any(|s| s.state == State::Failed || s.last_exit.is_some_and(|e| !e.success()));
            let outcome = if failed {
                Outcome::ServicesFailed
            } else {
                Outcome::AllDone
            };
            self.exited = true;
            actions.push(Action::Exit(outcome));
        }
    }

    /// Reverse dependency order: a service gets SIGTERM once nothing that needs it is alive.
    fn step_stopping(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let deadline_passed = self.stop_deadline.is_some_and(|d| now >= d);
        for id in 0..self.services.len() {
            if self.services[id].pid.is_none() {
                continue;
            }
            let dependents_alive = self
                .dependents_of(id)
                .into_iter()
                .any(|d| self.services[d].pid.is_some());
            let s = &mut self.services[id];
            match s.state {
                State::Stopping {
                    kill_at, killed, ..
                } => {
                    // Already signalled (maybe to restart it): now it stays down.
                    let kill = deadline_passed && !killed;
                    s.state = State::Stopping {
                        kill_at,
                        killed: killed || kill,
                        then: AfterStop::Stay,
                    };
                    if kill {
                        self.stop_killed = true;
                        actions.push(Action::Signal(id, Sig::Kill));
                    }
                }
                _ if deadline_passed => {
                    s.state = State::Stopping {
                        kill_at: now,
                        killed: true,
                        then: AfterStop::Stay,
                    };
                    self.stop_killed = true;
                    actions.push(Action::Signal(id, Sig::Kill));
                }
                _ if !dependents_alive => {
                    s.state = State::Stopping {
                        kill_at: self.stop_deadline.unwrap_or(now),
                        killed: false,
                        then: AfterStop::Stay,
                    };
                    actions.push(Action::Signal(id, Sig::Term));
                }
                _ => {}
            }
        }
        if deadline_passed {
            // Everything alive got SIGKILL; nothing is left to wait for but the exits.
            self.stop_deadline = None;
        }
        if self.services.iter().all(|s| s.pid.is_none()) {
            let outcome = match self.stopping {
                Some(Outcome::Stopped) if self.stop_killed => Outcome::StopTimedOut,
                Some(o) => o,
                None => Outcome::Stopped,
            };
            self.exited = true;
            actions.push(Action::Exit(outcome));
        }
    }
}
