//! Who is calling: authentication of every MCP request, by `auth.mode`.
//!
//! - `none`: no credentials; the server's `GITHUB_TOKEN` for everyone. Each client address is
//!   its own principal (`anonymous@ADDRESS`, an IPv6 address cut to its /64), so the session
//!   limit per principal holds per address and a session answers only the address that opened
//!   it. Refused at startup on a non-loopback address unless `auth.allow_unauthenticated_remote`.
//! - `api-keys`: `Authorization: Bearer <key>` with a key from `auth.api_keys`. Only SHA-256
//!   hashes of the keys are kept, compared in constant time. The principal is the configured key
//!   that matched, named by the shortest prefix of its hash (8 hex digits at least) that no
//!   other configured key shares: two keys are never one principal, whatever their hashes.
//!   Sessions use the server's token.
//! - `github-token`: the bearer is the caller's own GitHub token (as GitHub's own remote MCP
//!   server does). It is checked against GitHub's `GET /user`, rarely and within limits per
//!   client address and in total ([`github`]); the principal is the GitHub login, and the
//!   session's GitHub calls use that token.
//!
//! The transports authenticate each request and compare the principal with the session's
//! owner: a session belongs to whoever opened it, and anyone else is told it does not exist.
//! `GET /metrics` asks here too ([`Authenticator::authorize_metrics`]).

mod github;
mod throttle;
mod tokens;

/// How a client address is counted (IPv6 per /64), for the HTTP layer's per-peer caps too.
pub use throttle::address_key;

use std::net::IpAddr;

use actix_web::HttpRequest;
use ring::digest;

use crate::{
    cluster::{Cluster, FORWARDED_BY, Forwarded},
    config::{AuthMode, AuthSettings, MetricsAccess, Secret},
    github::{api::GitHub, request::Credential},
};
use github::GitHubTokens;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Safe to log: "anonymous@127.0.0.1", "key:1a2b3c4d" or "github:octocat". Never a
    /// secret. Names exactly one principal: session limits count by it.
    pub id: String,
    /// The GitHub identity the caller's sessions use.
    pub credential: Option<Credential>,
    /// Who owns the sessions this caller opens.
    pub owner: Owner,
}

/// Who owns a session: the principal that opened it and, in `github-token` mode, the token it
/// opened it with, because a session acts with that token: another token of the same GitHub
/// user (a narrower one, say) must not use it. Sessions are counted per `principal`. The
/// registry and each worker's routes compare owners; the token key is never logged (`Debug`
/// leaves it out).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The principal's id (see [`Principal::id`]).
    pub principal: String,
    /// 128 bits of the token's SHA-256 (never the token), in `github-token` mode only.
    pub token_key: Option<u128>,
}

impl Owner {
    pub fn new(principal: String, token_key: Option<u128>) -> Self {
        Owner {
            principal,
            token_key,
        }
    }
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("principal", &self.principal)
            .field("token_key", &self.token_key.map(|_| "<hidden>"))
            .finish()
    }
}

/// Why a request was not let in. Each becomes a 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send Authorization: Bearer <{0}>")]
    Missing(&'static str),
    #[error("invalid API key")]
    InvalidKey,
    #[error("GitHub rejected the token: send a valid GitHub token as the bearer")]
    InvalidGitHubToken,
    #[error("could not check the GitHub token now ({0}); try again")]
    Unavailable(String),
    /// This client address has checked too many new tokens lately (429): GitHub was not asked.
    #[error(
        "too many new tokens from your address to check with GitHub; this one was not checked: \
         try again in {retry_after} s"
    )]
    TooManyChecks { retry_after: u64 },
    /// The server has checked too many new tokens lately (503): GitHub was not asked.
    #[error(
        "the server is checking too many new tokens with GitHub; this one was not checked: try \
         again in {retry_after} s"
    )]
    ChecksBusy { retry_after: u64 },
}

impl AuthError {
    /// Seconds after which trying again makes sense, for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::TooManyChecks { retry_after } | AuthError::ChecksBusy { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authenticator {
    mode: AuthMode,
    /// SHA-256 of each accepted API key.
    key_hashes: Vec<[u8; 32]>,
    /// The principal id of each key in `key_hashes`, at the same index.
    key_ids: Vec<String>,
    server_credential: Option<Credential>,
    /// `github-token` mode: what GitHub said of the tokens callers sent.
    tokens: GitHubTokens,
    metrics: MetricsAccess,
    /// Vouches for the client addresses of requests other replicas forward here.
    cluster: Cluster,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Equal without revealing, through timing, where two digests first differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What identifies a GitHub token in every map that decides on it: 128 bits of its SHA-256.
fn token_key(token: &str) -> u128 {
    let hash = sha256(token.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_be_bytes(first)
}

/// Each key's principal id: `key:` and the shortest prefix of its hash, 8 hex digits at least,
/// that no other (different) configured key's hash starts with. Logs and audit lines show the
/// id, so it stays short; it still names one key, as ownership and limits need.
fn key_ids(hashes: &[[u8; 32]]) -> Vec<String> {
    let hexed: Vec<String> = hashes.iter().map(|hash| hex(hash)).collect();
    hexed
        .iter()
        .map(|mine| {
            let len = (8..=64)
                .step_by(2)
                .find(|&len| {
                    hexed
                        .iter()
                        .all(|other| other == mine || !other.starts_with(&mine[..len]))
                })
                .unwrap_or(64);
            format!("key:{}", &mine[..len])
        })
        .collect()
}

/// How an `auth.mode = none` client is named: by its address (an IPv6 one cut to its /64).
fn anonymous(peer: Option<IpAddr>) -> String {
    match peer.map(throttle::address_key) {
        Some(IpAddr::V4(v4)) => format!("anonymous@{v4}"),
        Some(IpAddr::V6(v6)) => format!("anonymous@{v6}/64"),
        None => "anonymous".into(),
    }
}

/// Parses the configured keys: `sha256:<64 hex digits>` (a key's hash), or the key itself.
pub fn key_hashes(keys: &[Secret]) -> Result<Vec<[u8; 32]>, String> {
    keys.iter()
        .map(|key| match key.expose().strip_prefix("sha256:") {
            Some(hexed) => {
                let bytes: Vec<u8> = (0..hexed.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hexed.get(i..i + 2).unwrap_or("zz"), 16))
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        "an auth.api_keys entry sha256:... is not hexadecimal".to_string()
                    })?;
                bytes
                    .try_into()
                    .map_err(|_| "an auth.api_keys entry sha256:... is not 64 hex digits".into())
            }
            None => Ok(sha256(key.expose().as_bytes())),
        })
        .collect()
}

/// Plain keys shorter than this draw a warning at startup: logs name each caller by the
/// first 8 hex digits of its key's SHA-256, against which a short key is quickly guessed.
const MIN_KEY_CHARS: usize = 16;

/// How many configured keys, given as themselves rather than as `sha256:` hashes, are shorter
/// than [`MIN_KEY_CHARS`].
fn short_keys(keys: &[Secret]) -> usize {
    keys.iter()
        .filter(|key| {
            let key = key.expose();
            !key.starts_with("sha256:") && key.chars().count() < MIN_KEY_CHARS
        })
        .count()
}

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Authenticator {
    pub fn new(
        settings: &AuthSettings,
        server_credential: Option<Credential>,
        github: GitHub,
        cluster: Cluster,
    ) -> Result<Self, String> {
        let short = short_keys(&settings.api_keys());
        if settings.mode == AuthMode::ApiKeys && short > 0 {
            log::warn!(
                "{short} of the auth.api_keys are shorter than {MIN_KEY_CHARS} characters: short \
                 keys are easy to guess, and the logs name callers by a prefix of their key's \
                 SHA-256. Use random keys (openssl rand -hex 32)"
            );
        }
        let key_hashes = key_hashes(&settings.api_keys())?;
        Ok(Authenticator {
            mode: settings.mode,
            key_ids: key_ids(&key_hashes),
            key_hashes,
            server_credential,
            tokens: GitHubTokens::new(
                github,
                settings.token_checks_per_minute_per_address,
                settings.token_checks_per_minute,
            ),
            metrics: settings.metrics,
            cluster,
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Who sent `request`. Its address is the TCP peer's, or, for a request another replica
    /// forwarded here, the one that replica signed for its client.
    pub async fn authenticate(&self, request: &HttpRequest) -> Result<Principal, AuthError> {
        let peer = match verified_hop(&self.cluster, request) {
            Some(hop) => hop.client,
            None => request.peer_addr().map(|addr| addr.ip()),
        };
        match self.mode {
            AuthMode::None => {
                let id = anonymous(peer);
                Ok(Principal {
                    owner: Owner::new(id.clone(), None),
                    id,
                    credential: self.server_credential.clone(),
                })
            }
            AuthMode::ApiKeys => {
                let key = bearer(request).ok_or(AuthError::Missing("API key"))?;
                let hash = sha256(key.as_bytes());
                // Every configured key is compared, and the match picked without a branch, so
                // timing does not tell which one matched. 0: none; else the index plus one.
                let matched =
                    self.key_hashes
                        .iter()
                        .enumerate()
                        .fold(0, |found, (index, known)| {
                            found.max(usize::from(same_digest(known, &hash)) * (index + 1))
                        });
                let id = matched
                    .checked_sub(1)
                    .and_then(|index| self.key_ids.get(index))
                    .ok_or(AuthError::InvalidKey)?;
                Ok(Principal {
                    owner: Owner::new(id.clone(), None),
                    id: id.clone(),
                    credential: self.server_credential.clone(),
                })
            }
            AuthMode::GitHubToken => {
                let token = bearer(request).ok_or(AuthError::Missing("GitHub token"))?;
                let key = token_key(token);
                let credential = Credential::new(Secret::new(token));
                let login = self.tokens.login(key, &credential, peer).await?;
                let id = format!("github:{login}");
                Ok(Principal {
                    owner: Owner::new(id.clone(), Some(key)),
                    id,
                    credential: Some(credential),
                })
            }
        }
    }

    /// May `request` read `GET /metrics`? With `auth.metrics = "authenticated"`, only who may
    /// use the MCP routes may (everyone in mode `none`); with `"public"`, anyone who reaches it.
    pub async fn authorize_metrics(&self, request: &HttpRequest) -> Result<(), AuthError> {
        match self.metrics {
            MetricsAccess::Public => Ok(()),
            MetricsAccess::Authenticated => self.authenticate(request).await.map(|_| ()),
        }
    }
}

/// What names a request in the signature of [`FORWARDED_BY`]: method, target (path and
/// query: a legacy POST names its session there) and `Mcp-Session-Id`. A signed header is
/// worth nothing on any other request.
pub fn hop_binding(request: &HttpRequest) -> String {
    let target = request
        .uri()
        .path_and_query()
        .map_or(request.path(), |path| path.as_str());
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    format!("{} {target} {session}", request.method())
}

/// What `request`'s [`FORWARDED_BY`] says, if another replica of `cluster` signed it for this
/// very request, moments ago.
pub fn verified_hop(cluster: &Cluster, request: &HttpRequest) -> Option<Forwarded> {
    // One process: no header lookup on every request's way in (a name given as `&str` is
    // parsed on each lookup).
    cluster.instance()?;
    let value = request.headers().get(FORWARDED_BY)?.to_str().ok()?;
    cluster.forwarded(value, &hop_binding(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_as_hashes_and_hashes_are_accepted() {
        let hashed = format!("sha256:{}", hex(&sha256(b"team-key")));
        let hashes = key_hashes(&[Secret::new("team-key"), Secret::new(&hashed)]).unwrap();
        assert_eq!(hashes[0], hashes[1]);
        assert!(same_digest(&hashes[0], &sha256(b"team-key")));
        assert!(!same_digest(&hashes[0], &sha256(b"team-kex")));
        assert!(key_hashes(&[Secret::new("sha256:zz")]).is_err());
    }

    #[test]
    fn short_plain_keys_are_counted_and_hashes_are_not() {
        let hashed = format!("sha256:{}", hex(&sha256(b"team-key")));
        let keys = [
            Secret::new("team-key"),
            Secret::new(hashed),
            Secret::new("0123456789abcdef"),
            Secret::new("ünïcödé-kéy-1234"),
        ];
        assert_eq!(short_keys(&keys), 1);
    }

    #[test]
    fn keys_sharing_a_prefix_get_ids_long_enough_to_tell_them_apart() {
        // SHA-256 of both starts with aed6dbf9.
        let hashes = key_hashes(&[
            Secret::new("key-collide-00106232"),
            Secret::new("key-collide-00182427"),
        ])
        .unwrap();
        let other = key_hashes(&[Secret::new("team-key")]).unwrap();
        let ids = key_ids(&[hashes[0], hashes[1], other[0], hashes[0]]);
        assert!(
            ids[0].starts_with("key:aed6dbf9") && ids[0].len() > 12,
            "{ids:?}"
        );
        assert_ne!(ids[0], ids[1]);
        assert_eq!(ids[0], ids[3], "the same key twice is one principal");
        assert_eq!(ids[2].len(), "key:".len() + 8, "{ids:?}");
    }

    #[test]
    fn anonymous_clients_are_named_by_address() {
        assert_eq!(anonymous("10.0.0.7".parse().ok()), "anonymous@10.0.0.7");
        assert_eq!(
            anonymous("2001:db8:1:2:3:4:5:6".parse().ok()),
            "anonymous@2001:db8:1:2::/64"
        );
        assert_eq!(anonymous(None), "anonymous");
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let text = AuthError::InvalidKey.to_string() + &AuthError::InvalidGitHubToken.to_string();
        assert!(!text.contains("team-key"));
    }
}
