//! What one GitHub answer means: [`Raw`] keeps its status, the headers that matter and the
//! body; [`Raw::classify`] turns them into a result or a [`GitHubError`] for the gateway.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::github::{
    error::{FieldError, GitHubError, MoveRefused, RateResource},
    request::{ApiResponse, Links},
};

/// A status line, the headers that matter, and the body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub etag: Option<String>,
    pub link: Option<String>,
    pub location: Option<String>,
    pub remaining: Option<u64>,
    pub reset: Option<u64>,
    pub resource: Option<RateResource>,
    pub retry_after: Option<Duration>,
    /// Set by [`super::Transport::send`] on a redirect it did not follow.
    pub refused_move: Option<MoveRefused>,
    pub body: Bytes,
}

/// What an answer means for the gateway.
#[derive(Debug)]
pub enum Classified {
    Fresh(ApiResponse),
    NotModified,
    /// A secondary rate limit: back off, then fail with the wait.
    Secondary(Option<Duration>),
    Failed(GitHubError),
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

/// GitHub's `errors` entries are objects, or (on some endpoints) bare strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorItem {
    Detailed {
        field: Option<String>,
        code: Option<String>,
        value: Option<serde_json::Value>,
        message: Option<String>,
    },
    Text(String),
}

/// GitHub's rate-limit windows are an hour long: a `retry-after` longer than this, or a reset
/// further away than [`RESET_HORIZON`], is a broken answer (or a proxy's) and is taken as this
/// far, so that it can neither overflow the clock arithmetic nor hold a token back for years.
const LIMIT_HORIZON: Duration = Duration::from_secs(60 * 60);
/// An hour's window, and an hour more for a clock that runs behind GitHub's.
const RESET_HORIZON: Duration = Duration::from_secs(2 * 60 * 60);

impl Raw {
    pub fn new(status: u16, headers: &HeaderMap, body: Bytes) -> Raw {
        let now_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let number = |name: &str| text(name).and_then(|value| value.trim().parse::<u64>().ok());
        Raw {
            status,
            etag: text("etag"),
            link: text("link"),
            location: text("location"),
            remaining: number("x-ratelimit-remaining"),
            reset: number("x-ratelimit-reset")
                .map(|reset| reset.min(now_epoch + RESET_HORIZON.as_secs())),
            resource: text("x-ratelimit-resource").and_then(|r| match r.as_str() {
                "core" => Some(RateResource::Core),
                "search" => Some(RateResource::Search),
                _ => None,
            }),
            retry_after: number("retry-after")
                .map(|secs| Duration::from_secs(secs).min(LIMIT_HORIZON)),
            refused_move: None,
            body,
        }
    }

    pub fn classify(self, resource: RateResource) -> Classified {
        let error_body = || serde_json::from_slice::<ErrorBody>(&self.body).unwrap_or_default();
        match self.status {
            200..=299 => Classified::Fresh(ApiResponse {
                status: self.status,
                links: self.link.as_deref().map(Links::parse).unwrap_or_default(),
                body: self.body,
                revalidated: false,
                decoded: Default::default(),
            }),
            304 => Classified::NotModified,
            401 => Classified::Failed(GitHubError::Unauthorized {
                message: error_body().message,
            }),
            403 | 429 => {
                let message = error_body().message;
                if self.remaining == Some(0) && self.retry_after.is_none() {
                    let reset = self.reset.unwrap_or_default();
                    Classified::Failed(GitHubError::RateLimited {
                        resource: self.resource.unwrap_or(resource),
                        resets_at: std::time::UNIX_EPOCH + Duration::from_secs(reset),
                    })
                } else if self.status == 429
                    || self.retry_after.is_some()
                    || message.to_lowercase().contains("secondary rate limit")
                {
                    Classified::Secondary(self.retry_after)
                } else {
                    Classified::Failed(GitHubError::Forbidden { message })
                }
            }
            301 | 302 | 303 | 307 | 308 => Classified::Failed(GitHubError::Moved {
                status: self.status,
                refused: self.refused_move.unwrap_or(MoveRefused::Nowhere),
            }),
            404 => Classified::Failed(GitHubError::NotFound),
            410 => Classified::Failed(GitHubError::Gone {
                message: error_body().message,
            }),
            422 => {
                let body = error_body();
                Classified::Failed(GitHubError::Validation {
                    message: body.message,
                    errors: body.errors.into_iter().map(field_error).collect(),
                })
            }
            status @ 500.. => Classified::Failed(GitHubError::Server { status }),
            status => Classified::Failed(GitHubError::Unexpected {
                status,
                message: error_body().message,
            }),
        }
    }
}

fn field_error(item: ErrorItem) -> FieldError {
    match item {
        ErrorItem::Detailed {
            field,
            code,
            value,
            message,
        } => FieldError {
            field,
            code,
            value: value.map(|value| match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            }),
            message,
        },
        ErrorItem::Text(message) => FieldError {
            field: None,
            code: None,
            value: None,
            message: Some(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn raw(status: u16, headers: &[(&'static str, &str)], body: &str) -> Raw {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Raw::new(status, &map, Bytes::from(body.to_string()))
    }

    #[test]
    fn recorded_422_lists_githubs_field_errors() {
        // The body of the recorded errors.json fixture.
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}],"documentation_url":"https://docs.github.com/rest/reference/issues#create-a-label"}"#;
        match raw(422, &[], body).classify(RateResource::Core) {
            Classified::Failed(GitHubError::Validation { message, errors }) => {
                assert_eq!(message, "Validation Failed");
                assert_eq!(errors[0].field.as_deref(), Some("color"));
                assert_eq!(errors[0].code.as_deref(), Some("invalid"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tells_primary_and_secondary_limits_and_permissions_apart() {
        let primary = raw(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000000"),
                ("x-ratelimit-resource", "search"),
            ],
            r#"{"message":"API rate limit exceeded for user ID 1."}"#,
        );
        assert!(matches!(
            primary.classify(RateResource::Core),
            Classified::Failed(GitHubError::RateLimited {
                resource: RateResource::Search,
                ..
            })
        ));
        let secondary = raw(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"You have exceeded a secondary rate limit. Please wait."}"#,
        );
        assert!(matches!(
            secondary.classify(RateResource::Core),
            Classified::Secondary(None)
        ));
        let with_retry = raw(429, &[("retry-after", "42")], "{}");
        assert!(matches!(
            with_retry.classify(RateResource::Core),
            Classified::Secondary(Some(wait)) if wait == Duration::from_secs(42)
        ));
        let forbidden = raw(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        );
        assert!(matches!(
            forbidden.classify(RateResource::Core),
            Classified::Failed(GitHubError::Forbidden { .. })
        ));
    }

    #[test]
    fn a_distant_reset_or_retry_after_is_taken_as_near() {
        let huge = u64::MAX.to_string();
        let answer = raw(
            429,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &huge),
                ("retry-after", &huge),
            ],
            "{}",
        );
        assert_eq!(answer.retry_after, Some(LIMIT_HORIZON));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reset = answer.reset.unwrap();
        assert!(
            reset > now && reset <= now + 7200 + 5,
            "{reset} against {now}"
        );
        let normal = raw(429, &[("x-ratelimit-reset", "1700000000")], "{}");
        assert_eq!(normal.reset, Some(1_700_000_000));
    }
}
