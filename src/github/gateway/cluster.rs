//! The gateway as one replica of several (`crate::cluster`): GitHub's per-token rules are
//! shared through Redis, and writes made through one replica drop the cached reads of the
//! others.
//!
//! Before a request the gateway asks its own `Limits` first, then the cluster
//! ([`GitHubGateway::shared_verdict`]), and keeps the stricter: the longer delay, or the
//! refusal. After an answer it shares what GitHub said of the token ([`GitHubGateway::share`]),
//! and after a mutation, which repository changed. On one process none of this does
//! anything (and the cluster is not even asked).

use std::time::{Duration, SystemTime};

use actix::prelude::*;

use super::GitHubGateway;
use crate::{
    cluster::{
        Cluster,
        tokens::{Answered, Verdict},
    },
    github::{
        error::{GitHubError, RateResource},
        request::TokenKey,
    },
};

/// Cluster → gateway: another replica changed `repo`; its cached reads here are stale.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Changed(String);

impl Handler<Changed> for GitHubGateway {
    type Result = ();

    fn handle(&mut self, msg: Changed, _ctx: &mut Self::Context) {
        self.cache.invalidate_repo(&msg.0);
    }
}

impl GitHubGateway {
    /// The gateway of one replica of `cluster`.
    pub fn in_cluster(self, cluster: Cluster) -> Self {
        GitHubGateway { cluster, ..self }
    }

    /// Listens for the repositories other replicas change (when there are any).
    pub(super) fn listen_for_changes(&self, ctx: &mut Context<Self>) {
        if let Some(mut changes) = self.cluster.take_changes() {
            let gateway = ctx.address();
            ctx.spawn(
                async move {
                    while let Some(repo) = changes.recv().await {
                        gateway.do_send(Changed(repo));
                    }
                }
                .into_actor(self),
            );
        }
    }

    /// What the cluster says of a request about to go out, which this replica's own limits
    /// would send after `local_wait`: the delay it asks for, or why not to send it at all.
    /// Zero at once on one process.
    pub(super) fn shared_verdict(
        &self,
        key: TokenKey,
        resource: RateResource,
        mutation: bool,
        local_wait: Duration,
    ) -> impl Future<Output = Result<Duration, GitHubError>> + 'static {
        let cluster = self.cluster.clone();
        let (interval, wait) = (self.policy.mutation_interval, self.policy.max_reset_wait);
        async move {
            if cluster.instance().is_none() {
                return Ok(Duration::ZERO);
            }
            let verdict = cluster
                .admit_call(key, resource.as_str(), mutation, interval, wait, local_wait)
                .await;
            match verdict {
                Verdict::Go(delay) => Ok(delay),
                Verdict::Rejected(left) => Err(GitHubError::Unauthorized {
                    message: format!(
                        "GitHub rejected this token moments ago (through another replica); \
                         calls with it are held for {}s",
                        left.as_secs().max(1)
                    ),
                }),
                Verdict::BackOff(retry_in) => Err(GitHubError::SecondaryRateLimited { retry_in }),
                Verdict::Spent { reset_epoch } => Err(GitHubError::RateLimited {
                    resource,
                    resets_at: SystemTime::UNIX_EPOCH + Duration::from_secs(reset_epoch),
                }),
            }
        }
    }

    /// Shares what an answer said of token `key`'s limits with the other replicas.
    pub(super) fn share(&self, key: TokenKey, answered: Answered) {
        if self.cluster.instance().is_some() {
            self.cluster.record_answer(key, answered);
        }
    }

    /// Tells the other replicas that `repo` changed through this one.
    pub(super) fn announce_change(&self, repo: &str) {
        self.cluster.changed(repo);
    }
}
