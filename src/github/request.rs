//! What goes to the gateway and what comes back: [`Credential`], [`ApiRequest`],
//! [`ApiResponse`], and the `Link` header's pagination URLs.
//!
//! Requests carry absolute URLs: pagination follows GitHub's `Link` URLs exactly as given (they
//! may point at `/repositories/{id}/issues` rather than the path we asked for). The gateway
//! refuses any URL outside the configured API base, so a token is never sent elsewhere.

use std::{
    any::Any,
    fmt,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::{GitHubError, RateResource};
use crate::config::Secret;

/// The identity a call is made with: a GitHub token, and on whose behalf it is used. The
/// gateway keys its per-token state (budgets, spacing, caches) by [`Credential::key`], a hash,
/// never by the token itself; it takes turns between the principals that share a token (in
/// `api-keys` mode every key uses the server's), so that one cannot starve the others.
/// What per-token state is keyed by: a hash of the token, never the token.
pub type TokenKey = u128;

#[derive(Clone)]
pub struct Credential {
    token: Secret,
    key: TokenKey,
    principal: Option<Arc<str>>,
}

impl Credential {
    pub fn new(token: Secret) -> Self {
        // 128 bits of SHA-256: two tokens never share budgets, caches or renderings by
        // accident (a 64-bit hash made that a birthday bound of 2^32 tokens).
        let digest = ring::digest::digest(&ring::digest::SHA256, token.expose().as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest.as_ref()[..16]);
        Credential {
            key: TokenKey::from_be_bytes(first),
            token,
            principal: None,
        }
    }

    /// The same token, used for `principal` (an id such as `key:1a2b3c4d`, never a secret).
    pub fn on_behalf_of(self, principal: &str) -> Self {
        Credential {
            principal: Some(principal.into()),
            ..self
        }
    }

    pub fn key(&self) -> TokenKey {
        self.key
    }

    /// Who the calls are made for, if known; calls without one share a turn of their own.
    pub fn principal(&self) -> Option<&Arc<str>> {
        self.principal.as_ref()
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}", self.token.masked())?;
        match &self.principal {
            Some(principal) => write!(f, " for {principal})"),
            None => f.write_str(")"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Method {
    /// Whether the call changes something on GitHub: spaced out, never retried blindly, and
    /// invalidating cached reads of its repository.
    pub fn is_mutation(self) -> bool {
        self != Method::Get
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One GitHub REST call.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// Absolute URL, under the configured API base.
    pub url: String,
    pub body: Option<serde_json::Value>,
    pub resource: RateResource,
    /// `owner/repo` (lowercase) that the call reads or changes: cached reads are tagged with
    /// it, and a mutation drops that repository's cached reads.
    pub repo: Option<String>,
}

/// A successful answer. Shared (`Arc`) between coalesced callers and the cache.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Bytes,
    pub links: Links,
    /// Served from the cache after GitHub answered 304 Not Modified.
    pub revalidated: bool,
    /// The body, decoded by the first caller that asked; shared by every copy of this answer
    /// (the cached one, its 304 revalidations, coalesced callers), so that it is decoded once.
    pub decoded: Decoded,
}

/// The decoded form of an answer's body, set once (see [`ApiResponse::decoded`]).
#[derive(Debug, Clone, Default)]
pub struct Decoded(Arc<OnceLock<Arc<dyn Any + Send + Sync>>>);

impl ApiResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GitHubError> {
        // The whole body checked as UTF-8 at once, then read as text: `from_slice` checks each
        // string it keeps (and every key) on its own, which costs more on a page of thousands.
        // A body with bad UTF-8 goes through `from_slice`, which lets it pass where it is in a
        // field we skip, as it did before this fast path.
        let decoded = match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&self.body),
        };
        decoded.map_err(|err| GitHubError::Decode {
            reason: err.to_string(),
        })
    }

    /// The body decoded as `T`, decoded at most once per answer: a 304 revalidation or a
    /// coalesced call reuses what the first reader decoded. (Decoding a page of 30 issues
    /// is most of a list call's CPU time.) A read as another type decodes afresh.
    pub fn decoded<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
    ) -> Result<Arc<T>, GitHubError> {
        if let Some(Ok(done)) = self.decoded.0.get().map(|any| any.clone().downcast::<T>()) {
            return Ok(done);
        }
        let fresh = Arc::new(self.json::<T>()?);
        let _ = self.decoded.0.set(fresh.clone());
        Ok(fresh)
    }
}

pub type ApiResult = Result<Arc<ApiResponse>, GitHubError>;

/// The pagination URLs of a `Link` header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    pub next: Option<String>,
    pub prev: Option<String>,
    pub first: Option<String>,
    pub last: Option<String>,
}

impl Links {
    /// Parses `<url>; rel="next", <url>; rel="last"`. Unknown rels and malformed parts are
    /// skipped: a bad header costs pagination, never the answer.
    pub fn parse(header: &str) -> Links {
        let mut links = Links::default();
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let Some(url) = pieces
                .next()
                .map(str::trim)
                .and_then(|url| url.strip_prefix('<')?.strip_suffix('>'))
            else {
                continue;
            };
            for param in pieces {
                let Some(rel) = param.trim().strip_prefix("rel=") else {
                    continue;
                };
                for rel in rel.trim_matches('"').split_whitespace() {
                    let slot = match rel {
                        "next" => &mut links.next,
                        "prev" => &mut links.prev,
                        "first" => &mut links.first,
                        "last" => &mut links.last,
                        _ => continue,
                    };
                    *slot = Some(url.to_string());
                }
            }
        }
        links
    }

    /// The `page` query parameter of the `last` link: how many pages there are, when GitHub
    /// says (it omits `last` on the last page).
    pub fn last_page(&self) -> Option<u64> {
        page_of(self.last.as_deref()?)
    }
}

/// The `page=` query parameter of a URL.
pub fn page_of(url: &str) -> Option<u64> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|page| page.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_githubs_link_header() {
        // From the recorded paginate-issues fixture: after page 1, GitHub points at
        // /repositories/{id}/issues.
        let header = "<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel=\"prev\", \
            <https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel=\"next\", \
            <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel=\"last\", \
            <https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel=\"first\"";
        let links = Links::parse(header);
        assert_eq!(
            links.next.as_deref(),
            Some("https://api.github.com/repositories/1000/issues?per_page=3&page=3")
        );
        assert_eq!(links.last_page(), Some(5));
        assert_eq!(page_of(links.prev.as_deref().unwrap()), Some(1));
    }

    #[test]
    fn malformed_links_are_skipped() {
        let links = Links::parse("garbage, <https://x/?page=2>; rel=\"next\", <nope; rel=last");
        assert_eq!(links.next.as_deref(), Some("https://x/?page=2"));
        assert_eq!(links.last, None);
    }

    #[test]
    fn credential_debug_is_masked() {
        let credential = Credential::new(Secret::new("ghp_abcdefghijklmnopqrstuvwxyz"));
        let shown = format!("{credential:?}");
        assert!(!shown.contains("ghijklmnop"), "{shown}");
    }

    fn answer(body: &'static [u8]) -> ApiResponse {
        ApiResponse {
            status: 200,
            body: Bytes::from_static(body),
            links: Links::default(),
            revalidated: false,
            decoded: Decoded::default(),
        }
    }

    #[test]
    fn bodies_decode_as_from_slice_would() {
        let ok = answer("[{\"title\": \"caf\u{e9} \\u00e9\"}]".as_bytes());
        let titles: Vec<serde_json::Value> = ok.json().unwrap();
        assert_eq!(titles[0]["title"], "café é");

        // Bad UTF-8 where we read it is an error; where we skip it, it is let pass.
        #[derive(Debug, serde::Deserialize)]
        struct Titled {
            title: String,
        }
        let latin1 = answer(b"[{\"title\": \"caf\xe9\"}]").json::<Vec<Titled>>();
        let reason = latin1.unwrap_err().to_string();
        assert!(reason.contains("invalid unicode"), "{reason}");
        let skipped = answer(b"[{\"title\": \"t\", \"body_html\": \"caf\xe9\"}]");
        assert_eq!(skipped.json::<Vec<Titled>>().unwrap()[0].title, "t");
        let truncated = answer(b"[{\"title\": ").json::<serde_json::Value>();
        assert!(truncated.is_err());
    }
}
