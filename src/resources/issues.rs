//! The `issue://` resources: one issue, its comments, and a repository's open issues, as
//! Markdown.
//!
//! - `issue://{owner}/{repo}/{number}`: the whole issue, body uncut (tools cut long bodies and
//!   point here);
//! - `issue://{owner}/{repo}/{number}/comments`: every page of comments up to
//!   `tools.comments_max`, with a note when the cap was hit;
//! - `issue://{owner}/{repo}/open`: the open issues (pull requests left out). "open" is a
//!   word, never an issue number.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{ResourceEntry, ResourceSource, not_found};
use crate::{
    config::ToolSettings,
    github::{
        api::{GitHub, IssueQuery, RepoRef},
        error::GitHubError,
        request::Credential,
    },
    mcp::jsonrpc::ErrorObject,
    policy::Policy,
    tools::{
        CallContext, LocalFuture,
        render::{Fence, IssueSummary, UNTRUSTED_NOTE, comment_block, issue_detail, issue_lines},
    },
};

const MIME: &str = "text/markdown";
/// Open issues the `open` resource shows at most (one page of GitHub's largest size).
const OPEN_MAX: u32 = 100;

/// What an `issue://` URI names.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueUri {
    Issue(RepoRef, u64),
    Comments(RepoRef, u64),
    Open(RepoRef),
}

impl IssueUri {
    /// `None` for other schemes; an error naming the accepted forms for a malformed
    /// `issue://` URI.
    pub fn parse(uri: &str) -> Option<Result<IssueUri, String>> {
        let rest = uri.strip_prefix("issue://")?;
        let malformed = |why: String| {
            Err(format!(
                "malformed resource URI {uri:?}: {why}. The forms are issue://{{owner}}/{{repo}}/{{number}}, \
                 issue://{{owner}}/{{repo}}/{{number}}/comments and issue://{{owner}}/{{repo}}/open"
            ))
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (owner, repo, tail) = match parts.as_slice() {
            [owner, repo, tail @ ..] if !tail.is_empty() => (*owner, *repo, tail),
            _ => return Some(malformed("it has too few parts".into())),
        };
        let repo = match RepoRef::new(owner, repo) {
            Ok(repo) => repo,
            Err(why) => return Some(malformed(why)),
        };
        let number = |text: &str| text.parse::<u64>().ok().filter(|n| *n >= 1);
        Some(match tail {
            ["open"] => Ok(IssueUri::Open(repo)),
            [n] => match number(n) {
                Some(n) => Ok(IssueUri::Issue(repo, n)),
                None => malformed(format!("{n:?} is neither an issue number nor \"open\"")),
            },
            [n, "comments"] => match number(n) {
                Some(n) => Ok(IssueUri::Comments(repo, n)),
                None => malformed(format!("{n:?} is not an issue number")),
            },
            _ => malformed("it has too many parts".into()),
        })
    }

    /// The tool that shows the same data: the resource is readable only while the policy
    /// enables that tool, so `policy.tools_deny` (or `tools_allow`) is a boundary on the
    /// data, not only on one way to it.
    fn tool(&self) -> &'static str {
        match self {
            IssueUri::Issue(..) => "get_issue",
            IssueUri::Comments(..) => "list_issue_comments",
            IssueUri::Open(..) => "list_issues",
        }
    }

    fn repo(&self) -> &RepoRef {
        match self {
            IssueUri::Issue(repo, _) | IssueUri::Comments(repo, _) | IssueUri::Open(repo) => repo,
        }
    }
}

/// The source behind the three templates.
#[derive(Debug, Clone)]
pub struct IssueResources {
    github: GitHub,
    settings: Arc<ToolSettings>,
    policy: Arc<Policy>,
}

impl IssueResources {
    pub fn new(github: GitHub, settings: ToolSettings, policy: Arc<Policy>) -> Self {
        IssueResources {
            github,
            settings: Arc::new(settings),
            policy,
        }
    }
}

fn template(uri: &str, name: &str, title: &str, description: &str) -> ResourceEntry {
    ResourceEntry {
        uri: uri.into(),
        name: name.into(),
        title: title.into(),
        description: description.into(),
        mime_type: MIME.into(),
    }
}

impl IssueResources {
    /// What an `issue://` URI names, if well formed and allowed by the policy (its
    /// repository, and the tool that shows the same data).
    fn target(&self, uri: &str) -> Option<Result<IssueUri, String>> {
        Some(IssueUri::parse(uri)?.and_then(|target| {
            self.policy.check_repo(target.repo())?;
            if let Some(reason) = self.policy.disabled(target.tool(), true) {
                return Err(format!(
                    "resource {uri} shows what {} shows, and {reason}",
                    target.tool()
                ));
            }
            Ok(target)
        }))
    }
}

impl ResourceSource for IssueResources {
    fn resources(&self) -> Vec<ResourceEntry> {
        Vec::new()
    }

    /// The templates whose data the policy lets agents read (see [`IssueUri::tool`]).
    fn templates(&self) -> Vec<ResourceEntry> {
        let tools = ["get_issue", "list_issue_comments", "list_issues"];
        let templates = [
            template(
                "issue://{owner}/{repo}/{number}",
                "issue",
                "GitHub issue",
                "One issue in full: state, labels, assignees, dates and the whole body.",
            ),
            template(
                "issue://{owner}/{repo}/{number}/comments",
                "issue-comments",
                "GitHub issue comments",
                "All comments on an issue, oldest first (up to the server's cap).",
            ),
            template(
                "issue://{owner}/{repo}/open",
                "open-issues",
                "Open GitHub issues",
                "A repository's open issues, newest first, without bodies.",
            ),
        ];
        tools
            .into_iter()
            .zip(templates)
            .filter(|(tool, _)| self.policy.disabled(tool, true).is_none())
            .map(|(_, template)| template)
            .collect()
    }

    fn check(&self, uri: &str) -> Option<Result<(), ErrorObject>> {
        Some(
            self.target(uri)?
                .map(|_| ())
                .map_err(ErrorObject::invalid_params),
        )
    }

    fn read(
        &self,
        uri: &str,
        context: &CallContext,
    ) -> Option<LocalFuture<Result<Vec<Value>, ErrorObject>>> {
        let parsed = self.target(uri)?;
        let (github, settings, uri) = (self.github.clone(), self.settings.clone(), uri.to_string());
        let credential = context.credential.clone();
        let memory = context.memory.clone();
        Some(Box::pin(async move {
            let target = parsed.map_err(ErrorObject::invalid_params)?;
            let credential = credential
                .ok_or_else(|| ErrorObject::internal("this session has no GitHub credential"))?;
            memory.remember(target.repo());
            let text = render(&github, &credential, &settings, &target)
                .await
                .map_err(|err| match err {
                    GitHubError::NotFound => not_found(&uri),
                    other => {
                        ErrorObject::internal(other.explain(&uri)).with_data(json!({"uri": uri}))
                    }
                })?;
            Ok(vec![json!({"uri": uri, "mimeType": MIME, "text": text})])
        }))
    }
}

async fn render(
    github: &GitHub,
    credential: &Credential,
    settings: &ToolSettings,
    target: &IssueUri,
) -> Result<String, GitHubError> {
    match target {
        IssueUri::Issue(repo, number) => {
            let issue = github.issue(credential, repo, *number).await?;
            let fence = Fence::new();
            Ok(format!(
                "{}\n\n{}",
                fence.note(),
                issue_detail(&issue, &fence, usize::MAX, "")
            ))
        }
        IssueUri::Comments(repo, number) => {
            // The issue must exist: GitHub answers an empty list for some missing ones.
            github.issue(credential, repo, *number).await?;
            let (comments, more) = github
                .comments(credential, repo, *number, settings.comments_max)
                .await?;
            let mut text = format!("# Comments on {repo}#{number}\n\n");
            if comments.is_empty() {
                text.push_str("No comments.");
            } else {
                let fence = Fence::new();
                text.push_str(&fence.note());
                for comment in &comments {
                    text.push_str("\n\n");
                    text.push_str(&comment_block(comment, &fence, usize::MAX, ""));
                }
            }
            if more {
                text.push_str(&format!(
                    "\n\n[Only the first {} comments are shown: this server's cap \
                     (tools.comments_max). The issue has more.]",
                    comments.len()
                ));
            }
            Ok(text)
        }
        IssueUri::Open(repo) => {
            let query = IssueQuery {
                state: "open".into(),
                per_page: OPEN_MAX,
                page: 1,
                sort: "created".into(),
                direction: "desc".into(),
            };
            let page = github.issues_page(credential, repo, &query).await?;
            let issues: Vec<_> = page
                .items
                .iter()
                .filter(|issue| !issue.is_pull_request())
                .collect();
            let mut text = format!("# Open issues in {repo}\n\n");
            if issues.is_empty() {
                text.push_str("No open issues.");
            } else {
                text.push_str(UNTRUSTED_NOTE);
                text.push_str("\n\n");
                let summaries: Vec<IssueSummary<'_>> = issues
                    .iter()
                    .map(|issue| IssueSummary::of(*issue))
                    .collect();
                text.push_str(&issue_lines(&summaries));
            }
            if page.links.next.is_some() {
                text.push_str(&format!(
                    "\n\n[Only the newest {OPEN_MAX} open issues and pull requests were read; \
                     use list_issues_paginated for the rest.]"
                ));
            }
            Ok(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoRef {
        RepoRef::new("octo", "hello").unwrap()
    }

    #[test]
    fn open_is_a_word_not_an_issue_number() {
        assert_eq!(
            IssueUri::parse("issue://octo/hello/open"),
            Some(Ok(IssueUri::Open(repo())))
        );
        assert_eq!(
            IssueUri::parse("issue://octo/hello/42"),
            Some(Ok(IssueUri::Issue(repo(), 42)))
        );
        assert_eq!(
            IssueUri::parse("issue://octo/hello/42/comments"),
            Some(Ok(IssueUri::Comments(repo(), 42)))
        );
    }

    #[test]
    fn malformed_uris_say_what_is_wrong_and_other_schemes_are_not_ours() {
        for bad in [
            "issue://octo/hello",
            "issue://octo/hello/0",
            "issue://octo/hello/closed",
            "issue://octo/hello/1/labels",
            "issue://oc to/hello/1",
        ] {
            let err = IssueUri::parse(bad).unwrap().unwrap_err();
            assert!(err.starts_with("malformed resource URI"), "{bad}: {err}");
        }
        assert_eq!(IssueUri::parse("file:///etc/passwd"), None);
    }
}
