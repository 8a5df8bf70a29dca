//! Typed GitHub issue calls, made through the gateway. Tools, resources and completions use
//! [`GitHub`]; none of them builds URLs or talks HTTP.

use std::sync::Arc;

use actix::Recipient;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    error::{GitHubError, RateResource},
    models::{Comment, Issue, Issues, Label, SearchResults, User},
    request::{ApiRequest, Credential, Links, Method},
};
use crate::github::gateway::Fetch;
pub use crate::repo::RepoRef;

/// The most pages one call reads for comments: `tools.comments_max` at GitHub's 100 a page
/// is a few; twenty leave room for pages a proxy cut short, and stop a paginator without end.
const MAX_COMMENT_PAGES: usize = 20;

/// One page of a list (`Issues`, `Vec<Comment>`), with where the others are.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Shared with the cached answer: see `ApiResponse::decoded`.
    pub items: Arc<T>,
    pub links: Links,
}

/// The filters of `GET /repos/{owner}/{repo}/issues`.
#[derive(Debug, Clone)]
pub struct IssueQuery {
    pub state: String,
    pub per_page: u32,
    pub page: u64,
    pub sort: String,
    pub direction: String,
}

/// The handle tools use: the gateway and the API base.
#[derive(Debug, Clone)]
pub struct GitHub {
    /// The gateway, as the one message it takes from here: the client needs no more of it.
    gateway: Recipient<Fetch>,
    base: Arc<str>,
}

impl GitHub {
    pub fn new(gateway: Recipient<Fetch>, api_url: &str) -> Self {
        GitHub {
            gateway,
            base: api_url.trim_end_matches('/').into(),
        }
    }

    pub async fn issues_page(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        query: &IssueQuery,
    ) -> Result<Page<Issues>, GitHubError> {
        let url = format!(
            "{}/repos/{repo}/issues?state={}&sort={}&direction={}&per_page={}&page={}",
            self.base, query.state, query.sort, query.direction, query.per_page, query.page
        );
        self.page_at(credential, repo, url).await
    }

    /// A page by URL, as GitHub's `Link` header gave it.
    pub async fn page_at<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        url: String,
    ) -> Result<Page<T>, GitHubError> {
        let response = self
            .call(credential, get(url, Some(repo), RateResource::Core))
            .await?;
        Ok(Page {
            items: response.decoded()?,
            links: response.links.clone(),
        })
    }

    /// One issue, shared with the cached answer like a page's items.
    pub async fn issue(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Arc<Issue>, GitHubError> {
        let url = format!("{}/repos/{repo}/issues/{number}", self.base);
        self.call(credential, get(url, Some(repo), RateResource::Core))
            .await?
            .decoded()
    }

    pub async fn create_issue(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        fields: Value,
    ) -> Result<Issue, GitHubError> {
        let url = format!("{}/repos/{repo}/issues", self.base);
        self.mutate(credential, repo, Method::Post, url, fields)
            .await
    }

    pub async fn update_issue(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        number: u64,
        fields: Value,
    ) -> Result<Issue, GitHubError> {
        let url = format!("{}/repos/{repo}/issues/{number}", self.base);
        self.mutate(credential, repo, Method::Patch, url, fields)
            .await
    }

    /// Adds labels (keeping the existing ones); returns the issue's labels afterwards.
    pub async fn add_labels(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        number: u64,
        labels: &[String],
    ) -> Result<Vec<Label>, GitHubError> {
        let url = format!("{}/repos/{repo}/issues/{number}/labels", self.base);
        let body = serde_json::json!({ "labels": labels });
        self.mutate(credential, repo, Method::Post, url, body).await
    }

    /// Up to `limit` comments, oldest first, following GitHub's pages; and whether there are
    /// more than that.
    pub async fn comments(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        number: u64,
        limit: usize,
    ) -> Result<(Vec<Comment>, bool), GitHubError> {
        let per_page = limit.clamp(1, 100);
        let mut url = Some(format!(
            "{}/repos/{repo}/issues/{number}/comments?per_page={per_page}&page=1",
            self.base
        ));
        let mut comments = Vec::new();
        let mut more = false;
        // A `next` link that leads nowhere (an empty page, or pages without end from a broken
        // proxy) must not keep the call asking GitHub forever; pages shorter than asked for
        // (a proxy that ignores per_page) are still followed up to the bound.
        let mut pages_left = MAX_COMMENT_PAGES;
        while let Some(next) = url.take() {
            let page: Page<Vec<Comment>> = self.page_at(credential, repo, next).await?;
            comments.extend(page.items.iter().cloned());
            more = page.links.next.is_some() || comments.len() > limit;
            pages_left -= 1;
            if comments.len() < limit && !page.items.is_empty() && pages_left > 0 {
                url = page.links.next;
            }
        }
        comments.truncate(limit);
        Ok((comments, more))
    }

    pub async fn add_comment(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        number: u64,
        body: &str,
    ) -> Result<Comment, GitHubError> {
        let url = format!("{}/repos/{repo}/issues/{number}/comments", self.base);
        let body = serde_json::json!({ "body": body });
        self.mutate(credential, repo, Method::Post, url, body).await
    }

    /// The user a token belongs to (`GET /user`), to authenticate callers by their token.
    pub async fn user(&self, credential: &Credential) -> Result<User, GitHubError> {
        let url = format!("{}/user", self.base);
        self.call(credential, get(url, None, RateResource::Core))
            .await?
            .json()
    }

    pub async fn search_issues(
        &self,
        credential: &Credential,
        query: &str,
        per_page: u32,
    ) -> Result<SearchResults, GitHubError> {
        let url = format!(
            "{}/search/issues?q={}&per_page={per_page}",
            self.base,
            percent_encode(query)
        );
        self.call(credential, get(url, None, RateResource::Search))
            .await?
            .json()
    }

    async fn mutate<T: DeserializeOwned>(
        &self,
        credential: &Credential,
        repo: &RepoRef,
        method: Method,
        url: String,
        body: Value,
    ) -> Result<T, GitHubError> {
        let request = ApiRequest {
            method,
            url,
            body: Some(body),
            resource: RateResource::Core,
            repo: Some(repo.tag()),
        };
        self.call(credential, request).await?.json()
    }

    async fn call(
        &self,
        credential: &Credential,
        request: ApiRequest,
    ) -> super::request::ApiResult {
        let mutation = request.method.is_mutation();
        // Lives as long as this future: the gateway skips the call if it is dropped first.
        let caller = Arc::new(());
        self.gateway
            .send(Fetch {
                credential: credential.clone(),
                request,
                caller: Arc::downgrade(&caller),
            })
            .await
            .unwrap_or_else(|_| {
                Err(GitHubError::Network {
                    reason: "the server's GitHub gateway is not running".into(),
                    mutation,
                })
            })
    }
}

fn get(url: String, repo: Option<&RepoRef>, resource: RateResource) -> ApiRequest {
    ApiRequest {
        method: Method::Get,
        url,
        body: None,
        resource,
        repo: repo.map(RepoRef::tag),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay as they are).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_are_checked_and_named_in_errors() {
        assert!(RepoRef::new("octo-org", "hello.world_2").is_ok());
        let err = RepoRef::new("octo/org", "x").unwrap_err();
        assert!(err.starts_with("owner \"octo/org\""), "{err}");
        let err = RepoRef::new("octo", "..").unwrap_err();
        assert!(err.starts_with("repo \"..\""), "{err}");
        assert!(RepoRef::new("", "x").is_err());
    }

    #[test]
    fn search_queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("sesame repo:o/r is:open"),
            "sesame%20repo%3Ao%2Fr%20is%3Aopen"
        );
        assert_eq!(percent_encode("ü"), "%C3%BC");
    }
}
