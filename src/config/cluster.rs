//! The `[cluster]` settings: several replicas of the server sharing one Redis.
//!
//! Read by `lib.rs`, which starts the cluster link when `redis_url` is set; without it the
//! server is one process and nothing here is used. Validated with the other settings.

use std::fmt;

use serde::Deserialize;

use super::{ConfigError, Key, Secret};

#[derive(Clone, Deserialize)]
pub struct ClusterSettings {
    /// Empty: one process, no Redis. May hold a password, so it is a [`Secret`].
    redis_url: Secret,
    /// How the other replicas reach this one (`http://10.0.0.5:3001`); empty: the bound
    /// address, when it is a specific one.
    pub advertise_url: String,
    /// Shared by every replica: names the per-token and per-principal entries in Redis
    /// (HMAC, so no token's hash is stored bare) and, unless `mcp.request_state_key` is set,
    /// seals the stateless revision's request states.
    #[serde(default)]
    pub secret: Option<Key>,
    /// Prefix of every Redis key and channel, so that deployments can share one Redis.
    pub key_prefix: String,
}

impl ClusterSettings {
    /// The Redis URL, when the server runs as one replica of several.
    pub fn redis_url(&self) -> Option<&Secret> {
        Some(&self.redis_url).filter(|url| !url.expose().trim().is_empty())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let out_of_range = |key, problem: &str| {
            Err(ConfigError::OutOfRange {
                key,
                problem: problem.to_string(),
            })
        };
        let Some(url) = self.redis_url() else {
            return Ok(());
        };
        let url = url.expose();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            // Not echoed: it may hold a password.
            return out_of_range(
                "cluster.redis_url (GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL)",
                "must be a redis:// or rediss:// URL",
            );
        }
        if self
            .secret
            .as_ref()
            .is_none_or(|key| key.expose().len() < 32)
        {
            return out_of_range(
                "cluster.secret (GITHUB_ISSUE_MCP__CLUSTER__SECRET)",
                "must be set, the same on every replica, at least 32 bytes (for example 64 hex \
                 digits from a random source), when cluster.redis_url is set",
            );
        }
        let advertised = &self.advertise_url;
        let scheme_ok = advertised.starts_with("http://") || advertised.starts_with("https://");
        if !(advertised.is_empty() || scheme_ok) {
            return out_of_range(
                "cluster.advertise_url",
                &format!("must be an http:// or https:// URL, got {advertised:?}"),
            );
        }
        if self.key_prefix.is_empty()
            || !self
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return out_of_range(
                "cluster.key_prefix",
                "must be letters, digits and -_.: only, and not empty",
            );
        }
        Ok(())
    }
}

impl fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whether Redis is used, not where: the URL may hold a password.
        f.debug_struct("ClusterSettings")
            .field("redis", &self.redis_url().map(|_| "set"))
            .field("advertise_url", &self.advertise_url)
            .field("secret", &self.secret)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::{ConfigError, Settings};

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("GITHUB_TOKEN".into(), "t".into());
        Settings::from_env(&env)
    }

    const URL: &str = "GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL";
    const SECRET: &str = "GITHUB_ISSUE_MCP__CLUSTER__SECRET";
    const LONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn without_a_redis_url_there_is_no_cluster() {
        let settings = load(&[]).unwrap();
        assert!(settings.cluster.redis_url().is_none());
    }

    #[test]
    fn a_cluster_needs_a_redis_url_and_a_long_shared_secret() {
        let password = "redis://:hunter2hunter2@redis:6379/0";
        let settings = load(&[(URL, password), (SECRET, LONG)]).unwrap();
        assert_eq!(settings.cluster.redis_url().unwrap().expose(), password);
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains(LONG),
            "{shown}"
        );

        let no_secret = load(&[(URL, password)]).unwrap_err().to_string();
        assert!(no_secret.contains("cluster.secret"), "{no_secret}");
        let short = load(&[(URL, password), (SECRET, "short")]).unwrap_err();
        assert!(short.to_string().contains("at least 32 bytes"));
        let wrong = load(&[(URL, "http://:hunter2@redis"), (SECRET, LONG)]).unwrap_err();
        let wrong = wrong.to_string();
        assert!(
            wrong.contains("redis://") && !wrong.contains("hunter2"),
            "{wrong}"
        );
        let advertised = [(URL, password), (SECRET, LONG)];
        let bad = load(&[
            advertised[0],
            advertised[1],
            ("GITHUB_ISSUE_MCP__CLUSTER__ADVERTISE_URL", "10.0.0.5:3001"),
        ]);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("cluster.advertise_url")
        );
    }
}
