//! [`ResourceWatcher`]: the stateless revision's resource subscriptions. A
//! `subscriptions/listen` stream that asks for `resourceSubscriptions` registers here
//! ([`Watch`]); one actor per server re-reads every watched resource each
//! `mcp.subscription_poll_ms` and tells each listener of a change with
//! `notifications/resources/updated`, tagged with its listen request's id.
//!
//! One read per resource and credential, however many listeners: listeners of the same
//! owner (principal, and token in `github-token` mode) share a read, others never do, so
//! nobody hears of a change through someone else's access. Reads go the usual resource path:
//! `issue://` reads are conditional GitHub requests, an unchanged issue a free 304. What was
//! last read is kept as a digest without the reading's fence codes, as sessions do
//! (`session::watch`). A listener whose stream closed is dropped at once ([`Unwatch`], sent
//! by its stream's task) or at the next poll that finds its channel closed.

use std::collections::HashMap;

use actix::prelude::*;
use serde_json::{Value, json};

use super::session::watch::digest;
use crate::{
    auth::{Owner, Principal},
    dispatch::{Dispatcher, McpState},
    mcp::{
        envelope::SUBSCRIPTION_ID,
        jsonrpc::{ErrorObject, Message, Notification},
        protocol::ProtocolVersion,
    },
    outlet::{Delivery, Outlet},
};

/// See the module's documentation.
#[derive(Debug)]
pub struct ResourceWatcher {
    dispatcher: Dispatcher,
    watched: HashMap<(Owner, String), Watched>,
    next_listener: u64,
    /// Owners whose reads of this poll are still running; polls never overlap.
    polling: usize,
    /// Resources were added during a poll: poll again as soon as it ends, so that they get
    /// their first reading (a change before it would become that reading, unannounced).
    again: bool,
}

/// One resource as one owner reads it, and who listens.
#[derive(Debug)]
struct Watched {
    state: McpState,
    /// What the last reading was; `None` before the first.
    digest: Option<u64>,
    listeners: Vec<Listener>,
}

#[derive(Debug)]
struct Listener {
    id: u64,
    outlet: Outlet,
    /// The listen request's id, as the notifications' `_meta` names it.
    subscription: Value,
}

impl ResourceWatcher {
    pub fn new(dispatcher: Dispatcher) -> Self {
        ResourceWatcher {
            dispatcher,
            watched: HashMap::new(),
            next_listener: 0,
            polling: 0,
            again: false,
        }
    }

    /// Re-reads every watched resource (each once) and announces the ones that changed. Each
    /// owner's reads go one after another, owners side by side: one owner watching many
    /// resources does not hold up the others' news (the gateway takes turns between them).
    fn poll(&mut self, ctx: &mut Context<Self>) {
        self.watched
            .retain(|_, watched| !watched.listeners.is_empty());
        if self.polling > 0 || self.watched.is_empty() {
            return;
        }
        let mut by_owner: HashMap<&Owner, Vec<_>> = HashMap::new();
        for (key, watched) in &self.watched {
            if let Some(read) = self.dispatcher.resource_contents(&watched.state, &key.1) {
                by_owner
                    .entry(&key.0)
                    .or_default()
                    .push((key.clone(), read));
            }
        }
        let chains: Vec<_> = by_owner.into_values().collect();
        self.polling = chains.len();
        for reads in chains {
            let work = async move {
                let mut readings = Vec::new();
                for (key, read) in reads {
                    readings.push((key, read.await));
                }
                readings
            };
            ctx.spawn(work.into_actor(self).map(|readings, act, ctx| {
                act.polling -= 1;
                for (key, reading) in readings {
                    act.record(key, reading);
                }
                if act.polling == 0 && std::mem::take(&mut act.again) {
                    act.poll(ctx);
                }
            }));
        }
    }

    /// Takes in one reading, announcing a change from the one before.
    fn record(&mut self, key: (Owner, String), reading: Result<Vec<Value>, ErrorObject>) {
        let Some(watched) = self.watched.get_mut(&key) else {
            return;
        };
        let contents = match reading {
            Ok(contents) => contents,
            Err(err) => {
                log::debug!("listen: could not re-read {}: {}", key.1, err.message);
                return;
            }
        };
        let now = digest(&contents);
        let changed = watched.digest.is_some_and(|before| before != now);
        watched.digest = Some(now);
        if changed {
            watched.announce(&key.1);
        }
    }
}

impl Watched {
    fn announce(&mut self, uri: &str) {
        self.listeners.retain(|listener| {
            let params = json!({"uri": uri, "_meta": {SUBSCRIPTION_ID: listener.subscription}});
            let note = Notification::new("notifications/resources/updated", Some(params));
            // A closed stream is gone; a full one (a client not reading) misses this one.
            listener.outlet.send(Message::Notification(note)) != Delivery::Closed
        });
    }
}

impl Actor for ResourceWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.dispatcher.config().poll_interval, |act, ctx| {
            act.poll(ctx)
        });
    }
}

/// Watches `uris` for `principal`, telling `outlet` of changes tagged with `subscription`;
/// answers the listener's id, for [`Unwatch`].
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct Watch {
    pub principal: Principal,
    pub uris: Vec<String>,
    pub outlet: Outlet,
    pub subscription: Value,
}

impl Handler<Watch> for ResourceWatcher {
    type Result = u64;

    fn handle(&mut self, msg: Watch, ctx: &mut Context<Self>) -> u64 {
        self.next_listener += 1;
        let id = self.next_listener;
        let mut fresh = false;
        for uri in msg.uris {
            let key = (msg.principal.owner.clone(), uri);
            let watched = self.watched.entry(key).or_insert_with(|| {
                fresh = true;
                Watched {
                    state: McpState::stateless(&msg.principal, ProtocolVersion::V2026_07_28),
                    digest: None,
                    listeners: Vec::new(),
                }
            });
            watched.listeners.push(Listener {
                id,
                outlet: msg.outlet.clone(),
                subscription: msg.subscription.clone(),
            });
        }
        // A first reading now (or right after the poll running now), so that a change soon
        // after listening is not missed.
        if fresh {
            self.again |= self.polling > 0;
            self.poll(ctx);
        }
        id
    }
}

/// The listener has gone.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unwatch(pub u64);

impl Handler<Unwatch> for ResourceWatcher {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Context<Self>) {
        for watched in self.watched.values_mut() {
            watched.listeners.retain(|listener| listener.id != msg.0);
        }
        self.watched
            .retain(|_, watched| !watched.listeners.is_empty());
    }
}
