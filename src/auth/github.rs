//! `auth.mode = github-token`: whose a bearer token is, as GitHub's `GET /user` says, asked as
//! rarely as possible. [`super::Authenticator`] asks [`GitHubTokens::login`] on every request.
//!
//! - A remembered verdict ([`super::tokens`]), accepted or refused, answers at once: it costs
//!   no GitHub call and counts against no limit.
//! - Requests that bring the same unknown token at the same time share one check.
//! - A new check draws on the client address's budget and the server's ([`super::throttle`]).
//!   Without budget the request is refused at once and GitHub is not asked: made-up bearers
//!   cannot turn the server into a stream of bad-credential calls (which GitHub answers by
//!   blocking the server's address) or into an oracle for stolen tokens. The refusal says
//!   nothing of the token, which was not checked.
//! - A check runs as its own task, so a client that hangs up does not abandon it halfway, and
//!   whoever waits for the same token still gets the answer.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};

use tokio::sync::watch;

use super::{
    AuthError,
    throttle::{CheckLimits, Refusal},
    tokens::{TokenChecks, Verdict},
};
use crate::github::{api::GitHub, error::GitHubError, request::Credential};

/// What a check answers: the login, or why there is none.
type Answer = Option<Result<String, AuthError>>;

#[derive(Debug, Clone)]
pub struct GitHubTokens {
    github: GitHub,
    state: Arc<Mutex<State>>,
}

/// One lock for all of it: a remembered token, the common case, takes it once.
#[derive(Debug)]
struct State {
    verdicts: TokenChecks,
    /// Checks waiting for GitHub, by token key: whoever brings the same token waits on it.
    pending: HashMap<u128, watch::Receiver<Answer>>,
    limits: CheckLimits,
}

impl From<Refusal> for AuthError {
    fn from(refusal: Refusal) -> Self {
        // Whole seconds, rounded up, and at least one: Retry-After has no fractions.
        let secs = |wait: std::time::Duration| wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        match refusal {
            Refusal::Address { retry_after } => AuthError::TooManyChecks {
                retry_after: secs(retry_after).max(1),
            },
            Refusal::Total { retry_after } => AuthError::ChecksBusy {
                retry_after: secs(retry_after).max(1),
            },
        }
    }
}

impl GitHubTokens {
    /// Checks at most `per_address` new tokens a minute from one client address, and `total`
    /// from all of them (0: no limit).
    pub fn new(github: GitHub, per_address: u32, total: u32) -> Self {
        GitHubTokens {
            github,
            state: Arc::new(Mutex::new(State {
                verdicts: TokenChecks::default(),
                pending: HashMap::new(),
                limits: CheckLimits::new(per_address, total),
            })),
        }
    }

    /// The login of the token `credential`, whose key is `key`, brought by a client at `peer`.
    pub async fn login(
        &self,
        key: u128,
        credential: &Credential,
        peer: Option<IpAddr>,
    ) -> Result<String, AuthError> {
        let mut answer = {
            let mut state = lock(&self.state);
            let now = Instant::now();
            match state.verdicts.verdict(key, now) {
                Verdict::Accepted(login) => return Ok(login),
                Verdict::Rejected => return Err(AuthError::InvalidGitHubToken),
                Verdict::Unknown => {}
            }
            match state.pending.get(&key) {
                Some(answer) => answer.clone(),
                None => {
                    state.limits.admit(peer, now)?;
                    let (tell, answer) = watch::channel(None);
                    state.pending.insert(key, answer.clone());
                    let check = Check {
                        state: self.state.clone(),
                        key,
                    };
                    actix_web::rt::spawn(check.run(self.github.clone(), credential.clone(), tell));
                    answer
                }
            }
        };
        match answer.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone().unwrap_or(Err(abandoned())),
            Err(_) => Err(abandoned()),
        }
    }
}

fn abandoned() -> AuthError {
    AuthError::Unavailable("the check of the token did not finish".into())
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One `GET /user` under way. Dropped, however it ended, it is no longer pending.
struct Check {
    state: Arc<Mutex<State>>,
    key: u128,
}

impl Check {
    async fn run(self, github: GitHub, credential: Credential, tell: watch::Sender<Answer>) {
        let answer = github.user(&credential).await;
        let answer = {
            let mut state = lock(&self.state);
            let verdicts = &mut state.verdicts;
            match answer {
                Ok(user) => {
                    verdicts.accept(self.key, user.login.clone(), Instant::now());
                    Ok(user.login)
                }
                Err(GitHubError::Unauthorized { .. }) => {
                    verdicts.reject(self.key, Instant::now());
                    Err(AuthError::InvalidGitHubToken)
                }
                // Not a verdict on the token (GitHub down, rate limited): ask again next time.
                Err(other) => Err(AuthError::Unavailable(other.to_string())),
            }
        };
        // Waiters that came in meanwhile hold a receiver: they get the answer even though the
        // check leaves `pending` right after.
        let _ = tell.send(Some(answer));
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        lock(&self.state).pending.remove(&self.key);
    }
}
