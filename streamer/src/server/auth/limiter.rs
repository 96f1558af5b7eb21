//! Login rate limiting: after `max_failures` wrong passwords from one client address (an
//! IPv6 address by its /64), that address is locked out for `lockout`, right password or
//! not, so guessing costs time. Wrong passwords given with the owner's user name also count
//! for that name from every address, with [`OWNER_FACTOR`] times the allowance, so rotating
//! addresses does not buy guesses either.
//!
//! An attempt takes its place before the (slow) password check runs: attempts still being
//! checked count as failures until they end, so many sent at once get no more guesses than
//! sent one by one. Time is passed in, so the tests drive a clock of their own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::server::limits::address_key;

/// At most this many addresses are remembered; the stalest are forgotten first.
const MAX_ENTRIES: usize = 4096;
/// The owner's name may fail this many times the per-address allowance before it is
/// locked out from everywhere.
pub const OWNER_FACTOR: u32 = 4;
/// What a client is told to wait while attempts of its own are still being checked.
const BUSY_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    OwnerName,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// One attempt whose password is being checked; end it with [`Limiter::failure`] or
/// [`Limiter::success`].
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    keys: Vec<Key>,
}

#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    lockout: Duration,
    entries: HashMap<Key, Entry>,
}

impl Limiter {
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            lockout,
            entries: HashMap::new(),
        }
    }

    fn allowance(&self, key: Key) -> u32 {
        match key {
            Key::Address(_) => self.max_failures,
            Key::OwnerName => self.max_failures.saturating_mul(OWNER_FACTOR),
        }
    }

    /// Starts an attempt from `addr` (`owner_name`: it gave the owner's user name).
    /// `Err(retry_after)` while the address or the name is locked out, or while attempts
    /// already being checked would use up what is left before a lockout.
    pub fn begin(
        &mut self,
        addr: IpAddr,
        owner_name: bool,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let mut keys = vec![Key::Address(address_key(addr))];
        if owner_name {
            keys.push(Key::OwnerName);
        }
        for &key in &keys {
            let Some(e) = self.entries.get(&key).copied() else {
                continue;
            };
            match e.locked_until {
                Some(until) if until > now => return Err(until - now),
                Some(_) => {
                    let e = self.entries.get_mut(&key).expect("present");
                    e.locked_until = None;
                    e.failures = 0;
                }
                None => {}
            }
            let e = self.entries[&key];
            let fresh = now.duration_since(e.last) > self.lockout;
            let failures = if fresh { 0 } else { e.failures };
            if failures + e.in_flight >= self.allowance(key) {
                return Err(BUSY_RETRY);
            }
        }
        if self.entries.len() + keys.len() > MAX_ENTRIES {
            self.forget_stale(now);
        }
        for &key in &keys {
            let e = self.entries.entry(key).or_insert(Entry {
                failures: 0,
                in_flight: 0,
                last: now,
                locked_until: None,
            });
            e.in_flight += 1;
        }
        Ok(Attempt { keys })
    }

    /// Ends `attempt` with a wrong password; `Some(retry_after)` when it locked the address
    /// or the owner's name out.
    pub fn failure(&mut self, attempt: Attempt, now: Instant) -> Option<Duration> {
        let lockout = self.lockout;
        let mut locked = None;
        for key in attempt.keys {
            let allowance = self.allowance(key);
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            e.in_flight = e.in_flight.saturating_sub(1);
            // Failures spread wider apart than the lockout time do not add up.
            if now.duration_since(e.last) > lockout {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
            if e.failures >= allowance {
                e.locked_until = Some(now + lockout);
                locked = Some(lockout);
            }
        }
        locked
    }

    /// Ends `attempt` with the right password: its address's and name's counts are cleared.
    pub fn success(&mut self, attempt: Attempt) {
        for key in attempt.keys {
            if let Some(e) = self.entries.get_mut(&key) {
                e.in_flight = e.in_flight.saturating_sub(1);
                e.failures = 0;
                e.locked_until = None;
                if e.in_flight == 0 {
                    self.entries.remove(&key);
                }
            }
        }
    }

    /// Ends `attempt` without a verdict (the password was never checked): it counts neither
    /// way.
    pub fn unjudged(&mut self, attempt: Attempt) {
        for key in attempt.keys {
            if let Some(e) = self.entries.get_mut(&key) {
                e.in_flight = e.in_flight.saturating_sub(1);
                if e.in_flight == 0 && e.failures == 0 && e.locked_until.is_none() {
                    self.entries.remove(&key);
                }
            }
        }
    }

    fn forget_stale(&mut self, now: Instant) {
        let lockout = self.lockout;
        self.entries.retain(|_, e| {
            e.in_flight > 0
                || match e.locked_until {
                    Some(until) => until > now,
                    None => now.duration_since(e.last) <= lockout,
                }
        });
        while self.entries.len() >= MAX_ENTRIES {
            let Some(oldest) = self
                .entries
                .iter()
                .filter(|(k, e)| e.in_flight == 0 && **k != Key::OwnerName)
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

    /// One whole attempt that fails.
    fn fail(
        l: &mut Limiter,
        addr: IpAddr,
        owner: bool,
        now: Instant,
    ) -> Result<Option<Duration>, Duration> {
        let a = l.begin(addr, owner, now)?;
        Ok(l.failure(a, now))
    }

    #[test]
    fn locks_out_after_the_configured_failures_and_lets_in_after() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let mut l = Limiter::new(3, Duration::from_secs(60));
        assert_eq!(fail(&mut l, a, false, t0), Ok(None));
        assert_eq!(
            fail(&mut l, a, false, t0 + Duration::from_secs(1)),
            Ok(None)
        );
        assert_eq!(
            fail(&mut l, a, false, t0 + Duration::from_secs(2)),
            Ok(Some(Duration::from_secs(60)))
        );
        // Locked, and it says for how long.
        assert_eq!(
            l.begin(a, false, t0 + Duration::from_secs(12)).err(),
            Some(Duration::from_secs(50))
        );
        // Another address is not affected.
        assert!(l.begin(b, false, t0 + Duration::from_secs(12)).is_ok());
        // After the lockout the address starts over.
        assert_eq!(
            fail(&mut l, a, false, t0 + Duration::from_secs(63)),
            Ok(None)
        );
    }

    #[test]
    fn attempts_being_checked_count_so_many_at_once_get_no_more_guesses() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let mut l = Limiter::new(3, Duration::from_secs(60));
        // 40 attempts arrive before any check ends: three are let through.
        let admitted: Vec<Attempt> = (0..40).filter_map(|_| l.begin(a, true, t0).ok()).collect();
        assert_eq!(admitted.len(), 3);
        assert_eq!(l.begin(a, true, t0).err(), Some(BUSY_RETRY));
        let results: Vec<_> = admitted.into_iter().map(|at| l.failure(at, t0)).collect();
        assert_eq!(results.last(), Some(&Some(Duration::from_secs(60))));
        assert_eq!(
            l.begin(a, true, t0).err(),
            Some(Duration::from_secs(60)),
            "locked once they failed"
        );
    }

    #[test]
    fn one_ipv6_64_is_one_address() {
        let t0 = Instant::now();
        let mut l = Limiter::new(2, Duration::from_secs(60));
        let x: IpAddr = "2001:db8:7:7::1".parse().expect("ip");
        let y: IpAddr = "2001:db8:7:7:abcd::2".parse().expect("ip");
        let other: IpAddr = "2001:db8:7:8::1".parse().expect("ip");
        assert_eq!(fail(&mut l, x, false, t0), Ok(None));
        assert_eq!(
            fail(&mut l, y, false, t0),
            Ok(Some(Duration::from_secs(60)))
        );
        assert!(l.begin(x, false, t0).is_err());
        assert!(l.begin(other, false, t0).is_ok());
    }

    #[test]
    fn rotating_addresses_does_not_buy_guesses_at_the_owners_name() {
        let t0 = Instant::now();
        let mut l = Limiter::new(2, Duration::from_secs(60));
        // Every guess from a new address: the owner's name is locked after 2 × 4.
        let mut guesses = 0;
        for i in 0..100u32 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            match fail(&mut l, addr, true, t0) {
                Ok(_) => guesses += 1,
                Err(_) => break,
            }
        }
        assert_eq!(guesses, 2 * OWNER_FACTOR);
        // A wrong user name is no guess at the owner's password: only its address counts.
        let fresh: IpAddr = "198.51.100.9".parse().expect("ip");
        assert!(l.begin(fresh, false, t0).is_ok());
        assert!(l.begin(fresh, true, t0).is_err());
    }

    #[test]
    fn success_and_time_clear_the_count() {
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().expect("ip");
        let mut l = Limiter::new(2, Duration::from_secs(10));
        assert_eq!(fail(&mut l, a, true, t0), Ok(None));
        let ok = l.begin(a, true, t0).expect("begin");
        l.success(ok);
        assert_eq!(fail(&mut l, a, true, t0), Ok(None), "the count was cleared");
        // Failures far apart never add up to a lockout.
        assert_eq!(
            fail(&mut l, a, true, t0 + Duration::from_secs(30)),
            Ok(None)
        );
        assert!(l.begin(a, true, t0 + Duration::from_secs(31)).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut l = Limiter::new(5, Duration::from_secs(10));
        for i in 0..(MAX_ENTRIES as u32 + 100) {
            let addr = IpAddr::from(i.to_be_bytes());
            let _ = fail(
                &mut l,
                addr,
                false,
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(l.entries.len() <= MAX_ENTRIES);
    }
}
