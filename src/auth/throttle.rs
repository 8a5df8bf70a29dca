//! How many tokens may be checked against GitHub (`auth.mode = github-token`): per client
//! address and in total, so that a stream of made-up bearers costs GitHub nothing beyond a
//! small, fixed budget.
//!
//! Only [`super::github`] asks, and only for a token whose verdict it does not remember: a
//! known token (accepted or refused) never counts. Each limit is a token bucket that holds at
//! most a minute's worth of checks and refills continuously. An address is the peer's IP
//! address, an IPv6 one cut to its /64 (one host usually holds a whole /64). Behind a reverse
//! proxy every client has the proxy's address, so the per-address limit becomes a second
//! total: raise `auth.token_checks_per_minute_per_address` there.
//!
//! Memory stays bounded without a sweeper: a bucket that has refilled is the same as no
//! bucket, so full ones are dropped when the map grows, and a bucket only drains through
//! checks that the total limit let through.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

/// Buckets kept before the full ones are dropped.
const SWEEP_AT: usize = 4096;

/// Why a check was not made now, and when one may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This address used its budget.
    Address { retry_after: Duration },
    /// The server as a whole used its budget.
    Total { retry_after: Duration },
}

/// One token bucket: `level` checks available at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

/// A rate: `per_minute` checks a minute, and as many at once. 0 means unlimited.
#[derive(Debug, Clone, Copy)]
struct Rate {
    per_minute: u32,
}

impl Rate {
    fn unlimited(self) -> bool {
        self.per_minute == 0
    }

    fn capacity(self) -> f64 {
        f64::from(self.per_minute)
    }

    /// `bucket`'s level at `now`, refilled since it was last drawn from.
    fn level(self, bucket: Option<&Bucket>, now: Instant) -> f64 {
        match bucket {
            None => self.capacity(),
            Some(bucket) => {
                let refill =
                    now.saturating_duration_since(bucket.at).as_secs_f64() * self.capacity() / 60.0;
                (bucket.level + refill).min(self.capacity())
            }
        }
    }

    /// How long until a bucket at `level` holds one check.
    fn wait(self, level: f64) -> Duration {
        Duration::from_secs_f64((1.0 - level).max(0.0) * 60.0 / self.capacity())
    }
}

#[derive(Debug)]
pub struct CheckLimits {
    per_address: Rate,
    total: Rate,
    addresses: HashMap<IpAddr, Bucket>,
    all: Option<Bucket>,
}

impl CheckLimits {
    /// `per_address` and `total` checks a minute; 0 lifts that limit.
    pub fn new(per_address: u32, total: u32) -> Self {
        CheckLimits {
            per_address: Rate {
                per_minute: per_address,
            },
            total: Rate { per_minute: total },
            addresses: HashMap::new(),
            all: None,
        }
    }

    /// Takes one check from `peer`'s budget and the total one, or says why not. A peer of
    /// unknown address shares one budget with every other such peer.
    pub fn admit(&mut self, peer: Option<IpAddr>, now: Instant) -> Result<(), Refusal> {
        let address = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), address_key);
        let address_level = match self.per_address.unlimited() {
            true => f64::INFINITY,
            false => self.per_address.level(self.addresses.get(&address), now),
        };
        if address_level < 1.0 {
            return Err(Refusal::Address {
                retry_after: self.per_address.wait(address_level),
            });
        }
        if !self.total.unlimited() {
            let level = self.total.level(self.all.as_ref(), now);
            if level < 1.0 {
                return Err(Refusal::Total {
                    retry_after: self.total.wait(level),
                });
            }
            self.all = Some(Bucket {
                level: level - 1.0,
                at: now,
            });
        }
        if !self.per_address.unlimited() {
            if self.addresses.len() >= SWEEP_AT {
                let rate = self.per_address;
                self.addresses
                    .retain(|_, bucket| rate.level(Some(bucket), now) < rate.capacity());
            }
            self.addresses.insert(
                address,
                Bucket {
                    level: address_level - 1.0,
                    at: now,
                },
            );
        }
        Ok(())
    }

    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.addresses.len()
    }
}

/// The address a peer is counted under: IPv4 as is (also when mapped into IPv6), IPv6 cut to
/// its /64.
pub fn address_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_address_gets_its_burst_then_one_check_per_refill() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(6, 1000);
        for _ in 0..6 {
            assert_eq!(limits.admit(ip("10.0.0.1"), start), Ok(()));
        }
        let Err(Refusal::Address { retry_after }) = limits.admit(ip("10.0.0.1"), start) else {
            panic!("the seventh check at once is refused");
        };
        assert_eq!(retry_after, Duration::from_secs(10));
        // Another address is not affected.
        assert_eq!(limits.admit(ip("10.0.0.2"), start), Ok(()));
        // Six a minute: one more after ten seconds, not two.
        let later = start + Duration::from_secs(10);
        assert_eq!(limits.admit(ip("10.0.0.1"), later), Ok(()));
        assert!(limits.admit(ip("10.0.0.1"), later).is_err());
    }

    #[test]
    fn the_total_limit_holds_across_addresses() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(5, 3);
        for n in 0..3 {
            assert_eq!(limits.admit(ip(&format!("10.0.0.{n}")), start), Ok(()));
        }
        let Err(Refusal::Total { retry_after }) = limits.admit(ip("10.0.0.9"), start) else {
            panic!("the total is spent");
        };
        assert_eq!(retry_after, Duration::from_secs(20));
    }

    #[test]
    fn a_refused_address_spends_nothing_of_the_total() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(1, 2);
        assert_eq!(limits.admit(ip("10.0.0.1"), start), Ok(()));
        for _ in 0..100 {
            assert!(matches!(
                limits.admit(ip("10.0.0.1"), start),
                Err(Refusal::Address { .. })
            ));
        }
        assert_eq!(limits.admit(ip("10.0.0.2"), start), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(1, 0);
        assert_eq!(limits.admit(ip("2001:db8:1:2::1"), start), Ok(()));
        assert!(limits.admit(ip("2001:db8:1:2:ffff::9"), start).is_err());
        assert_eq!(limits.admit(ip("2001:db8:1:3::1"), start), Ok(()));
        assert_eq!(limits.admit(ip("10.1.1.1"), start), Ok(()));
        assert!(limits.admit(ip("::ffff:10.1.1.1"), start).is_err());
    }

    #[test]
    fn zero_means_unlimited() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(0, 0);
        for _ in 0..10_000 {
            assert_eq!(limits.admit(ip("10.0.0.1"), start), Ok(()));
        }
        assert_eq!(limits.addresses(), 0);
    }

    #[test]
    fn refilled_buckets_are_dropped_so_memory_stays_bounded() {
        let start = Instant::now();
        let mut limits = CheckLimits::new(60, 0);
        for n in 0..(SWEEP_AT as u32 * 3) {
            // One address a second apart: each bucket is full again a second later.
            let at = start + Duration::from_secs(u64::from(n));
            let peer = IpAddr::V4(n.into());
            assert_eq!(limits.admit(Some(peer), at), Ok(()));
        }
        assert!(limits.addresses() <= SWEEP_AT, "{}", limits.addresses());
    }
}
