//! What GitHub said of the tokens callers sent (`auth.mode = github-token`), remembered for a
//! while so that a token is not checked against `GET /user` on every request.
//!
//! Both verdicts are kept. An accepted token maps to its login for [`ACCEPTED_FOR`]. A token
//! GitHub refused is refused here for [`REJECTED_FOR`] without asking again: GitHub answers
//! repeated requests with bad credentials by refusing every login attempt of that user for a
//! while, valid ones included, so a client stuck on a revoked token must not be passed
//! through on each retry. Each list is bounded ([`MAX_REMEMBERED`]): the tokens are chosen by
//! whoever sends requests, and the memory must not grow with them. Keys are
//! 128 bits of the tokens' SHA-256 ([`super::token_key`]), never tokens.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// How long a token GitHub accepted is trusted before it is checked again.
pub const ACCEPTED_FOR: Duration = Duration::from_secs(300);
/// How long a token GitHub refused is refused here without asking GitHub.
pub const REJECTED_FOR: Duration = Duration::from_secs(60);
/// Tokens remembered at most in each list; beyond it the oldest check is forgotten first.
pub const MAX_REMEMBERED: usize = 10_000;

/// What is known of a token now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// GitHub accepted it lately: the login it belongs to.
    Accepted(String),
    /// GitHub refused it lately.
    Rejected,
    /// Never checked, or checked too long ago: ask GitHub.
    Unknown,
}

#[derive(Debug)]
pub struct TokenChecks {
    accepted: HashMap<u128, (String, Instant)>,
    rejected: HashMap<u128, Instant>,
    capacity: usize,
}

impl Default for TokenChecks {
    fn default() -> Self {
        TokenChecks::with_capacity(MAX_REMEMBERED)
    }
}

impl TokenChecks {
    fn with_capacity(capacity: usize) -> Self {
        TokenChecks {
            accepted: HashMap::new(),
            rejected: HashMap::new(),
            capacity,
        }
    }

    pub fn verdict(&self, key: u128, now: Instant) -> Verdict {
        if let Some((login, checked)) = self.accepted.get(&key)
            && now.duration_since(*checked) < ACCEPTED_FOR
        {
            return Verdict::Accepted(login.clone());
        }
        match self.rejected.get(&key) {
            Some(checked) if now.duration_since(*checked) < REJECTED_FOR => Verdict::Rejected,
            _ => Verdict::Unknown,
        }
    }

    pub fn accept(&mut self, key: u128, login: String, now: Instant) {
        self.rejected.remove(&key);
        make_room(&mut self.accepted, key, self.capacity, |(_, at)| *at);
        self.accepted.insert(key, (login, now));
    }

    pub fn reject(&mut self, key: u128, now: Instant) {
        self.accepted.remove(&key);
        make_room(&mut self.rejected, key, self.capacity, |at| *at);
        self.rejected.insert(key, now);
    }

    /// Tokens remembered: accepted, rejected.
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.accepted.len(), self.rejected.len())
    }
}

/// Before a new `key` goes into a full `map`: the oldest entry leaves. Expired entries are
/// simply the oldest ones, so no separate sweep is needed; a full scan happens only when a
/// new token arrives at a full map, which is rare next to the GitHub call that precedes it.
fn make_room<V>(
    map: &mut HashMap<u128, V>,
    key: u128,
    capacity: usize,
    checked: impl Fn(&V) -> Instant,
) {
    if map.len() < capacity || map.contains_key(&key) {
        return;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, value)| checked(value))
        .map(|(key, _)| *key);
    if let Some(oldest) = oldest {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_last_as_long_as_they_should() {
        let start = Instant::now();
        let mut checks = TokenChecks::default();
        assert_eq!(checks.verdict(1, start), Verdict::Unknown);
        checks.accept(1, "octocat".into(), start);
        checks.reject(2, start);
        assert_eq!(
            checks.verdict(1, start + ACCEPTED_FOR - Duration::from_secs(1)),
            Verdict::Accepted("octocat".into())
        );
        assert_eq!(checks.verdict(1, start + ACCEPTED_FOR), Verdict::Unknown);
        assert_eq!(
            checks.verdict(2, start + REJECTED_FOR - Duration::from_secs(1)),
            Verdict::Rejected
        );
        assert_eq!(checks.verdict(2, start + REJECTED_FOR), Verdict::Unknown);
    }

    #[test]
    fn the_newer_verdict_replaces_the_older() {
        let start = Instant::now();
        let mut checks = TokenChecks::default();
        checks.accept(1, "octocat".into(), start);
        checks.reject(1, start);
        assert_eq!(checks.verdict(1, start), Verdict::Rejected);
        checks.accept(1, "octocat".into(), start);
        assert_eq!(
            checks.verdict(1, start),
            Verdict::Accepted("octocat".into())
        );
        assert_eq!(checks.len(), (1, 0));
    }

    #[test]
    fn each_list_keeps_only_the_newest_checks() {
        let start = Instant::now();
        let mut checks = TokenChecks::with_capacity(3);
        for key in 0..10u128 {
            let at = start + Duration::from_millis(key as u64);
            checks.accept(key, format!("user-{key}"), at);
            checks.reject(100 + key, at);
        }
        assert_eq!(checks.len(), (3, 3));
        let now = start + Duration::from_millis(10);
        for key in 7..10u128 {
            assert_eq!(
                checks.verdict(key, now),
                Verdict::Accepted(format!("user-{key}"))
            );
            assert_eq!(checks.verdict(100 + key, now), Verdict::Rejected);
        }
        assert_eq!(checks.verdict(6, now), Verdict::Unknown);
        assert_eq!(checks.verdict(106, now), Verdict::Unknown);
        // A token already remembered is checked again in place, pushing nothing out.
        checks.accept(8, "user-8".into(), now);
        assert_eq!(checks.len(), (3, 3));
        assert_eq!(checks.verdict(7, now), Verdict::Accepted("user-7".into()));
    }
}
