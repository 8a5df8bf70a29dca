//! Booking GitHub's answer to a call, on the gateway actor once the call is back: the budget
//! it reported, a secondary limit's back-off, a rejected token's hold (each also shared with
//! the other replicas, [`super::cluster`]), and the ETag cache. [`super::call`] comes here
//! after each try on the wire.

use std::{sync::Arc, time::Instant};

use super::{
    GitHubGateway,
    call::{Attempt, Call},
};
use crate::cluster::tokens::Answered;
use crate::github::{
    error::GitHubError,
    limits::REJECTED_TOKEN_HOLD,
    request::{ApiResponse, ApiResult},
    transport::Classified,
};

impl GitHubGateway {
    /// Books the answer: budgets, back-off, cache. Runs on the actor after the call.
    pub(super) fn settle(&mut self, call: &Call, attempt: Attempt) -> ApiResult {
        let request = &call.request;
        let raw = match attempt {
            Attempt::Refused(GitHubError::Abandoned) => return Err(GitHubError::Abandoned),
            Attempt::Refused(err) => {
                self.stats.refused += 1;
                return Err(err);
            }
            Attempt::Sent(raw) => {
                self.stats.upstream += 1;
                if request.method.is_mutation()
                    && let Some(repo) = &request.repo
                {
                    // Even a failed or lost mutation may have changed the repository.
                    self.cache.invalidate_repo(repo);
                    self.announce_change(repo);
                }
                raw?
            }
        };
        self.metrics.github_status(raw.status);
        let policy = self.policy.clone();
        let mut state = call.state.borrow_mut();
        let limits = &mut state.limits;
        let resource = raw.resource.unwrap_or(request.resource);
        let answered = Answered {
            resource: resource.as_str(),
            budget: raw.remaining.zip(raw.reset),
            ..Answered::default()
        };
        if let Some((remaining, reset)) = answered.budget {
            limits.record_budget(resource, remaining, reset);
            self.share(call.key, answered);
        }
        let etag = raw.etag.clone();
        match raw.classify(request.resource) {
            Classified::Fresh(response) => {
                limits.record_success();
                let response = Arc::new(response);
                if let (Some(key), Some(etag)) = (&call.pending, etag) {
                    self.cache
                        .insert(key, etag, request.repo.clone(), response.clone());
                }
                Ok(response)
            }
            Classified::NotModified => {
                limits.record_success();
                self.stats.not_modified += 1;
                // A GET's key was made when it came; any other call (sent without
                // `If-None-Match`: a 304 is not expected) is looked up by its URL, as a GET.
                let cached = match &call.pending {
                    Some(key) => self.cache.revalidated(key),
                    None => self
                        .cache
                        .revalidated(&self.get_keys.key(call.key, &request.url)),
                };
                let cached = cached.ok_or_else(|| GitHubError::Unexpected {
                    status: 304,
                    message: "Not Modified for an answer that is no longer cached".into(),
                })?;
                Ok(Arc::new(ApiResponse {
                    revalidated: true,
                    ..(*cached).clone()
                }))
            }
            Classified::Secondary(retry_after) => {
                let retry_in = limits.record_secondary(retry_after, Instant::now(), &policy);
                let backoff = Some(retry_in);
                self.share(
                    call.key,
                    Answered {
                        backoff,
                        ..answered
                    },
                );
                log::warn!(
                    "GitHub secondary rate limit on {} {}; holding calls for this token {}s",
                    request.method.as_str(),
                    request.url,
                    retry_in.as_secs()
                );
                Err(GitHubError::SecondaryRateLimited { retry_in })
            }
            Classified::Failed(GitHubError::Unauthorized { message }) => {
                limits.record_rejected(&message, Instant::now());
                let rejected = Some(REJECTED_TOKEN_HOLD);
                self.share(
                    call.key,
                    Answered {
                        rejected,
                        ..answered
                    },
                );
                log::warn!(
                    "GitHub rejected a token (401: {message}) on {} {}; calls with it are \
                     refused for {}s without sending",
                    request.method.as_str(),
                    request.url,
                    REJECTED_TOKEN_HOLD.as_secs()
                );
                Err(GitHubError::Unauthorized { message })
            }
            Classified::Failed(err) => Err(err),
        }
    }
}
