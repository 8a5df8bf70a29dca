//! Who is calling: authentication of every MCP request, by `auth.mode`.
//!
//! - `none`: everyone is the same anonymous principal, using the server's `GITHUB_TOKEN`.
//!   Refused at startup on a non-loopback address unless `auth.allow_unauthenticated_remote`.
//! - `api-keys`: `Authorization: Bearer <key>` with a key from `auth.api_keys`. Only SHA-256
//!   hashes of the keys are kept, compared in constant time; the principal is named by a short
//!   prefix of the hash. Sessions use the server's token.
//! - `github-token`: the bearer is the caller's own GitHub token (as GitHub's own remote MCP
//!   server does). It is checked against GitHub's `GET /user`, and what GitHub said is
//!   remembered for a while, refusals too ([`tokens`]); the principal is the GitHub login, and
//!   the session's GitHub calls use that token.
//!
//! The transports authenticate each request and compare the principal with the session's
//! owner: a session belongs to whoever opened it, and anyone else is told it does not exist.

mod tokens;

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use actix_web::HttpRequest;
use ring::digest;

use crate::{
    config::{AuthMode, AuthSettings, Secret},
    github::{api::GitHub, error::GitHubError, request::Credential},
};
use tokens::{TokenChecks, Verdict};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Safe to log: "anonymous", "key:1a2b3c4d" or "github:octocat". Never a secret.
    pub id: String,
    /// The GitHub identity the caller's sessions use.
    pub credential: Option<Credential>,
    /// Who owns the sessions this caller opens: `id`, and in `github-token` mode also the
    /// token (`#` and its key, a hash), because a session acts with the token that opened it:
    /// another token of the same GitHub user (a narrower one, say) must not use it. Logged
    /// nowhere; sessions are counted per `id` ([`owner_principal`]).
    pub owner: String,
}

/// The principal id an owner string (see [`Principal::owner`]) counts against.
pub fn owner_principal(owner: &str) -> &str {
    owner
        .split_once('#')
        .map_or(owner, |(principal, _)| principal)
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
}

#[derive(Debug, Clone)]
pub struct Authenticator {
    mode: AuthMode,
    /// SHA-256 of each accepted API key.
    key_hashes: Vec<[u8; 32]>,
    server_credential: Option<Credential>,
    github: GitHub,
    /// What GitHub said of the tokens callers sent, by credential key.
    checks: Arc<Mutex<TokenChecks>>,
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
    let value = request.headers().get("authorization")?.to_str().ok()?;
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
    ) -> Result<Self, String> {
        let short = short_keys(&settings.api_keys());
        if settings.mode == AuthMode::ApiKeys && short > 0 {
            log::warn!(
                "{short} of the auth.api_keys are shorter than {MIN_KEY_CHARS} characters: short \
                 keys are easy to guess, and the logs name callers by a prefix of their key's \
                 SHA-256. Use random keys (openssl rand -hex 32)"
            );
        }
        Ok(Authenticator {
            mode: settings.mode,
            key_hashes: key_hashes(&settings.api_keys())?,
            server_credential,
            github,
            checks: Arc::default(),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Who sent `request`.
    pub async fn authenticate(&self, request: &HttpRequest) -> Result<Principal, AuthError> {
        match self.mode {
            AuthMode::None => Ok(Principal {
                id: "anonymous".into(),
                credential: self.server_credential.clone(),
                owner: "anonymous".into(),
            }),
            AuthMode::ApiKeys => {
                let key = bearer(request).ok_or(AuthError::Missing("API key"))?;
                let hash = sha256(key.as_bytes());
                // Every configured key is compared, so timing does not tell which one matched.
                let matched = self
                    .key_hashes
                    .iter()
                    .fold(false, |found, known| found | same_digest(known, &hash));
                if !matched {
                    return Err(AuthError::InvalidKey);
                }
                let id = format!("key:{}", &hex(&hash)[..8]);
                Ok(Principal {
                    owner: id.clone(),
                    id,
                    credential: self.server_credential.clone(),
                })
            }
            AuthMode::GitHubToken => {
                let token = bearer(request).ok_or(AuthError::Missing("GitHub token"))?;
                let credential = Credential::new(Secret::new(token));
                let login = self.github_login(&credential).await?;
                let id = format!("github:{login}");
                Ok(Principal {
                    owner: format!("{id}#{:016x}", credential.key()),
                    id,
                    credential: Some(credential),
                })
            }
        }
    }

    /// The login behind a GitHub token: from what GitHub said of it lately, or from
    /// `GET /user`.
    async fn github_login(&self, credential: &Credential) -> Result<String, AuthError> {
        let key = credential.key();
        match self.checks().verdict(key, Instant::now()) {
            Verdict::Accepted(login) => return Ok(login),
            Verdict::Rejected => return Err(AuthError::InvalidGitHubToken),
            Verdict::Unknown => {}
        }
        match self.github.user(credential).await {
            Ok(user) => {
                self.checks()
                    .accept(key, user.login.clone(), Instant::now());
                Ok(user.login)
            }
            Err(GitHubError::Unauthorized { .. }) => {
                self.checks().reject(key, Instant::now());
                Err(AuthError::InvalidGitHubToken)
            }
            // Not a verdict on the token (GitHub down, rate limited): ask again next time.
            Err(other) => Err(AuthError::Unavailable(other.to_string())),
        }
    }

    fn checks(&self) -> std::sync::MutexGuard<'_, TokenChecks> {
        self.checks.lock().unwrap_or_else(|p| p.into_inner())
    }
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
    fn errors_never_contain_the_secret() {
        let text = AuthError::InvalidKey.to_string() + &AuthError::InvalidGitHubToken.to_string();
        assert!(!text.contains("team-key"));
    }
}
