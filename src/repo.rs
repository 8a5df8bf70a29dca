//! A repository's name, `owner/repo`, checked against GitHub's rules. A leaf: the policy, the
//! configuration, the GitHub client and the tools all name repositories.

use std::fmt;

/// A repository, with owner and name checked against GitHub's rules so they are safe in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoRef {
    pub owner: String,
    pub repo: String,
}

impl RepoRef {
    /// Checks the names; the error says which one is wrong and what is allowed.
    pub fn new(owner: &str, repo: &str) -> Result<RepoRef, String> {
        let owner_ok = (1..=39).contains(&owner.len())
            && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !owner_ok {
            return Err(format!(
                "owner {owner:?} is not a GitHub user or organization name: 1 to 39 letters, \
                 digits or hyphens, as in github.com/<owner>/<repo>"
            ));
        }
        let repo_ok = (1..=100).contains(&repo.len())
            && repo != "."
            && repo != ".."
            && repo
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !repo_ok {
            return Err(format!(
                "repo {repo:?} is not a GitHub repository name: 1 to 100 letters, digits, '-', \
                 '_' or '.', as in github.com/<owner>/<repo>"
            ));
        }
        Ok(RepoRef {
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    /// The cache tag: GitHub names are case-insensitive.
    pub fn tag(&self) -> String {
        self.to_string().to_lowercase()
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}
