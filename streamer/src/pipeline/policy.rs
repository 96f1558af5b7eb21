//! When to encode, as a pure decision over events and time, so frame pacing and paint-over
//! are tested with an injected clock instead of by watching a running encoder.
//!
//! The rules: never encode without a reason (damage, or a keyframe someone needs); never
//! faster than the fps cap; after motion stops for `paint_over`, encode once at refresh
//! quality, then nothing until something changes. A keyframe asked for while the picture is
//! already at rest is sent at refresh quality, so it does not schedule another refresh.

use std::time::{Duration, Instant};

/// Where the pipeline gets "now"; tests substitute their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Encode now; `refresh` selects the paint-over quality.
    Encode { refresh: bool },
    /// Nothing to do before this instant (the fps gap or the paint-over timer).
    WaitUntil(Instant),
    /// Nothing to do until an event arrives: no timer at all.
    Idle,
}

#[derive(Debug, Clone)]
pub struct PacingPolicy {
    min_gap: Duration,
    paint_over: Duration,
    last_encode: Option<Instant>,
    last_motion: Option<Instant>,
    /// Motion-quality frames went out since the last refresh.
    refresh_due: bool,
}

impl PacingPolicy {
    pub fn new(fps: u32, paint_over: Duration) -> Self {
        Self {
            min_gap: gap(fps),
            paint_over,
            last_encode: None,
            last_motion: None,
            refresh_due: false,
        }
    }

    pub fn set_fps(&mut self, fps: u32) {
        self.min_gap = gap(fps);
    }

    pub fn set_paint_over(&mut self, paint_over: Duration) {
        self.paint_over = paint_over;
    }

    /// Whether a refresh is still owed for content sent at motion quality.
    pub fn refresh_due(&self) -> bool {
        self.refresh_due
    }

    /// What to do at `now`, given whether new damage waits and whether a keyframe is wanted.
    pub fn decide(&self, now: Instant, damage_pending: bool, keyframe_wanted: bool) -> Decision {
        if damage_pending || keyframe_wanted {
            if let Some(last) = self.last_encode {
                let next = last + self.min_gap;
                if now < next {
                    return Decision::WaitUntil(next);
                }
            }
            return Decision::Encode {
                refresh: !damage_pending && !self.refresh_due,
            };
        }
        if self.refresh_due {
            let due = self.last_motion.map_or(now, |t| t + self.paint_over);
            if now >= due {
                return Decision::Encode { refresh: true };
            }
            return Decision::WaitUntil(due);
        }
        Decision::Idle
    }

    /// Records an encode that happened at `now`.
    pub fn encoded(&mut self, now: Instant, refresh: bool) {
        self.last_encode = Some(now);
        if refresh {
            self.refresh_due = false;
        } else {
            self.refresh_due = true;
            self.last_motion = Some(now);
        }
    }
}

fn gap(fps: u32) -> Duration {
    Duration::from_nanos(1_000_000_000 / u64::from(fps.clamp(1, 240)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the policy over simulated time: `damage_at` are the instants (ms from start)
    /// when the source delivers damage. Returns the encodes as (ms, refresh).
    fn simulate(policy: &mut PacingPolicy, damage_at: &[u64], until_ms: u64) -> Vec<(u64, bool)> {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut now = 0u64;
        let mut next_damage = 0usize;
        let mut pending = false;
        let mut out = Vec::new();
        let mut steps = 0;
        while now <= until_ms {
            steps += 1;
            assert!(steps < 100_000, "policy loops without progress");
            while next_damage < damage_at.len() && damage_at[next_damage] <= now {
                pending = true;
                next_damage += 1;
            }
            let next_event = damage_at.get(next_damage).copied().unwrap_or(u64::MAX);
            match policy.decide(at(now), pending, false) {
                Decision::Encode { refresh } => {
                    policy.encoded(at(now), refresh);
                    pending = false;
                    out.push((now, refresh));
                }
                Decision::WaitUntil(t) => {
                    let ms = t.duration_since(t0).as_micros().div_ceil(1000) as u64;
                    assert!(ms > now, "waits must move time forward");
                    now = ms.min(next_event);
                }
                Decision::Idle => {
                    if next_event == u64::MAX {
                        break;
                    }
                    now = next_event;
                }
            }
        }
        out
    }

    #[test]
    fn no_damage_means_no_encode_and_no_timer() {
        let mut p = PacingPolicy::new(60, Duration::from_millis(250));
        assert_eq!(p.decide(Instant::now(), false, false), Decision::Idle);
        assert!(simulate(&mut p, &[], 10_000).is_empty());
    }

    #[test]
    fn paint_over_refresh_once_after_quiet_then_silence() {
        let mut p = PacingPolicy::new(60, Duration::from_millis(250));
        let damage: Vec<u64> = (0..10).map(|i| i * 20).collect(); // 0..180 ms
        let enc = simulate(&mut p, &damage, 5_000);
        let refreshes: Vec<_> = enc.iter().filter(|e| e.1).collect();
        assert_eq!(refreshes.len(), 1, "{enc:?}");
        assert_eq!(refreshes[0].0, 180 + 250);
        assert_eq!(enc.last(), Some(&(430, true)), "silence after the refresh");
        assert_eq!(enc.len(), 11);
        assert_eq!(p.decide(Instant::now(), false, false), Decision::Idle);
    }

    #[test]
    fn motion_restarting_before_the_timer_postpones_the_refresh() {
        let mut p = PacingPolicy::new(60, Duration::from_millis(250));
        let enc = simulate(&mut p, &[0, 200, 400, 1000], 3_000);
        assert_eq!(
            enc,
            vec![
                (0, false),
                (200, false),
                (400, false),
                (650, true),
                (1000, false),
                (1250, true)
            ]
        );
    }

    #[test]
    fn fps_cap_and_damage_bound_the_encodes() {
        for fps in [30u32, 60, 120] {
            let mut p = PacingPolicy::new(fps, Duration::from_millis(250));
            // Damage every millisecond for two seconds: far more than the cap.
            let damage: Vec<u64> = (0..2000).collect();
            let enc = simulate(&mut p, &damage, 2_000);
            let motion = enc.iter().filter(|e| !e.1).count() as u64;
            assert!(motion <= u64::from(fps) * 2 + 1, "fps {fps}: {motion}");
            assert!(motion >= u64::from(fps) * 2 * 9 / 10, "fps {fps}: {motion}");
            for pair in enc.windows(2) {
                assert!(pair[1].0 - pair[0].0 >= 1000 / u64::from(fps) - 1);
            }
        }
        // Sparse damage: never more frames than damage events.
        let mut p = PacingPolicy::new(60, Duration::from_millis(250));
        let damage = [0, 100, 105, 300];
        let enc = simulate(&mut p, &damage, 2_000);
        assert!(enc.iter().filter(|e| !e.1).count() <= damage.len());
    }

    #[test]
    fn keyframe_at_rest_is_sent_at_refresh_quality() {
        let t0 = Instant::now();
        let mut p = PacingPolicy::new(60, Duration::from_millis(250));
        p.encoded(t0, false);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            p.decide(later, false, false),
            Decision::Encode { refresh: true }
        );
        p.encoded(later, true);
        let key = later + Duration::from_secs(1);
        assert_eq!(
            p.decide(key, false, true),
            Decision::Encode { refresh: true }
        );
        p.encoded(key, true);
        assert_eq!(
            p.decide(key + Duration::from_secs(1), false, false),
            Decision::Idle
        );
        // While motion is still owed a refresh, a keyframe is a motion frame.
        p.encoded(key + Duration::from_secs(2), false);
        assert_eq!(
            p.decide(key + Duration::from_secs(3), false, true),
            Decision::Encode { refresh: false }
        );
    }
}
