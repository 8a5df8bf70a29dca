//! What this server lets agents do, whoever they are: read-only mode, tool allow and deny
//! lists, and a repository allow-list.
//!
//! The tool lists decide which tools are registered at all (a disabled tool is neither listed
//! nor callable, and calling it says why), and so which data agents may read: the `issue://`
//! resources and issue-number completions that show what a withheld read tool shows ask
//! [`Policy::disabled`] too. The repository allow-list is checked on every tool
//! call, resource read, completion and search: a search is confined to the allowed
//! repositories, and one that targets others is refused.

use std::fmt;

use serde::Deserialize;

use crate::repo::RepoRef;

/// The `[policy]` settings: comma-separated lists, empty meaning "no restriction".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicySettings {
    pub read_only: bool,
    pub tools_allow: String,
    pub tools_deny: String,
    pub repositories: String,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// `owner/repo` or `owner/*`, compared case-insensitively as GitHub does.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RepoPattern {
    owner: String,
    repo: Option<String>,
}

impl RepoPattern {
    fn parse(text: &str) -> Result<Self, String> {
        let (owner, repo) = text.split_once('/').ok_or_else(|| {
            format!("policy.repositories entry {text:?} is not owner/repo or owner/*")
        })?;
        let repo = (repo != "*").then(|| repo.to_lowercase());
        let check = RepoRef::new(owner, repo.as_deref().unwrap_or("x"));
        check.map_err(|why| format!("policy.repositories entry {text:?}: {why}"))?;
        Ok(RepoPattern {
            owner: owner.to_lowercase(),
            repo,
        })
    }

    fn matches(&self, repo: &RepoRef) -> bool {
        self.owner == repo.owner.to_lowercase()
            && self
                .repo
                .as_ref()
                .is_none_or(|name| *name == repo.repo.to_lowercase())
    }

    /// The search qualifier that confines a search to this pattern.
    fn qualifier(&self) -> String {
        match &self.repo {
            Some(repo) => format!("repo:{}/{repo}", self.owner),
            None => format!("user:{}", self.owner),
        }
    }
}

impl fmt::Display for RepoPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo.as_deref().unwrap_or("*"))
    }
}

/// The qualifiers of GitHub's issue search that only narrow a search (each is ANDed with
/// the rest), and so are let through while the repositories are confined. The scope
/// qualifiers `repo:`, `user:` and `org:` are checked against the allow-list instead.
pub const SEARCH_FILTERS: &[&str] = &[
    "is",
    "type",
    "state",
    "reason",
    "in",
    "author",
    "assignee",
    "mentions",
    "commenter",
    "involves",
    "team",
    "label",
    "milestone",
    "no",
    "language",
    "comments",
    "interactions",
    "reactions",
    "created",
    "updated",
    "closed",
    "merged",
    "archived",
    "linked",
    "draft",
    "review",
    "reviewed-by",
    "review-requested",
    "user-review-requested",
    "team-review-requested",
    "status",
    "head",
    "base",
    "sort",
];

#[derive(Debug, Clone, Default)]
pub struct Policy {
    read_only: bool,
    allow: Vec<String>,
    deny: Vec<String>,
    repositories: Vec<RepoPattern>,
}

impl Policy {
    pub fn new(settings: &PolicySettings) -> Result<Self, String> {
        Ok(Policy {
            read_only: settings.read_only,
            allow: list(&settings.tools_allow),
            deny: list(&settings.tools_deny),
            repositories: list(&settings.repositories)
                .iter()
                .map(|item| RepoPattern::parse(item))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Why a tool is disabled, or `None` if it is enabled. `read_only` is the tool's hint.
    pub fn disabled(&self, tool: &str, read_only: bool) -> Option<String> {
        if self.read_only && !read_only {
            return Some(format!(
                "{tool} changes GitHub, and this server is read-only"
            ));
        }
        if self.deny.iter().any(|name| name == tool) {
            return Some(format!(
                "{tool} is disabled on this server (policy.tools_deny)"
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|name| name == tool) {
            return Some(format!(
                "{tool} is not enabled on this server (policy.tools_allow)"
            ));
        }
        None
    }

    /// Whether only some repositories may be touched (`policy.repositories` is set).
    pub fn confines_repositories(&self) -> bool {
        !self.repositories.is_empty()
    }

    /// Whether `owner/name` (as GitHub names a search result's repository) may be touched.
    pub fn allows(&self, full_name: &str) -> bool {
        full_name
            .split_once('/')
            .and_then(|(owner, name)| RepoRef::new(owner, name).ok())
            .is_some_and(|repo| self.check_repo(&repo).is_ok())
    }

    /// Whether `repo` may be touched; the error names the allowed ones.
    pub fn check_repo(&self, repo: &RepoRef) -> Result<(), String> {
        if self.repositories.is_empty() || self.repositories.iter().any(|p| p.matches(repo)) {
            return Ok(());
        }
        Err(format!(
            "repository {repo} is not allowed on this server; allowed: {}",
            self.allowed()
        ))
    }

    fn allowed(&self) -> String {
        self.repositories
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A search query confined to the allowed repositories: refused if it names others with
    /// `repo:`, `user:` or `org:`, otherwise given the qualifiers of every allowed repository.
    /// Any other qualifier must be one of [`SEARCH_FILTERS`], which only narrow a search:
    /// one this server does not know (`owner:`, `repository:`, a future one) might reach other
    /// repositories, and what cannot be confined is refused.
    /// Refused too if it uses `OR`, `AND`, `NOT` or parentheses: GitHub's advanced search
    /// reads them, and `x OR` before the qualifiers added here would widen the search to
    /// everything. (Callers also drop results outside the policy: [`Policy::allows`].)
    pub fn constrain_search(&self, query: &str) -> Result<String, String> {
        if self.repositories.is_empty() {
            return Ok(query.to_string());
        }
        let operator = query.split_whitespace().find(|term| {
            ["or", "and", "not"]
                .iter()
                .any(|op| term.eq_ignore_ascii_case(op))
        });
        if let Some(operator) = operator.or_else(|| query.contains(['(', ')']).then_some("( )")) {
            return Err(format!(
                "the search uses {operator}, which this server does not take while it limits the \
                 repositories agents may touch ({}): search with plain words and qualifiers, and \
                 make one search per alternative",
                self.allowed()
            ));
        }
        let mut targeted = false;
        for term in search_terms(query)? {
            // A quoted phrase is text, not a qualifier.
            let Some((qualifier, value)) = term.split_once(':').filter(|_| !term.starts_with('"'))
            else {
                continue;
            };
            // `-label:x` excludes; `-repo:x` is checked as `repo:x` all the same, but does
            // not confine the search (it excludes one repository from all of GitHub).
            let excludes = qualifier.starts_with('-');
            let qualifier = qualifier.trim_start_matches('-').to_lowercase();
            let allowed = match qualifier.as_str() {
                "repo" => value
                    .split_once('/')
                    .and_then(|(o, r)| RepoRef::new(o, r).ok())
                    .is_some_and(|repo| self.check_repo(&repo).is_ok()),
                "user" | "org" => self
                    .repositories
                    .iter()
                    .any(|p| p.repo.is_none() && p.owner == value.to_lowercase()),
                known if SEARCH_FILTERS.contains(&known) => continue,
                _ => {
                    return Err(format!(
                        "the search uses the qualifier {qualifier}:, which this server cannot \
                         confine to the repositories it allows ({}): use repo:, user: or org: \
                         within those, and only these other qualifiers: {}; put words with a \
                         colon in double quotes",
                        self.allowed(),
                        SEARCH_FILTERS.join(", ")
                    ));
                }
            };
            if !allowed {
                return Err(format!(
                    "the search targets {term}, which is outside the repositories allowed on this \
                     server ({}); search within those",
                    self.allowed()
                ));
            }
            targeted |= !excludes;
        }
        if targeted {
            return Ok(query.to_string());
        }
        let scope: Vec<String> = self
            .repositories
            .iter()
            .map(RepoPattern::qualifier)
            .collect();
        Ok(format!("{query} {}", scope.join(" ")))
    }
}

/// The terms of a search query, split where GitHub splits them: at whitespace outside double
/// quotes. A term is a phrase in double quotes (text), a word without quotes, or a qualifier
/// whose value is in double quotes (`label:"good first issue"`). Anything else with a quote
/// is refused: an unclosed quote, a quote inside a word, or text glued after a closing quote
/// (`"a"owner:evil`). Read wrongly, such a term would hide a qualifier from the check.
fn search_terms(query: &str) -> Result<Vec<&str>, String> {
    const UNBALANCED: &str = "the search has a double quote that is not closed: put a phrase \
        between two double quotes, or leave the quote out";
    let glued = |term: &str| {
        format!(
            "the search has text right after the closing double quote of {term}: put a space \
             between a quoted phrase and what follows"
        )
    };
    let mut terms = Vec::new();
    let mut rest = query.trim_start();
    while !rest.is_empty() {
        let word_end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let head = &rest[..word_end];
        let end = if !rest[word_end..].starts_with('"') {
            word_end
        } else if head.is_empty() || (head.ends_with(':') && head.matches(':').count() == 1) {
            // A phrase, or a qualifier's quoted value: up to and with the closing quote.
            let close = rest[word_end + 1..].find('"').ok_or(UNBALANCED)?;
            word_end + 1 + close + 1
        } else {
            return Err(format!(
                "the search has a double quote inside the word {head}\": quote whole phrases, \
                 or a qualifier's whole value (label:\"good first issue\")"
            ));
        };
        let (term, after) = rest.split_at(end);
        if after.starts_with(|c: char| !c.is_whitespace()) {
            return Err(glued(term));
        }
        terms.push(term);
        rest = after.trim_start();
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(repositories: &str) -> Policy {
        Policy::new(&PolicySettings {
            repositories: repositories.into(),
            ..PolicySettings::default()
        })
        .unwrap()
    }

    fn repo(owner: &str, name: &str) -> RepoRef {
        RepoRef::new(owner, name).unwrap()
    }

    #[test]
    fn repositories_match_exactly_or_by_owner() {
        let p = policy("octo/hello, Acme/*");
        assert!(p.check_repo(&repo("octo", "Hello")).is_ok());
        assert!(p.check_repo(&repo("acme", "anything")).is_ok());
        let err = p.check_repo(&repo("octo", "other")).unwrap_err();
        assert_eq!(
            err,
            "repository octo/other is not allowed on this server; allowed: octo/hello, acme/*"
        );
        assert!(policy("").check_repo(&repo("any", "thing")).is_ok());
        assert!(
            Policy::new(&PolicySettings {
                repositories: "nope".into(),
                ..PolicySettings::default()
            })
            .is_err()
        );
    }

    #[test]
    fn searches_are_confined_to_allowed_repositories() {
        let p = policy("octo/hello,acme/*");
        assert_eq!(
            p.constrain_search("crash is:open").unwrap(),
            "crash is:open repo:octo/hello user:acme"
        );
        assert_eq!(
            p.constrain_search("crash repo:octo/hello").unwrap(),
            "crash repo:octo/hello"
        );
        assert!(p.constrain_search("crash org:acme").is_ok());
        assert!(p.constrain_search("crash repo:evil/repo").is_err());
        assert!(
            p.constrain_search("crash user:octo").is_err(),
            "octo/* is not allowed"
        );
        for unconfined in [
            "crash owner:evil",
            "crash repository:evil/secret",
            "crash Owner:evil",
            "crash future-scope:evil",
            "see http://example.com",
        ] {
            let err = p.constrain_search(unconfined).unwrap_err();
            assert!(err.contains("cannot confine"), "{unconfined}: {err}");
        }
        assert_eq!(
            p.constrain_search("crash is:open -label:wontfix \"error:timeout\"")
                .unwrap(),
            "crash is:open -label:wontfix \"error:timeout\" repo:octo/hello user:acme"
        );
        assert!(p.constrain_search("crash -repo:evil/x").is_err());
        assert_eq!(
            p.constrain_search("crash -repo:octo/hello").unwrap(),
            "crash -repo:octo/hello repo:octo/hello user:acme",
            "an exclusion does not confine"
        );
        assert!(policy("").constrain_search("owner:anyone").is_ok());
        assert_eq!(
            p.constrain_search("\"crash  report\" label:\"good first issue\" is:open")
                .unwrap(),
            "\"crash  report\" label:\"good first issue\" is:open repo:octo/hello user:acme"
        );
        assert!(p.constrain_search("repo:\"evil/x\"").is_err());
        for smuggled in [
            "\"a\"owner:evil",
            "\"owner:evil",
            "crash \"owner:evil",
            "\"a b\"owner:evil",
            "label:\"x\"owner:evil",
            "a\"owner:evil\"",
            "owner\":evil\"",
            "label:x:\"y\"",
            "\"\"\"owner:evil",
        ] {
            let err = p.constrain_search(smuggled).unwrap_err();
            assert!(err.contains("double quote"), "{smuggled}: {err}");
        }
        for widening in [
            "repo:octo/hello OR (repo:evil/secret)",
            "is:issue OR",
            "(org:evil)",
            "crash or hang",
            "repo:octo/hello)OR(repo:evil/x",
            "NOT is:closed",
        ] {
            let err = p.constrain_search(widening).unwrap_err();
            assert!(err.contains("plain words"), "{widening}: {err}");
        }
        assert!(
            policy("").constrain_search("a OR (b)").is_ok(),
            "no policy, no limit"
        );
        assert!(p.allows("Octo/hello") && p.allows("acme/x"));
        assert!(!p.allows("evil/secret") && !p.allows("nonsense"));
    }

    #[test]
    fn read_only_and_tool_lists_disable_tools() {
        let p = Policy::new(&PolicySettings {
            read_only: true,
            tools_deny: "search_issues".into(),
            ..PolicySettings::default()
        })
        .unwrap();
        assert!(
            p.disabled("create_issue", false)
                .unwrap()
                .contains("read-only")
        );
        assert!(
            p.disabled("search_issues", true)
                .unwrap()
                .contains("tools_deny")
        );
        assert_eq!(p.disabled("get_issue", true), None);
        let only = Policy::new(&PolicySettings {
            tools_allow: "get_issue".into(),
            ..PolicySettings::default()
        })
        .unwrap();
        assert!(only.disabled("list_issues", true).is_some());
        assert_eq!(only.disabled("get_issue", true), None);
    }
}
