//! `completion/complete`: suggestions for prompt arguments and resource-template variables.
//!
//! The dispatcher checks the reference (a known prompt or template) and hands the rest to the
//! [`Completer`]. [`GitHubCompleter`] suggests the owners and repositories this session has
//! used, and the open issue numbers of the repository named in `context.arguments` (one
//! cached, coalesced GitHub read).

use std::{collections::HashMap, sync::Arc};

use serde_json::{Value, json};

use crate::{
    call::PendingReply,
    github::api::{GitHub, IssueQuery, RepoRef},
    mcp::jsonrpc::ErrorObject,
    policy::Policy,
    tools::{CallContext, LocalFuture},
};

/// MCP caps a completion answer at 100 values.
const MAX_VALUES: usize = 100;

/// What to complete.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// The argument or template variable being typed.
    pub argument: String,
    /// What has been typed so far.
    pub value: String,
    /// Arguments already given (`context.arguments`, 2025-06-18+).
    pub resolved: HashMap<String, String>,
}

pub trait Completer: Send + Sync {
    /// Every candidate; the registry filters, sorts and caps them.
    fn candidates(
        &self,
        request: CompletionRequest,
        context: CallContext,
    ) -> LocalFuture<Vec<String>>;
}

/// The server's completer, if any. Cheap to clone.
#[derive(Clone, Default)]
pub struct Completions(Option<Arc<dyn Completer>>);

impl std::fmt::Debug for Completions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Completions({})", self.0.is_some())
    }
}

impl Completions {
    pub fn new(completer: impl Completer + 'static) -> Self {
        Completions(Some(Arc::new(completer)))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The `completion/complete` result, or -32601 when this server completes nothing.
    pub fn complete(
        &self,
        request: CompletionRequest,
        context: CallContext,
    ) -> Result<PendingReply, ErrorObject> {
        let completer = self
            .0
            .clone()
            .ok_or_else(|| ErrorObject::method_not_found("completion/complete"))?;
        let typed = request.value.to_lowercase();
        Ok(Box::pin(async move {
            let mut values: Vec<String> = completer
                .candidates(request, context)
                .await
                .into_iter()
                .filter(|value| value.to_lowercase().starts_with(&typed))
                .collect();
            // Issue numbers in numeric order, names in alphabetical order.
            if values.iter().all(|value| value.parse::<u64>().is_ok()) {
                values.sort_by_key(|value| value.parse::<u64>().unwrap_or_default());
            } else {
                values.sort();
            }
            values.dedup();
            let total = values.len();
            values.truncate(MAX_VALUES);
            let result = json!({"completion": {
                "values": values,
                "total": total,
                "hasMore": total > MAX_VALUES,
            }});
            match result {
                Value::Object(map) => Ok(map.into()),
                _ => unreachable!("json! object literal"),
            }
        }))
    }
}

/// Completes `owner`, `repo` and `issue_number` / `number`.
#[derive(Debug, Clone)]
pub struct GitHubCompleter {
    github: GitHub,
    policy: Arc<Policy>,
}

impl GitHubCompleter {
    pub fn new(github: GitHub, policy: Arc<Policy>) -> Self {
        GitHubCompleter { github, policy }
    }
}

impl Completer for GitHubCompleter {
    fn candidates(
        &self,
        request: CompletionRequest,
        context: CallContext,
    ) -> LocalFuture<Vec<String>> {
        let known = context.memory.repositories();
        let owner = request.resolved.get("owner").cloned();
        match request.argument.as_str() {
            "owner" => {
                let owners = known.into_iter().map(|repo| repo.owner).collect();
                Box::pin(async move { owners })
            }
            "repo" => {
                let repos = known
                    .into_iter()
                    .filter(|repo| {
                        owner
                            .as_deref()
                            .is_none_or(|owner| repo.owner.eq_ignore_ascii_case(owner))
                    })
                    .map(|repo| repo.repo)
                    .collect();
                Box::pin(async move { repos })
            }
            "issue_number" | "number" => {
                let github = self.github.clone();
                let repo = RepoRef::new(
                    owner.as_deref().unwrap_or_default(),
                    request.resolved.get("repo").map_or("", String::as_str),
                )
                .and_then(|repo| self.policy.check_repo(&repo).map(|()| repo))
                // The numbers come from the open-issue list: not while the policy withholds it.
                .and_then(|repo| match self.policy.disabled("list_issues", true) {
                    Some(reason) => Err(reason),
                    None => Ok(repo),
                });
                Box::pin(async move {
                    let (Ok(repo), Some(credential)) = (repo, context.credential) else {
                        return Vec::new();
                    };
                    let query = IssueQuery {
                        state: "open".into(),
                        per_page: 100,
                        page: 1,
                        sort: "created".into(),
                        direction: "desc".into(),
                    };
                    // A failed read suggests nothing; completion is a convenience.
                    match github.issues_page(&credential, &repo, &query).await {
                        Ok(page) => page
                            .items
                            .iter()
                            .filter(|issue| !issue.is_pull_request())
                            .map(|issue| issue.number().to_string())
                            .collect(),
                        Err(err) => {
                            log::debug!("completion of issue numbers in {repo} failed: {err}");
                            Vec::new()
                        }
                    }
                })
            }
            _ => Box::pin(async { Vec::new() }),
        }
    }
}
