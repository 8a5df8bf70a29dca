//! How many stateless requests (open `subscriptions/listen` streams included) each principal
//! may have in flight at once: as many as it could have with its sessions
//! (`limits.max_sessions_per_principal` × `limits.max_in_flight_per_session`). A session
//! bounds its own requests; a stateless request has no session, so the bound is kept here,
//! shared by every worker. Used by `super` only.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// The count of requests in flight per principal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InFlight {
    limit: usize,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

/// One request's place; given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    principal: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl InFlight {
    pub fn new(limit: usize) -> Self {
        InFlight {
            limit: limit.max(1),
            counts: Arc::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Requests in flight in total (what the shutdown drain waits for).
    pub fn total(&self) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.values().sum()
    }

    /// A place for one more request of `principal`, unless it has `limit` in flight.
    pub fn admit(&self, principal: &str) -> Option<Ticket> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up by reference: only a principal's first request allocates its key.
        match counts.get_mut(principal) {
            Some(count) if *count >= self.limit => return None,
            Some(count) => *count += 1,
            None => {
                counts.insert(principal.to_string(), 1);
            }
        }
        Some(Ticket {
            principal: principal.to_string(),
            counts: self.counts.clone(),
        })
    }

    #[cfg(test)]
    fn count(&self, principal: &str) -> usize {
        let counts = self.counts.lock().unwrap();
        counts.get(principal).copied().unwrap_or(0)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.principal) {
            *count -= 1;
            // Principals come and go: only those with requests in flight are kept.
            if *count == 0 {
                counts.remove(&self.principal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_principal_has_its_own_bound_and_places_come_back() {
        let in_flight = InFlight::new(2);
        let first = in_flight.admit("alice").unwrap();
        let _second = in_flight.admit("alice").unwrap();
        assert!(in_flight.admit("alice").is_none());
        let _bob = in_flight.admit("bob").unwrap();
        drop(first);
        assert!(in_flight.admit("alice").is_some());
        assert_eq!(in_flight.count("carol"), 0);
        drop(_bob);
        assert_eq!(in_flight.count("bob"), 0);
        assert!(in_flight.counts.lock().unwrap().get("bob").is_none());
    }
}
