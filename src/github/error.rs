//! Why a GitHub call failed, in terms a model can act on.
//!
//! The gateway turns HTTP statuses, rate-limit headers and transport failures into a
//! [`GitHubError`]; tools and resources turn it into a sentence with [`GitHubError::explain`],
//! naming what they were doing ("issue #5 in octo/repo"). These are tool results with
//! `isError: true`, not protocol errors: the model can correct itself or wait.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use crate::time::clock_utc;

/// Which primary rate limit a request counts against (GitHub's `x-ratelimit-resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateResource {
    Core,
    Search,
}

impl RateResource {
    /// GitHub's name for it, as in `x-ratelimit-resource`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateResource::Core => "core",
            RateResource::Search => "search",
        }
    }
}

impl fmt::Display for RateResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a 422 answer's `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: Option<String>,
    pub code: Option<String>,
    pub value: Option<String>,
    pub message: Option<String>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "`{field}`")?,
            None => f.write_str("request")?,
        }
        match (&self.code, &self.message) {
            (_, Some(message)) => write!(f, ": {message}")?,
            (Some(code), None) => write!(f, " is {}", code.replace('_', " "))?,
            (None, None) => f.write_str(" was refused")?,
        }
        if let Some(value) = &self.value {
            write!(f, " (value {value:?})")?;
        }
        Ok(())
    }
}

/// A failed GitHub call. Cheap to clone: coalesced callers each get a copy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub rejected the token (401: {message})")]
    Unauthorized { message: String },
    #[error("GitHub refused access (403: {message})")]
    Forbidden { message: String },
    #[error("not found (404)")]
    NotFound,
    #[error("gone (410: {message})")]
    Gone { message: String },
    /// A redirect (301, 302, 303, 307, 308) not followed, and why.
    #[error("moved ({status}), not followed: {refused}")]
    Moved { status: u16, refused: MoveRefused },
    #[error("validation failed (422: {message})")]
    Validation {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("primary rate limit for {resource} exhausted")]
    RateLimited {
        resource: RateResource,
        resets_at: SystemTime,
    },
    #[error("secondary rate limit; retry in {retry_in:?}")]
    SecondaryRateLimited { retry_in: Duration },
    #[error("GitHub server error ({status})")]
    Server { status: u16 },
    #[error("unexpected GitHub answer ({status}: {message})")]
    Unexpected { status: u16, message: String },
    /// The request may not have reached GitHub, or its answer was lost on the way back.
    #[error("could not reach GitHub: {reason}")]
    Network { reason: String, mutation: bool },
    #[error("GitHub's answer could not be read: {reason}")]
    Decode { reason: String },
    /// The caller stopped waiting before the call's turn came: not sent.
    #[error("abandoned by its caller before it was sent")]
    Abandoned,
    /// A URL that is not under the configured API base: never sent, so the token stays home.
    #[error("refused to follow {url}: not under the GitHub API base")]
    ForeignUrl { url: String },
    /// The caller's principal already has this many calls waiting for the token's turn (the
    /// `github.max_queued_per_principal` bound): not sent.
    #[error("{queued} calls of this client already wait for the token; not sent")]
    Busy { queued: usize },
}

/// Why a redirect was not followed. GitHub redirects requests for a renamed or transferred
/// repository and a transferred issue; the token goes only where the API base says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoveRefused {
    /// `policy.repositories` is set: the new place may be a repository outside it.
    #[error("the repository policy forbids following moves")]
    Policy,
    /// A change (POST, PATCH, ...) is sent once, to the address it was made for.
    #[error("a change is not re-sent to another address")]
    Mutation,
    /// The new place is not under the configured API URL (scheme, host, port, path).
    #[error("the new place is outside the GitHub API URL")]
    OutsideApi,
    /// More redirects in a row than any real move takes: a loop.
    #[error("too many redirects in a row")]
    TooMany,
    /// A redirect without a `Location` to follow.
    #[error("the redirect said nowhere to go")]
    Nowhere,
}

impl GitHubError {
    /// A sentence for the model. `what` names the object of the call, e.g. "issue #5 in
    /// octo/repo" or "repository octo/repo".
    pub fn explain(&self, what: &str) -> String {
        match self {
            GitHubError::Unauthorized { .. } => "GitHub rejected the token (expired or revoked?). \
                The server's operator must provide a valid token; retrying will not help."
                .to_string(),
            GitHubError::Forbidden { message } => format!(
                "GitHub refused access to {what}: the token lacks permission ({message}). \
                 It needs \"Issues: Read and write\" on that repository; retrying will not help."
            ),
            GitHubError::NotFound => format!(
                "{} not found, or the token cannot see it. Check the spelling of owner and repo \
                 as they appear in the repository URL.",
                capitalize(what)
            ),
            GitHubError::Gone { message } => {
                format!("{} is gone (410): {message}.", capitalize(what))
            }
            GitHubError::Abandoned => {
                format!("The call for {what} was cancelled before it was sent to GitHub.")
            }
            GitHubError::Moved {
                status,
                refused: MoveRefused::Policy,
            } => format!(
                "GitHub says {what} has moved ({status}): its repository was renamed or \
                 transferred, or the issue was transferred. This server does not follow moves \
                 while policy.repositories limits the repositories agents may touch, because \
                 the new place may be outside them: look it up under its new owner and name."
            ),
            GitHubError::Moved {
                status,
                refused: MoveRefused::Mutation,
            } => format!(
                "GitHub says {what} has moved ({status}): its repository was renamed or \
                 transferred, or the issue was transferred. GitHub did not make the change at \
                 the old address, and this server does not re-send a change to another one: \
                 look it up under its new owner and name, and make the change there."
            ),
            GitHubError::Moved {
                status,
                refused: MoveRefused::OutsideApi,
            } => format!(
                "GitHub answered the request for {what} with a redirect ({status}) to a place \
                 outside the configured GitHub API URL. It was not followed, so the server's \
                 token was not sent there; retrying will not help."
            ),
            GitHubError::Moved {
                status,
                refused: MoveRefused::TooMany,
            } => format!(
                "GitHub redirected the request for {what} too many times in a row (last: \
                 {status}), as in a loop; it was not followed further. Retry later."
            ),
            GitHubError::Moved {
                status,
                refused: MoveRefused::Nowhere,
            } => format!(
                "GitHub answered the request for {what} with a redirect ({status}) but said \
                 nowhere to go; retry later."
            ),
            GitHubError::Validation { message, errors } => {
                let details: Vec<String> = errors.iter().map(ToString::to_string).collect();
                if details.is_empty() {
                    format!("GitHub refused the request for {what}: {message}.")
                } else {
                    format!(
                        "GitHub refused the request for {what}: {message}: {}. Fix the arguments and try again.",
                        details.join("; ")
                    )
                }
            }
            GitHubError::RateLimited {
                resource,
                resets_at,
            } => {
                let wait = resets_at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .as_secs();
                format!(
                    "GitHub rate limit for {resource} exhausted; resets at {} UTC, in {wait} s. \
                     Nothing was done; try again after that.",
                    clock_utc(*resets_at)
                )
            }
            GitHubError::SecondaryRateLimited { retry_in } => format!(
                "GitHub's secondary rate limit was hit (too many requests in a short time). This \
                 server sends nothing more for this token for {} s; retry after that.",
                retry_in.as_secs().max(1)
            ),
            GitHubError::Server { status } => format!(
                "GitHub is having trouble (HTTP {status}) while working on {what}; retry later."
            ),
            GitHubError::Unexpected { status, message } => {
                format!("GitHub answered HTTP {status} for {what}: {message}.")
            }
            GitHubError::Network {
                reason,
                mutation: false,
            } => format!("Could not reach GitHub for {what} ({reason}); retry later."),
            GitHubError::Network {
                reason,
                mutation: true,
            } => format!(
                "The change to {what} may or may not have been made: the connection to GitHub \
                 failed before its answer arrived ({reason}). Check the current state (for example \
                 with get_issue or list_issues) before trying again, to avoid doing it twice."
            ),
            GitHubError::Decode { reason } => {
                format!("GitHub's answer for {what} could not be read ({reason}).")
            }
            GitHubError::ForeignUrl { url } => format!(
                "Refused to follow {url} for {what}: it is not under the configured GitHub API URL."
            ),
            GitHubError::Busy { queued } => format!(
                "Not sent: {queued} GitHub calls of yours already wait for their turn on the \
                 server's GitHub token, the most it queues for one client, so that others \
                 sharing the token are served too. Wait for earlier calls to finish, then retry."
            ),
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_object() {
        assert_eq!(
            GitHubError::NotFound.explain("issue #7 in octo/hello"),
            "Issue #7 in octo/hello not found, or the token cannot see it. Check the spelling of \
             owner and repo as they appear in the repository URL."
        );
    }

    #[test]
    fn validation_lists_the_field_errors() {
        let err = GitHubError::Validation {
            message: "Validation Failed".into(),
            errors: vec![FieldError {
                field: Some("assignees".into()),
                code: Some("invalid".into()),
                value: Some("nobody".into()),
                message: None,
            }],
        };
        let text = err.explain("a new issue in octo/hello");
        assert!(
            text.contains("`assignees` is invalid (value \"nobody\")"),
            "{text}"
        );
    }

    #[test]
    fn rate_limit_says_when_it_resets() {
        let resets_at = SystemTime::now() + Duration::from_secs(312);
        let text = GitHubError::RateLimited {
            resource: RateResource::Search,
            resets_at,
        }
        .explain("a search");
        assert!(
            text.starts_with("GitHub rate limit for search exhausted; resets at "),
            "{text}"
        );
        assert!(
            text.contains(" UTC, in 311 s") || text.contains(" UTC, in 312 s"),
            "{text}"
        );
    }

    #[test]
    fn a_lost_mutation_says_to_check_before_retrying() {
        let text = GitHubError::Network {
            reason: "connection reset".into(),
            mutation: true,
        }
        .explain("a new issue in octo/hello");
        assert!(text.contains("may or may not have been made"), "{text}");
    }
}
