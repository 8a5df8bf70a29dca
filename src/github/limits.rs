//! Rate-limit bookkeeping for one credential: the primary budgets GitHub reports in its
//! `x-ratelimit-*` headers, the back-off after a secondary rate limit, the spacing of
//! mutations, and a hold on a token GitHub rejected.
//!
//! The gateway asks [`Limits::admit`] before each call: it says how long to wait first, or
//! refuses at once with the error to give the caller, so that nothing is sent that GitHub would
//! reject. Pure state with the clock passed in, so the rules are unit-tested without sleeping.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime},
};

use super::error::{GitHubError, RateResource};

/// The rules, from the `github.*` settings.
#[derive(Debug, Clone)]
pub struct LimitPolicy {
    /// Least time between two mutations on one credential (GitHub asks for about 1 s).
    pub mutation_interval: Duration,
    /// With the budget spent, wait for the reset if it is at most this far away; refuse
    /// otherwise.
    pub max_reset_wait: Duration,
    /// Back-off after a secondary limit that came without `retry-after`; doubles on repeats.
    pub secondary_backoff: Duration,
}

/// The longest back-off after repeated secondary limits.
const MAX_SECONDARY_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How long calls with a token GitHub rejected (401) are refused without sending. GitHub
/// answers repeated requests with bad credentials by refusing every login of that user for a
/// while, valid ones included: an agent retrying with a revoked token must not lock its
/// owner out.
pub const REJECTED_TOKEN_HOLD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u64,
    resets_at: SystemTime,
}

#[derive(Debug, Default)]
pub struct Limits {
    /// A `BTreeMap`: with two resources, a lookup is a compare or two, where a `HashMap`
    /// ran SipHash on every admission and every answer.
    budgets: BTreeMap<RateResource, Budget>,
    backoff_until: Option<Instant>,
    /// Secondary limits in a row, for the growing back-off.
    strikes: u32,
    next_mutation: Option<Instant>,
    /// GitHub rejected the token: until when, and GitHub's words.
    rejected: Option<(Instant, String)>,
}

impl Limits {
    /// How long to wait before sending, or why not to send at all. A mutation takes its slot
    /// in the spacing here, so concurrent mutations queue up one interval apart.
    pub fn admit(
        &mut self,
        resource: RateResource,
        mutation: bool,
        now: Instant,
        wall: SystemTime,
        policy: &LimitPolicy,
    ) -> Result<Duration, GitHubError> {
        if let Some((until, message)) = &self.rejected
            && *until > now
        {
            return Err(GitHubError::Unauthorized {
                message: message.clone(),
            });
        }
        if let Some(until) = self.backoff_until.filter(|until| *until > now) {
            return Err(GitHubError::SecondaryRateLimited {
                retry_in: until - now,
            });
        }
        let mut delay = Duration::ZERO;
        if let Some(budget) = self.budgets.get(&resource)
            && budget.remaining == 0
            && let Ok(until_reset) = budget.resets_at.duration_since(wall)
        {
            if until_reset > policy.max_reset_wait {
                return Err(GitHubError::RateLimited {
                    resource,
                    resets_at: budget.resets_at,
                });
            }
            // GitHub's reset is in whole seconds: a moment more makes sure it has happened.
            delay = until_reset + Duration::from_millis(250);
        }
        if mutation {
            // Its slot comes after any wait for a reset: mutations waiting for one go out
            // one interval apart after it, not all at once.
            let earliest = now + delay;
            let slot = self
                .next_mutation
                .map_or(earliest, |next| next.max(earliest));
            self.next_mutation = Some(slot + policy.mutation_interval);
            delay = slot - now;
        }
        Ok(delay)
    }

    /// Records `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds).
    pub fn record_budget(&mut self, resource: RateResource, remaining: u64, reset_epoch: u64) {
        self.budgets.insert(
            resource,
            Budget {
                remaining,
                // The transport keeps resets within an hour; checked all the same, as a
                // panic here would stop the gateway for every session.
                resets_at: SystemTime::UNIX_EPOCH
                    .checked_add(Duration::from_secs(reset_epoch))
                    .unwrap_or_else(SystemTime::now),
            },
        );
    }

    /// What is left of a budget, as last reported.
    pub fn remaining(&self, resource: RateResource) -> Option<u64> {
        self.budgets.get(&resource).map(|budget| budget.remaining)
    }

    /// A secondary limit: no calls for `retry_after`, or a growing back-off without it.
    /// Returns how long calls are held back.
    pub fn record_secondary(
        &mut self,
        retry_after: Option<Duration>,
        now: Instant,
        policy: &LimitPolicy,
    ) -> Duration {
        let growing = policy.secondary_backoff * 2u32.saturating_pow(self.strikes.min(8));
        let mut wait = retry_after
            .unwrap_or(growing)
            .min(MAX_SECONDARY_BACKOFF.max(retry_after.unwrap_or_default()));
        // The transport keeps retry-after within an hour; a wait past the clock's end is
        // taken as the longest back-off, and said so.
        let until = now.checked_add(wait).unwrap_or_else(|| {
            wait = MAX_SECONDARY_BACKOFF;
            now + wait
        });
        self.strikes += 1;
        self.backoff_until = Some(until);
        wait
    }

    /// Whether anything here still holds calls back, or would: a back-off, secondary-limit
    /// strikes, a spent budget before its reset, a mutation's slot ahead. Only state that
    /// holds nothing back may be forgotten; a fresh `Limits` admits everything at once.
    /// Strikes (which only grow the next back-off) count until [`MAX_SECONDARY_BACKOFF`]
    /// after the last back-off ended: a token quiet for that long starts over.
    pub fn holds_back(&self, now: Instant, wall: SystemTime) -> bool {
        self.backoff_until.is_some_and(|until| until > now)
            || self
                .rejected
                .as_ref()
                .is_some_and(|(until, _)| *until > now)
            || (self.strikes > 0
                && self.backoff_until.is_some_and(|until| {
                    until
                        .checked_add(MAX_SECONDARY_BACKOFF)
                        .is_none_or(|end| end > now)
                }))
            || self.next_mutation.is_some_and(|next| next > now)
            || self
                .budgets
                .values()
                .any(|budget| budget.remaining == 0 && budget.resets_at > wall)
    }

    /// GitHub rejected the token: calls with it are refused for [`REJECTED_TOKEN_HOLD`].
    pub fn record_rejected(&mut self, message: &str, now: Instant) {
        self.rejected = Some((now + REJECTED_TOKEN_HOLD, message.to_string()));
    }

    /// A call went through: secondary-limit strikes start over.
    pub fn record_success(&mut self) {
        self.strikes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LimitPolicy {
        LimitPolicy {
            mutation_interval: Duration::from_millis(1000),
            max_reset_wait: Duration::from_secs(5),
            secondary_backoff: Duration::from_secs(60),
        }
    }

    fn epoch(wall: SystemTime) -> u64 {
        wall.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn spent_budget_refuses_until_a_distant_reset() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        limits.record_budget(RateResource::Search, 0, epoch(wall) + 300);
        let err = limits
            .admit(RateResource::Search, false, now, wall, &policy())
            .unwrap_err();
        assert!(matches!(
            err,
            GitHubError::RateLimited {
                resource: RateResource::Search,
                ..
            }
        ));
        // The other resource is unaffected.
        assert_eq!(
            limits.admit(RateResource::Core, false, now, wall, &policy()),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn absurd_resets_and_waits_do_not_overflow_the_clock() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        limits.record_budget(RateResource::Core, 10, u64::MAX);
        let wait = limits.record_secondary(Some(Duration::MAX), now, &policy());
        assert_eq!(wait, MAX_SECONDARY_BACKOFF);
        assert!(limits.holds_back(now, wall));
        assert!(
            limits
                .admit(RateResource::Core, false, now, wall, &policy())
                .is_err()
        );
    }

    #[test]
    fn spent_budget_waits_for_a_near_reset_and_ignores_a_past_one() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        limits.record_budget(RateResource::Core, 0, epoch(wall) + 3);
        let delay = limits
            .admit(RateResource::Core, false, now, wall, &policy())
            .unwrap();
        assert!(
            delay > Duration::from_secs(2) && delay <= Duration::from_secs(4),
            "{delay:?}"
        );
        limits.record_budget(RateResource::Core, 0, epoch(wall) - 1);
        assert_eq!(
            limits.admit(RateResource::Core, false, now, wall, &policy()),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn mutations_waiting_for_a_reset_go_one_interval_apart_after_it() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        limits.record_budget(RateResource::Core, 0, epoch(wall) + 3);
        let delays: Vec<Duration> = (0..2)
            .map(|_| {
                limits
                    .admit(RateResource::Core, true, now, wall, &policy())
                    .unwrap()
            })
            .collect();
        assert!(delays[0] > Duration::from_secs(2), "{delays:?}");
        assert_eq!(delays[1] - delays[0], policy().mutation_interval);
    }

    #[test]
    fn mutations_are_spaced_one_interval_apart() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        let delays: Vec<Duration> = (0..3)
            .map(|_| {
                limits
                    .admit(RateResource::Core, true, now, wall, &policy())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            delays,
            [0, 1000, 2000].map(Duration::from_millis),
            "three mutations at once"
        );
        // Reads are not spaced.
        assert_eq!(
            limits.admit(RateResource::Core, false, now, wall, &policy()),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn only_state_that_holds_nothing_back_may_be_forgotten() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let later = (
            now + Duration::from_secs(3600),
            wall + Duration::from_secs(3600),
        );
        let mut limits = Limits::default();
        assert!(!limits.holds_back(now, wall));
        limits.record_budget(RateResource::Core, 4999, epoch(wall) + 3600);
        assert!(!limits.holds_back(now, wall), "budget left");
        limits.record_budget(RateResource::Search, 0, epoch(wall) + 60);
        assert!(limits.holds_back(now, wall), "spent until its reset");
        assert!(!limits.holds_back(later.0, later.1), "reset since");

        let mut spaced = Limits::default();
        spaced
            .admit(RateResource::Core, true, now, wall, &policy())
            .unwrap();
        assert!(spaced.holds_back(now, wall), "the next mutation's slot");
        assert!(!spaced.holds_back(later.0, later.1));

        let mut struck = Limits::default();
        let wait = struck.record_secondary(None, now, &policy());
        let after_backoff = now + wait + Duration::from_secs(1);
        assert!(
            struck.holds_back(after_backoff, wall),
            "strikes grow the next back-off"
        );
        assert!(
            !struck.holds_back(now + wait + MAX_SECONDARY_BACKOFF, wall),
            "a token quiet long after its back-off starts over"
        );
        struck.record_success();
        assert!(!struck.holds_back(after_backoff, wall));
    }

    #[test]
    fn a_rejected_token_is_held_back_for_a_while() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        limits.record_rejected("Bad credentials", now);
        let refused = GitHubError::Unauthorized {
            message: "Bad credentials".into(),
        };
        for mutation in [false, true] {
            assert_eq!(
                limits.admit(RateResource::Core, mutation, now, wall, &policy()),
                Err(refused.clone())
            );
        }
        assert!(limits.holds_back(now, wall));
        let after = now + REJECTED_TOKEN_HOLD;
        assert!(!limits.holds_back(after, wall));
        assert_eq!(
            limits.admit(RateResource::Core, false, after, wall, &policy()),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn secondary_limit_backs_off_and_grows_without_retry_after() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut limits = Limits::default();
        assert_eq!(
            limits.record_secondary(Some(Duration::from_secs(30)), now, &policy()),
            Duration::from_secs(30)
        );
        let err = limits
            .admit(RateResource::Core, false, now, wall, &policy())
            .unwrap_err();
        assert_eq!(
            err,
            GitHubError::SecondaryRateLimited {
                retry_in: Duration::from_secs(30)
            }
        );
        assert_eq!(
            limits.record_secondary(None, now, &policy()),
            Duration::from_secs(120),
            "second strike without retry-after doubles the 60 s minimum"
        );
        limits.record_success();
        assert_eq!(
            limits.record_secondary(None, now, &policy()),
            Duration::from_secs(60)
        );
    }
}
