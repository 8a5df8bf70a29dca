//! One GitHub REST call over HTTPS (reqwest with rustls), and what its answer means.
//!
//! Only the gateway uses this: it decides when a call may go out (and when a failed GET is
//! tried again, see [`Transport::retry_in`]), and [`Transport::send`] puts one attempt on the
//! wire with GitHub's required headers. [`Raw::classify`] ([`answer`]) turns the status and
//! headers into a result or a [`GitHubError`].
//!
//! reqwest never follows a redirect by itself: it would send the token (and a mutation's body)
//! wherever a `Location` points. `send` follows GitHub's moves itself, and only for a GET, only
//! to a place under the configured API URL (scheme, host, port and path, see [`ApiBase`]), and
//! only a few hops; anything else is answered as [`GitHubError::Moved`] with the reason.

use std::{
    hash::{BuildHasher, RandomState},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use reqwest::{
    Url,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, IF_NONE_MATCH},
};

use super::{
    error::{GitHubError, MoveRefused},
    request::{ApiRequest, Method},
};
use crate::config::{GitHubSettings, Secret};

mod answer;

pub use answer::{Classified, Raw};

const API_VERSION: &str = "2022-11-28";
/// Redirects followed in a row for one call. A repository renamed and then transferred takes
/// two; more is a loop or a hostile server.
pub const MAX_REDIRECTS: usize = 3;

/// The HTTP client, the API base, and the retry policy for idempotent reads.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    base: String,
    api: ApiBase,
    moves: Moves,
    /// The most one attempt (all its redirect hops) may take.
    timeout: Duration,
    retries: u32,
    retry_base: Duration,
}

/// Whether GitHub's redirects (renamed or transferred repositories, transferred issues) are
/// followed, for a GET and within the API base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    Follow,
    /// With `policy.repositories` set: the policy was checked for the place asked for, and a
    /// redirect may lead to a repository outside it.
    Refuse,
}

/// Where the token may go: the configured API URL's scheme, host, port and path prefix.
/// URLs are compared parsed (dot segments resolved, default ports filled in), not as text,
/// so that `/api/v3/../x`, `/api/v3evil` or `host:port@elsewhere` cannot pass for the base.
#[derive(Debug, Clone)]
pub struct ApiBase {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// Without a trailing slash: empty for an API at the host's root.
    path: String,
}

/// Why the transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Client(#[from] reqwest::Error),
    #[error("github.api_url is not a URL with a host")]
    BaseUrl,
}

impl ApiBase {
    pub fn parse(api_url: &str) -> Result<ApiBase, BuildError> {
        let url = Url::parse(api_url).map_err(|_| BuildError::BaseUrl)?;
        let host = url.host_str().ok_or(BuildError::BaseUrl)?;
        Ok(ApiBase {
            scheme: url.scheme().to_string(),
            host: host.to_string(),
            port: url.port_or_known_default(),
            path: url.path().trim_end_matches('/').to_string(),
        })
    }

    /// Whether the token may be sent to `url`.
    pub fn owns(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == self.port
            && url.username().is_empty()
            && url.password().is_none()
            && url
                .path()
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

impl Transport {
    pub fn new(settings: &GitHubSettings, moves: Moves) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .user_agent(concat!("github-issue-mcp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport {
            client,
            base: settings.api_url.trim_end_matches('/').to_string(),
            api: ApiBase::parse(&settings.api_url)?,
            moves,
            timeout: Duration::from_millis(settings.request_timeout_ms),
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
        Url::parse(url).is_ok_and(|url| self.api.owns(&url))
    }

    /// Whether, and after how long, a GET that ended with `result` on its `attempt`-th try
    /// (from 1) is tried again: on network errors and 5xx, at most `retries` times. A mutation
    /// goes out exactly once, because a lost answer does not mean it failed.
    pub fn retry_in(
        &self,
        request: &ApiRequest,
        result: &Result<Raw, GitHubError>,
        attempt: u32,
    ) -> Option<Duration> {
        let retryable = match result {
            Ok(raw) => raw.status >= 500,
            // A broken connection may go better next time; an answer too large will not.
            Err(err) => matches!(err, GitHubError::Network { .. }),
        };
        if request.method.is_mutation() || !retryable || attempt > self.retries {
            return None;
        }
        Some(jitter(self.retry_base * 2u32.pow(attempt - 1)))
    }

    /// Sends one attempt of the call, following GitHub's moves as the module says, all of it
    /// within one `request_timeout`.
    pub async fn send(
        &self,
        request: &ApiRequest,
        token: &Secret,
        etag: Option<&str>,
    ) -> Result<Raw, GitHubError> {
        let foreign = || GitHubError::ForeignUrl {
            url: request.url.clone(),
        };
        let url = Url::parse(&request.url).map_err(|_| foreign())?;
        if !self.api.owns(&url) {
            return Err(foreign());
        }
        tokio::time::timeout(self.timeout, self.follow(request, url, token, etag))
            .await
            .unwrap_or_else(|_| {
                Err(GitHubError::Network {
                    reason: "timed out".into(),
                    mutation: request.method.is_mutation(),
                })
            })
    }

    async fn follow(
        &self,
        request: &ApiRequest,
        mut url: Url,
        token: &Secret,
        etag: Option<&str>,
    ) -> Result<Raw, GitHubError> {
        let mut hops = 0;
        loop {
            let mut raw = self.send_once(request, url.clone(), token, etag).await?;
            if !matches!(raw.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(raw);
            }
            let next = raw.location.as_deref().and_then(|to| url.join(to).ok());
            let refused = match next {
                _ if self.moves == Moves::Refuse => MoveRefused::Policy,
                _ if request.method.is_mutation() => MoveRefused::Mutation,
                None => MoveRefused::Nowhere,
                Some(ref next) if !self.api.owns(next) => {
                    // The host only: the rest of a hostile Location is not worth a log line.
                    log::warn!(
                        "GitHub redirected {} {} to {}, outside the API URL: not followed",
                        request.method.as_str(),
                        url.path(),
                        next.host_str().unwrap_or("a place without a host")
                    );
                    MoveRefused::OutsideApi
                }
                Some(next) if hops < MAX_REDIRECTS => {
                    hops += 1;
                    url = next;
                    continue;
                }
                Some(_) => MoveRefused::TooMany,
            };
            raw.refused_move = Some(refused);
            return Ok(raw);
        }
    }

    async fn send_once(
        &self,
        request: &ApiRequest,
        url: Url,
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
            .request(method, url)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Compared parsed: dot segments, other ports and schemes, user info.
        assert!(!transport.owns("http://127.0.0.1:9/api/v3/../elsewhere"));
        assert!(!transport.owns("http://127.0.0.1:9/api/v3/%2e%2e/elsewhere"));
        assert!(!transport.owns("http://127.0.0.1:10/api/v3/x"));
        assert!(!transport.owns("https://127.0.0.1:9/api/v3/x"));
        assert!(!transport.owns("http://127.0.0.1:9@evil.example/api/v3/x"));
        assert!(!transport.owns("http://localhost:9/api/v3/x"));
        assert!(!transport.owns("not a url"));

        let root = GitHubSettings {
            api_url: "https://api.github.com".into(),
            ..GitHubSettings::test_defaults()
        };
        let transport = Transport::new(&root, Moves::Follow).unwrap();
        assert!(transport.owns("https://api.github.com:443/repos/o/r/issues"));
        assert!(!transport.owns("https://api.github.com.evil.example/repos/o/r"));
        assert!(!transport.owns("https://user@api.github.com/repos/o/r"));
    }
}
