//! One GitHub REST call over HTTPS (reqwest with rustls), and what its answer means.
//!
//! Only the gateway uses this: it decides when a call may go out, and [`Transport::send`] puts
//! it on the wire with GitHub's required headers, retrying a GET (never a mutation) on network
//! errors and 5xx answers with jittered back-off. [`Raw::classify`] turns the status and
//! headers into a result or a [`GitHubError`].

use std::{
    hash::{BuildHasher, RandomState},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, IF_NONE_MATCH};
use serde::Deserialize;

use super::{
    error::{FieldError, GitHubError, RateResource},
    request::{ApiRequest, ApiResponse, Links, Method},
};
use crate::config::{GitHubSettings, Secret};

const API_VERSION: &str = "2022-11-28";

/// The HTTP client and the retry policy for idempotent reads.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    base: String,
    retries: u32,
    retry_base: Duration,
}

/// A status line, the headers that matter, and the body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub etag: Option<String>,
    pub link: Option<String>,
    pub remaining: Option<u64>,
    pub reset: Option<u64>,
    pub resource: Option<RateResource>,
    pub retry_after: Option<Duration>,
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

/// Whether GitHub's redirects (renamed or transferred repositories, transferred issues) are
/// followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    Follow,
    /// With `policy.repositories` set: the policy was checked for the place asked for, and a
    /// redirect may lead to a repository outside it (reads and, with 307, writes).
    Refuse,
}

impl Transport {
    pub fn new(settings: &GitHubSettings, moves: Moves) -> Result<Self, reqwest::Error> {
        let redirects = match moves {
            Moves::Follow => reqwest::redirect::Policy::default(),
            Moves::Refuse => reqwest::redirect::Policy::none(),
        };
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .user_agent(concat!("github-issue-mcp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport {
            client,
            base: settings.api_url.trim_end_matches('/').to_string(),
            retries: settings.get_retries,
            retry_base: Duration::from_millis(settings.retry_base_ms),
        })
    }

    /// The configured API base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether `url` is under the API base, so that the token may be sent to it.
    pub fn owns(&self, url: &str) -> bool {
        url.strip_prefix(&self.base)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
    }

    /// Sends the call. A GET is retried on network errors and 5xx, at most `retries` times;
    /// a mutation goes out exactly once, because a lost answer does not mean it failed.
    pub async fn send(
        &self,
        request: &ApiRequest,
        token: &Secret,
        etag: Option<&str>,
    ) -> Result<Raw, GitHubError> {
        if !self.owns(&request.url) {
            return Err(GitHubError::ForeignUrl {
                url: request.url.clone(),
            });
        }
        let mut attempt = 0;
        loop {
            let result = self.send_once(request, token, etag).await;
            let retryable = match &result {
                Ok(raw) => raw.status >= 500,
                // A broken connection may go better next time; an answer too large will not.
                Err(err) => matches!(err, GitHubError::Network { .. }),
            };
            if request.method.is_mutation() || !retryable || attempt >= self.retries {
                return result;
            }
            attempt += 1;
            let backoff = self.retry_base * 2u32.pow(attempt - 1);
            log::debug!(
                "GET {} failed ({}); retry {attempt} in about {backoff:?}",
                request.url,
                match &result {
                    Ok(raw) => raw.status.to_string(),
                    Err(err) => err.to_string(),
                }
            );
            tokio::time::sleep(jitter(backoff)).await;
        }
    }

    async fn send_once(
        &self,
        request: &ApiRequest,
        token: &Secret,
        etag: Option<&str>,
    ) -> Result<Raw, GitHubError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .client
            .request(method, &request.url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        if let Some(etag) = etag {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let network = |err: reqwest::Error| GitHubError::Network {
            reason: describe(&err),
            mutation: request.method.is_mutation(),
        };
        let mut response = builder.send().await.map_err(network)?;
        // The headers that matter are read before the body consumes the response.
        let mut raw = Raw::new(response.status().as_u16(), response.headers(), Bytes::new());
        let too_large = || GitHubError::Decode {
            reason: format!(
                "it is larger than the {} MiB this server reads",
                MAX_ANSWER_BYTES >> 20
            ),
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        // As reqwest's `bytes()`, which keeps a body that came in one piece without a copy,
        // but stopping at the bound.
        let (mut first, mut joined) = (None::<Bytes>, BytesMut::new());
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            let read = first.as_ref().map_or(joined.len(), Bytes::len);
            if read + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            match first.take() {
                None if joined.is_empty() => first = Some(chunk),
                Some(earlier) => {
                    joined.extend_from_slice(&earlier);
                    joined.extend_from_slice(&chunk);
                }
                None => joined.extend_from_slice(&chunk),
            }
        }
        raw.body = first.unwrap_or_else(|| joined.freeze());
        Ok(raw)
    }
}

/// The largest answer read from GitHub. Its largest real ones (100 issues with bodies of
/// 65,536 characters, up to about 26 MiB of JSON) are under this; a larger one comes from a
/// broken or hostile server,
/// and reading it whole would take that much memory for one call.
const MAX_ANSWER_BYTES: usize = 32 << 20;

/// A transport error without the URL's query noise, and never any header (no token).
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else if err.is_body() || err.is_decode() {
        "the connection broke while the answer was being read".to_string()
    } else {
        "the request failed on the way".to_string()
    }
}

/// Between half and all of `backoff`, so that retries from many sessions do not line up.
fn jitter(backoff: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::time::Instant::now());
    backoff.mul_f64(0.5 + (random % 1000) as f64 / 2000.0)
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
            301 | 302 | 307 | 308 => Classified::Failed(GitHubError::Moved {
                status: self.status,
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

    #[test]
    fn only_urls_under_the_base_are_owned() {
        let settings = GitHubSettings {
            api_url: "http://127.0.0.1:9/api/v3/".into(),
            ..GitHubSettings::test_defaults()
        };
        let transport = Transport::new(&settings, Moves::Follow).unwrap();
        assert!(transport.owns("http://127.0.0.1:9/api/v3/repositories/1/issues?page=2"));
        assert!(!transport.owns("http://127.0.0.1:9/api/v3evil/x"));
        assert!(!transport.owns("https://evil.example/api/v3/x"));
    }
}
