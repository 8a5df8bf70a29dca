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

use actix::prelude::*;
use serde_json::{Value, json};

use super::Session;
use crate::{
    mcp::jsonrpc::{Message, Notification},
    tools::render::without_fence_codes,
};

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
        let digest = digest(contents);
        self.seen
            .insert(uri.to_string(), digest)
            .is_some_and(|before| before != digest)
    }

    /// Forgets resources no longer subscribed to.
    pub fn retain(&mut self, subscribed: &BTreeSet<String>) {
        self.seen.retain(|uri, _| subscribed.contains(uri));
    }
}

/// A digest of a resource's reading, without the fence codes each reading's text carries
/// (else every reading would look like a change). Also used by `actors::watcher`.
pub fn digest(contents: &[Value]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for content in contents {
        match content.get("text").and_then(Value::as_str) {
            Some(text) => {
                without_fence_codes(text).hash(&mut hasher);
                content.get("uri").map(Value::to_string).hash(&mut hasher);
            }
            None => content.to_string().hash(&mut hasher),
        }
    }
    hasher.finish()
}

impl Session {
    /// Re-reads every subscribed resource and announces the ones that changed.
    pub(super) fn poll_subscriptions(&mut self, ctx: &mut Context<Self>) {
        self.watch.retain(&self.state.subscriptions);
        if self.watch.polling || self.state.subscriptions.is_empty() {
            return;
        }
        let reads: Vec<_> = self
            .state
            .subscriptions
            .iter()
            .filter_map(|uri| {
                let read = self.dispatcher.resource_contents(&self.state, uri)?;
                Some((uri.clone(), read))
            })
            .collect();
        self.watch.polling = true;
        let work = async move {
            let mut readings = Vec::new();
            for (uri, read) in reads {
                readings.push((uri, read.await));
            }
            readings
        };
        ctx.spawn(work.into_actor(self).map(|readings, act, ctx| {
            act.watch.polling = false;
            for (uri, reading) in readings {
                match reading {
                    // Unsubscribed while it was being read: nothing to say.
                    _ if !act.state.subscriptions.contains(&uri) => {}
                    Ok(contents) => {
                        if act.watch.changed(&uri, &contents) {
                            let params = json!({ "uri": uri });
                            act.send(
                                ctx,
                                Message::Notification(Notification::new(
                                    "notifications/resources/updated",
                                    Some(params),
                                )),
                            );
                        }
                    }
                    Err(err) => log::debug!(
                        "session {}: could not re-read {uri}: {}",
                        act.id,
                        err.message
                    ),
                }
            }
        }));
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
