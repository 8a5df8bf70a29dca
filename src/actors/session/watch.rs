//! Subscriptions: a session re-reads the resources its client subscribed to and tells it when
//! one changed (`notifications/resources/updated`).
//!
//! The session polls every `mcp.subscription_poll_ms`, and once right after each subscribe, so
//! that a change soon after subscribing is not missed. A read goes through the normal resource
//! path, so `issue://` reads are conditional GitHub requests: an unchanged issue costs a free
//! 304. This module keeps the digests of what was last seen, taken without the random fence
//! codes every reading carries (else every poll would look like a change).

use std::{
    collections::{BTreeSet, HashMap},
    hash::{DefaultHasher, Hash, Hasher},
};

use serde_json::Value;

use crate::tools::render::without_fence_codes;

/// The digest of each subscribed resource as last read.
#[derive(Debug, Default)]
pub struct Watch {
    seen: HashMap<String, u64>,
    /// A poll is running; polls never overlap.
    pub polling: bool,
}

impl Watch {
    /// Records what `uri` reads as now; true if it differs from the previous reading (the
    /// first reading is the baseline, not a change).
    pub fn changed(&mut self, uri: &str, contents: &[Value]) -> bool {
        let mut hasher = DefaultHasher::new();
        for content in contents {
            // Each reading fences its text with a new code; only the data counts.
            match content.get("text").and_then(Value::as_str) {
                Some(text) => {
                    without_fence_codes(text).hash(&mut hasher);
                    content.get("uri").map(Value::to_string).hash(&mut hasher);
                }
                None => content.to_string().hash(&mut hasher),
            }
        }
        let digest = hasher.finish();
        self.seen
            .insert(uri.to_string(), digest)
            .is_some_and(|before| before != digest)
    }

    /// Forgets resources no longer subscribed to.
    pub fn retain(&mut self, subscribed: &BTreeSet<String>) {
        self.seen.retain(|uri, _| subscribed.contains(uri));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_reading_is_a_baseline_and_later_differences_are_changes() {
        let mut watch = Watch::default();
        assert!(!watch.changed("issue://o/r/1", &[json!({"text": "a"})]));
        assert!(!watch.changed("issue://o/r/1", &[json!({"text": "a"})]));
        assert!(watch.changed("issue://o/r/1", &[json!({"text": "b"})]));
        watch.retain(&BTreeSet::new());
        assert!(!watch.changed("issue://o/r/1", &[json!({"text": "c"})]));
    }
}
