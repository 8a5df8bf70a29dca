//! Word that a repository changed, from the replica that changed it to all the others.
//!
//! A mutation through one replica drops that repository's cached reads there (see
//! `github::cache`: GitHub may answer a read just after a write from a stale copy, with the
//! old ETag); [`Cluster::changed`](super::Cluster::changed) publishes the repository's name
//! on `P:changed`, and every other replica's gateway drops its cached reads too, so that the
//! next read through any replica sees the write. Pub/sub is at most once: a replica that
//! was not subscribed at that moment (Redis restarting) keeps its cache, whose reads are
//! conditional requests that GitHub answers from its current copy once it has caught up.
//!
//! The subscription has a connection of its own, opened again a second after it drops, and
//! after a minute without a message (a half-open connection hears nothing, ever).

use std::{future::poll_fn, pin::Pin, time::Duration};

use actix::prelude::*;
use futures_core::Stream;
use tokio::sync::mpsc::UnboundedSender;

use super::{Instance, REDIS_TIMEOUT, link::RedisLink};

/// How long to wait before subscribing again after the subscription dropped.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
/// How long a subscription may hear nothing before it is made anew.
const QUIET_FOR: Duration = Duration::from_secs(60);

/// Gateway → link (through `Cluster::changed`): tell the others that `repo` changed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Changed {
    pub(super) repo: String,
}

/// The payload: the publishing replica and the repository, `<instance> <owner/repo>`.
fn payload(from: Instance, repo: &str) -> String {
    format!("{from} {repo}")
}

/// A repository another replica changed, from a payload; `None` for this replica's own.
fn changed_elsewhere(payload: &str, me: Instance) -> Option<&str> {
    let (from, repo) = payload.split_once(' ')?;
    (from != me.to_string()).then_some(repo)
}

impl Handler<Changed> for RedisLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Changed, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection();
        let channel = format!("{}:changed", self.prefix());
        let message = payload(self.instance(), &msg.repo);
        Box::pin(async move {
            let mut command = redis::cmd("PUBLISH");
            command.arg(&channel).arg(&message);
            let publish = command.query_async::<i64>(&mut connection);
            // Lost with Redis away: see the module's doc for why that is safe.
            let _ = tokio::time::timeout(REDIS_TIMEOUT, publish).await;
        })
    }
}

/// Listens on `P:changed` for as long as the link lives, handing other replicas' changes to
/// `changes` (the gateway's).
pub(super) async fn listen(
    client: redis::Client,
    channel: String,
    me: Instance,
    changes: UnboundedSender<String>,
) {
    loop {
        if let Ok(Ok(mut pubsub)) =
            tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub()).await
            && let Ok(Ok(())) =
                tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(&channel)).await
        {
            let mut messages = pubsub.on_message();
            // A connection that went half-open (a failover without a reset) says nothing,
            // ever: after a quiet while the subscription is made anew, to be sure.
            while let Ok(Some(message)) = tokio::time::timeout(
                QUIET_FOR,
                poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)),
            )
            .await
            {
                let Ok(text) = message.get_payload::<String>() else {
                    continue;
                };
                if let Some(repo) = changed_elsewhere(&text, me)
                    && changes.send(repo.to_string()).is_err()
                {
                    return; // The gateway is gone: the server is stopping.
                }
            }
        }
        if changes.is_closed() {
            return;
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_skips_its_own_changes() {
        let (me, other) = (
            Instance::from_bits(1).unwrap(),
            Instance::from_bits(2).unwrap(),
        );
        let text = payload(other, "octo/tools");
        assert_eq!(changed_elsewhere(&text, me), Some("octo/tools"));
        assert_eq!(changed_elsewhere(&text, other), None);
        assert_eq!(changed_elsewhere("garbage", me), None);
    }
}
