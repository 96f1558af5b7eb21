//! Login rate limiting: after `max_failures` wrong passwords from one client address, that
//! address is locked out for `lockout`, right password or not, so guessing costs time.
//! Time is passed in, so the tests drive a clock of their own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// At most this many addresses are remembered; the stalest are forgotten first.
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    lockout: Duration,
    entries: HashMap<IpAddr, Entry>,
}

impl Limiter {
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            lockout,
            entries: HashMap::new(),
        }
    }

    /// `Err(retry_after)` while `addr` is locked out.
    pub fn check(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let Some(e) = self.entries.get(&addr).copied() else {
            return Ok(());
        };
        match e.locked_until {
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                self.entries.remove(&addr);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a wrong password; `Some(retry_after)` when this one locked the address out.
    pub fn failure(&mut self, addr: IpAddr, now: Instant) -> Option<Duration> {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&addr) {
            self.forget_stale(now);
        }
        let lockout = self.lockout;
        let e = self.entries.entry(addr).or_insert(Entry {
            failures: 0,
            last: now,
            locked_until: None,
        });
        // Failures spread wider apart than the lockout time do not add up.
        if now.duration_since(e.last) > lockout {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        if e.failures >= self.max_failures {
            e.locked_until = Some(now + lockout);
            Some(lockout)
        } else {
            None
        }
    }

    /// A right password clears the address's count.
    pub fn success(&mut self, addr: IpAddr) {
        self.entries.remove(&addr);
    }

    fn forget_stale(&mut self, now: Instant) {
        let lockout = self.lockout;
        self.entries.retain(|_, e| match e.locked_until {
            Some(until) => until > now,
            None => now.duration_since(e.last) <= lockout,
        });
        while self.entries.len() >= MAX_ENTRIES {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(a, _)| *a)
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_the_configured_failures_and_lets_in_after() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let mut l = Limiter::new(3, Duration::from_secs(60));
        assert_eq!(l.failure(a, t0), None);
        assert_eq!(l.failure(a, t0 + Duration::from_secs(1)), None);
        assert!(l.check(a, t0 + Duration::from_secs(2)).is_ok());
        assert_eq!(
            l.failure(a, t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(60))
        );
        // Locked, and it says for how long.
        assert_eq!(
            l.check(a, t0 + Duration::from_secs(12)),
            Err(Duration::from_secs(50))
        );
        // Another address is not affected.
        assert!(l.check(b, t0 + Duration::from_secs(12)).is_ok());
        // After the lockout the address starts over.
        assert!(l.check(a, t0 + Duration::from_secs(62)).is_ok());
        assert_eq!(l.failure(a, t0 + Duration::from_secs(63)), None);
    }

    #[test]
    fn success_and_time_clear_the_count() {
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().expect("ip");
        let mut l = Limiter::new(2, Duration::from_secs(10));
        assert_eq!(l.failure(a, t0), None);
        l.success(a);
        assert_eq!(l.failure(a, t0), None, "the count was cleared");
        // Failures far apart never add up to a lockout.
        assert_eq!(l.failure(a, t0 + Duration::from_secs(30)), None);
        assert!(l.check(a, t0 + Duration::from_secs(31)).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut l = Limiter::new(5, Duration::from_secs(10));
        for i in 0..(MAX_ENTRIES as u32 + 100) {
            let addr = IpAddr::from(i.to_be_bytes());
            l.failure(addr, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(l.entries.len() <= MAX_ENTRIES);
    }
}
