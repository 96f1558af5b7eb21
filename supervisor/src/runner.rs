//! The part that touches processes: signals, reaping, the notify socket, spawning, the
//! status file — one single-threaded loop around [`Machine`].
//!
//! Signals are blocked and read from a signalfd, so they arrive as ordinary events in the
//! same `poll` as the notify socket; there are no signal handlers and no flags written from
//! them. Every SIGCHLD drains `waitpid(-1, WNOHANG)` until nothing is left, which also
//! reaps orphaned grandchildren re-parented to the supervisor (as PID 1 or as a child
//! subreaper).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tracing::{debug, error, info, warn};

use crate::gpu::Gpu;
use crate::machine::{Action, Event, Exit, Machine, Outcome, ServiceId, Sig, State};
use crate::notify::NotifySocket;
use crate::services::ServiceSpec;
use crate::spawn::{Extra, Identity, spawn};
use crate::status;

/// Everything the loop needs, prepared by setup.
pub struct Runner {
    pub machine: Machine,
    pub specs: Vec<ServiceSpec>,
    /// The environment every child gets (plus `SKERRY_SERVICE` and `DISPLAY`).
    pub env: Vec<(String, OsString)>,
    pub identity: Identity,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    pub wayland_display: String,
    pub display: String,
    /// The Xauthority file X11 clients need, once the compositor announced it.
    pub xauthority: Option<String>,
    pub notify: NotifySocket,
    pub signals: SignalFd,
    pub gpu: Gpu,
    pub status_path: PathBuf,
    pub status_interval: Duration,
    /// The outer service manager's watchdog interval, when it asked for one.
    pub watchdog: Option<Duration>,
    /// Tell an outer service manager (systemd) about readiness and stopping.
    pub outer_notify: bool,
    /// The streamer's own folder, when root serves another user (`crate::secrets`).
    pub secrets: Option<crate::secrets::Secrets>,
}

/// How often a service's readiness path is looked for while it starts.
const READY_PATH_POLL: Duration = Duration::from_millis(50);

struct LoopState {
    started: Instant,
    pids: HashMap<i32, ServiceId>,
    last_written: Option<status::Status>,
    last_write: Instant,
    last_watchdog: Instant,
    was_ready: bool,
}

impl Runner {
    /// Runs until every service has ended; returns why.
    pub fn run(mut self) -> Outcome {
        let now = Instant::now();
        let mut st = LoopState {
            started: now,
            pids: HashMap::new(),
            last_written: None,
            last_write: now,
            last_watchdog: now,
            was_ready: false,
        };
        let mut pending = vec![Event::Start];
        loop {
            // Events may cause events (a spawn reports its pid): drain until quiet.
            while !pending.is_empty() {
                for event in std::mem::take(&mut pending) {
                    let t = st.started.elapsed();
                    debug!(?event, "event");
                    let actions = self.machine.handle(t, event);
                    if let Some(outcome) = self.perform(actions, &mut st, &mut pending) {
                        self.write_status(&mut st, true);
                        self.notify_outer(&["STOPPING=1"]);
                        return outcome;
                    }
                }
            }
            self.write_status(&mut st, false);
            self.report_readiness(&mut st);
            let timeout = self.timeout(&st);
            let mut fds = [
                PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.notify.as_fd(), PollFlags::POLLIN),
            ];
            let ms = timeout.as_millis().min(60_000) as u16;
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => warn!("poll: {e}"),
            }
            self.read_signals(&mut st, &mut pending);
            self.read_notifications(&st, &mut pending);
            self.check_ready_paths(&mut pending);
            pending.push(Event::Tick);
        }
    }

    fn timeout(&self, st: &LoopState) -> Duration {
        let now = st.started.elapsed();
        let mut t = self.status_interval;
        if let Some(d) = self.machine.next_deadline() {
            // Round up a little so the deadline has passed when we wake.
            t = t.min(d.saturating_sub(now) + Duration::from_millis(1));
        }
        let waiting_for_path = self
            .machine
            .services()
            .iter()
            .zip(&self.specs)
            .any(|(s, spec)| {
                spec.ready_path.is_some() && matches!(s.state, State::Starting { .. })
            });
        if waiting_for_path {
            t = t.min(READY_PATH_POLL);
        }
        if let Some(w) = self.watchdog {
            t = t.min(w / 2);
        }
        t.max(Duration::from_millis(1))
    }

    fn perform(
        &mut self,
        actions: Vec<Action>,
        st: &mut LoopState,
        pending: &mut Vec<Event>,
    ) -> Option<Outcome> {
        for action in actions {
            match action {
                Action::Spawn(id) => {
                    self.clear_stale_ready_path(id);
                    let spec = &self.specs[id];
                    let mut env = crate::services::service_env(&spec.plan.name, &self.env);
                    env.push(("SKERRY_SERVICE".into(), spec.plan.name.clone().into()));
                    env.push(("DISPLAY".into(), self.display.clone().into()));
                    if let Some(a) = &self.xauthority {
                        env.retain(|(k, _)| k != "XAUTHORITY");
                        env.push(("XAUTHORITY".into(), a.into()));
                    }
                    let mut extra = Extra::default();
                    if let Some(s) = self
                        .secrets
                        .as_ref()
                        .filter(|_| spec.plan.name == crate::services::SECRET_HOLDER)
                    {
                        env.retain(|(k, _)| k != "SKERRY_CONFIG_DIR");
                        env.push(("SKERRY_CONFIG_DIR".into(), s.config_dir().into()));
                        extra = Extra {
                            group: Some(s.gid),
                            keep_fd: Some(std::os::fd::AsRawFd::as_raw_fd(&s.dir)),
                        };
                    }
                    match spawn(spec, &env, &self.home, &self.identity, extra) {
                        Ok(pid) => {
                            info!(service = %spec.plan.name, pid, "started");
                            st.pids.insert(pid, id);
                            pending.push(Event::Spawned(id, pid));
                        }
                        Err(e) => {
                            warn!(service = %spec.plan.name, program = %spec.program.display(), "cannot start: {e}");
                            pending.push(Event::Exited(id, Exit::SpawnFailed));
                        }
                    }
                }
                Action::Signal(id, sig) => {
                    let Some(pid) = self.machine.services()[id].pid else {
                        continue;
                    };
                    let signal = match sig {
                        Sig::Term => Signal::SIGTERM,
                        Sig::Kill => Signal::SIGKILL,
                        Sig::Hup => Signal::SIGHUP,
                    };
                    info!(service = %self.specs[id].plan.name, pid, "sending {signal}");
                    // The whole process group: the service and whatever it started.
                    if let Err(e) = killpg(Pid::from_raw(pid), signal)
                        && e != Errno::ESRCH
                    {
                        warn!(pid, "signalling: {e}");
                    }
                }
                Action::Exit(outcome) => {
                    match outcome {
                        Outcome::CriticalFailed(id) => error!(
                            service = %self.specs[id].plan.name,
                            "a critical service failed too often or ended for good; the appliance stops"
                        ),
                        Outcome::ServicesFailed => {
                            error!("every service has ended and some failed")
                        }
                        Outcome::StopTimedOut => {
                            warn!(
                                "stopped, but some services had to be killed after the grace period"
                            )
                        }
                        Outcome::Stopped | Outcome::AllDone => info!("every service has ended"),
                    }
                    for pid in st.pids.keys() {
                        let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
                    }
                    return Some(outcome);
                }
            }
        }
        None
    }

    fn read_signals(&mut self, st: &mut LoopState, pending: &mut Vec<Event>) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {}
                Ok(Signal::SIGTERM | Signal::SIGINT) => {
                    info!("stop requested (signal {})", info.ssi_signo);
                    self.notify_outer(&["STOPPING=1", "STATUS=stopping"]);
                    pending.push(Event::StopRequested);
                }
                Ok(Signal::SIGHUP) => pending.push(Event::Hangup),
                other => debug!(?other, "ignored signal"),
            }
        }
        // Reap on every wake, not only on SIGCHLD: pending signals of one kind coalesce.
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    self.reaped(st, pid, Exit::Code(code), pending)
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    self.reaped(st, pid, Exit::Signal(sig as i32), pending)
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) => {}
                Err(Errno::EINTR) => {}
                Err(e) => {
                    warn!("waitpid: {e}");
                    break;
                }
            }
        }
    }

    fn reaped(&mut self, st: &mut LoopState, pid: Pid, exit: Exit, pending: &mut Vec<Event>) {
        let raw = pid.as_raw();
        match st.pids.remove(&raw) {
            Some(id) => {
                info!(service = %self.specs[id].plan.name, pid = raw, ?exit, "ended");
                // Leftovers of the service's group must not outlive it into its restart.
                let _ = killpg(pid, Signal::SIGTERM);
                pending.push(Event::Exited(id, exit));
            }
            None => debug!(pid = raw, ?exit, "reaped an orphan"),
        }
    }

    fn read_notifications(&mut self, st: &LoopState, pending: &mut Vec<Event>) {
        while let Some(msg) = self.notify.recv() {
            let id = st.pids.get(&msg.pid).copied().or_else(|| {
                // A helper of the service: same process group as its main process.
                let pgid = nix::unistd::getpgid(Some(Pid::from_raw(msg.pid))).ok()?;
                st.pids.get(&pgid.as_raw()).copied()
            });
            let Some(id) = id else {
                debug!(pid = msg.pid, "notification from an unknown process");
                continue;
            };
            if let Some(x) = msg.get("DISPLAY") {
                info!(service = %self.specs[id].plan.name, x_display = x, "X display announced");
                self.display = x.to_string();
            }
            if let Some(a) = msg.get("XAUTHORITY") {
                info!(service = %self.specs[id].plan.name, xauthority = a, "X cookie announced");
                self.xauthority = Some(a.to_string());
            }
            if let Some(status) = msg.get("STATUS") {
                debug!(service = %self.specs[id].plan.name, status, "status");
            }
            if msg.get("READY") == Some("1") && self.specs[id].notify {
                info!(service = %self.specs[id].plan.name, "ready");
                pending.push(Event::Ready(id));
            }
        }
    }

    /// Runs `f` with the desktop user's rights on files: readiness paths are in its folders.
    fn as_user<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.identity.switch {
            crate::privileges::as_user(self.identity.uid, self.identity.gid, f)
        } else {
            f()
        }
    }

    fn check_ready_paths(&self, pending: &mut Vec<Event>) {
        for (id, (s, spec)) in self.machine.services().iter().zip(&self.specs).enumerate() {
            if let (State::Starting { .. }, Some(pid), Some(path)) =
                (s.state, s.pid, &spec.ready_path)
                && self.as_user(|| self.expand(path).exists())
            {
                debug!(service = %spec.plan.name, pid, "ready path exists");
                pending.push(Event::Ready(id));
            }
        }
    }

    /// A socket left by an earlier run of the service must not count as readiness.
    fn clear_stale_ready_path(&self, id: ServiceId) {
        use std::os::unix::fs::FileTypeExt;
        let Some(path) = self.specs[id].ready_path.as_deref().map(|p| self.expand(p)) else {
            return;
        };
        self.as_user(|| {
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
                debug!(path = %path.display(), "removing a stale socket");
                let _ = std::fs::remove_file(&path);
            }
        });
    }

    fn expand(&self, path: &str) -> PathBuf {
        PathBuf::from(
            path.replace("$XDG_RUNTIME_DIR", &self.runtime_dir.display().to_string())
                .replace("$WAYLAND_DISPLAY", &self.wayland_display),
        )
    }

    /// Writes the status file when something changed, and every `status_interval` anyway.
    fn write_status(&self, st: &mut LoopState, force: bool) {
        let uptime = st.started.elapsed().as_secs();
        let bare = status::snapshot(&self.machine, &self.gpu, 0, None);
        let changed = st.last_written.as_ref() != Some(&bare);
        if !(force || changed || st.last_write.elapsed() >= self.status_interval) {
            return;
        }
        let full = status::snapshot(&self.machine, &self.gpu, uptime, Some(Path::new("/proc")));
        if let Err(e) = status::write(&self.status_path, &full) {
            warn!(path = %self.status_path.display(), "writing the status file: {e}");
        }
        st.last_written = Some(bare);
        st.last_write = Instant::now();
    }

    fn report_readiness(&self, st: &mut LoopState) {
        let ready = self.machine.ready();
        if ready != st.was_ready {
            st.was_ready = ready;
            if ready {
                info!("all services ready");
                self.notify_outer(&["READY=1", "STATUS=running"]);
            } else if !self.machine.is_stopping() {
                self.notify_outer(&["STATUS=degraded: a service is restarting"]);
            }
        }
        if let Some(w) = self.watchdog
            && st.last_watchdog.elapsed() >= w / 2
        {
            self.notify_outer(&["WATCHDOG=1"]);
            st.last_watchdog = Instant::now();
        }
    }

    fn notify_outer(&self, lines: &[&str]) {
        if !self.outer_notify {
            return;
        }
        let states: Vec<sd_notify::NotifyState> = lines
            .iter()
            .map(|l| match *l {
                "READY=1" => sd_notify::NotifyState::Ready,
                "STOPPING=1" => sd_notify::NotifyState::Stopping,
                "WATCHDOG=1" => sd_notify::NotifyState::Watchdog,
                other => match other.strip_prefix("STATUS=") {
                    Some(s) => sd_notify::NotifyState::Status(s),
                    None => sd_notify::NotifyState::Custom(other),
                },
            })
            .collect();
        if let Err(e) = sd_notify::notify(false, &states) {
            debug!("telling the service manager: {e}");
        }
    }
}
