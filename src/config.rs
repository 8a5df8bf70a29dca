//! Settings: compiled-in defaults (`config/default.toml`), an optional file, then the
//! environment, layered with the `config` crate.
//!
//! `main` calls [`Settings::load`] once at startup; tests build [`Settings`] from a map with
//! [`Settings::from_env`]. The GitHub token is wrapped in [`Secret`], whose `Debug` and
//! `Display` never show it, so it cannot reach a log line or an error message by accident.

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::policy::{Policy, PolicySettings};

mod cluster;

pub use cluster::ClusterSettings;

/// The documented defaults, compiled in so that the binary needs no files to start.
const DEFAULTS: &str = include_str!("../config/default.toml");
/// Prefix of the long environment variable names: `GITHUB_ISSUE_MCP__SSE__KEEP_ALIVE_MS`.
const ENV_PREFIX: &str = "GITHUB_ISSUE_MCP";
/// Names a TOML file layered over the defaults.
const CONFIG_FILE_VAR: &str = "GITHUB_ISSUE_MCP_CONFIG";

/// Why the settings could not be loaded. Each message names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("invalid configuration: {key} {problem}")]
    OutOfRange { key: &'static str, problem: String },
    /// The file named by `GITHUB_ISSUE_MCP_CONFIG` is not valid TOML. `problem` is the
    /// parser's message without the lines of the file it quotes: a file's line may hold a
    /// secret (`token = ghp_...` without its quotes, say), and this message is logged.
    #[error(
        "invalid configuration: the file {path} (GITHUB_ISSUE_MCP_CONFIG) is not valid TOML: {problem}"
    )]
    FileSyntax { path: String, problem: String },
    #[error(
        "GITHUB_TOKEN is not set. Create a token at https://github.com/settings/personal-access-tokens \
         (fine-grained, with \"Issues: Read and write\" on the repositories your agents manage; or a \
         classic token with the repo scope) and start the server with GITHUB_TOKEN=<token> in its environment"
    )]
    MissingToken,
}

/// A key (`mcp.request_state_key`): unlike a [`Secret`], `Debug` shows none of it, since
/// every character of a MAC key counts.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Key(String);

impl Key {
    /// The key itself, for the one place that uses it (`lib.rs` makes the sealing key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(hidden)")
    }
}

/// A secret string. Shown only masked, never whole, by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it (the GitHub Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// At most the first 4 and the last 4 characters; short secrets are hidden whole.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 16 {
            return "****".to_string();
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub allowed_hosts: String,
    pub allowed_origins: String,
    pub drain_timeout_ms: u64,
    /// Open connections at most (actix stops accepting beyond), and from one peer address
    /// (0: no cap).
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    /// Time for a new connection's first request head.
    pub head_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SseSettings {
    pub keep_alive_ms: u64,
    pub outbound_capacity: usize,
    /// Bytes of messages queued for one stream (beyond the first): past them, as past
    /// `outbound_capacity` messages, the client is taken to have stopped reading.
    pub outbound_bytes: usize,
}

impl SseSettings {
    pub fn keep_alive(&self) -> Duration {
        Duration::from_millis(self.keep_alive_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// A body must arrive whole within this long.
    pub body_timeout_ms: u64,
    /// Bodies being read at once, in total and from one peer address.
    pub max_body_reads: usize,
    pub max_body_reads_per_peer: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct McpSettings {
    pub page_size: usize,
    pub session_idle_secs: u64,
    pub conformance_fixtures: bool,
    pub subscription_poll_ms: u64,
    pub replay_events: usize,
    /// The replay buffer's bound in bytes, besides `replay_events`.
    pub replay_bytes: usize,
    pub sse_retry_ms: u64,
    /// A `tools/call` on Streamable HTTP answered within this long goes back as JSON (0: always
    /// as a stream).
    pub json_answer_within_ms: u64,
    /// Seals the state of stateless `input_required` results; made at start when unset.
    #[serde(default)]
    pub request_state_key: Option<Key>,
    pub request_state_ttl_secs: u64,
}

impl McpSettings {
    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_secs)
    }

    pub fn sse_retry(&self) -> Duration {
        Duration::from_millis(self.sse_retry_ms)
    }

    pub fn subscription_poll(&self) -> Duration {
        Duration::from_millis(self.subscription_poll_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitHubSettings {
    pub api_url: String,
    pub token: Option<Secret>,
    pub max_in_flight_per_token: usize,
    /// Calls of one principal waiting for their token's turn, at most (see the gateway).
    pub max_queued_per_principal: usize,
    pub mutation_interval_ms: u64,
    pub rate_limit_wait_ms: u64,
    pub secondary_backoff_s: u64,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub get_retries: u32,
    pub retry_base_ms: u64,
    pub cache_max_entries: usize,
    pub cache_max_bytes: usize,
}

#[cfg(test)]
impl GitHubSettings {
    /// The documented defaults, for unit tests that need settings without a full load.
    pub fn test_defaults() -> Self {
        Settings::from_env(&HashMap::from([("GITHUB_TOKEN".into(), "t".into())]))
            .expect("defaults are valid")
            .github
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolSettings {
    pub body_max_chars: usize,
    pub comments_max: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub max_sessions: usize,
    pub max_sessions_per_principal: usize,
    pub max_in_flight_per_session: usize,
    pub tool_timeout_secs: u64,
    pub max_subscriptions_per_session: usize,
    /// Messages in one JSON-RPC batch (2025-03-26 sessions on `/mcp`).
    pub max_batch_messages: usize,
}

/// How clients authenticate (see `crate::auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    None,
    ApiKeys,
    #[serde(rename = "github-token")]
    GitHubToken,
}

/// Who may read `GET /metrics` (see `auth.metrics` in default.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsAccess {
    /// Whoever may use the MCP routes, authenticated the same way.
    Authenticated,
    /// Anyone who can reach the port.
    Public,
}

#[derive(Clone, Deserialize)]
pub struct AuthSettings {
    pub mode: AuthMode,
    api_keys: Secret,
    pub allow_unauthenticated_remote: bool,
    /// New GitHub tokens checked (`GET /user`) per minute for one client address, and in
    /// total; 0 lifts the limit.
    pub token_checks_per_minute_per_address: u32,
    pub token_checks_per_minute: u32,
    pub metrics: MetricsAccess,
}

impl AuthSettings {
    pub fn api_keys(&self) -> Vec<Secret> {
        self.api_keys
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(Secret::new)
            .collect()
    }
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not even masked: a list of keys is all secret.
        f.debug_struct("AuthSettings")
            .field("mode", &self.mode)
            .field(
                "api_keys",
                &format_args!("<{} keys>", self.api_keys().len()),
            )
            .field(
                "allow_unauthenticated_remote",
                &self.allow_unauthenticated_remote,
            )
            .field(
                "token_checks_per_minute_per_address",
                &self.token_checks_per_minute_per_address,
            )
            .field("token_checks_per_minute", &self.token_checks_per_minute)
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// Every setting of the server.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub sse: SseSettings,
    pub http: HttpSettings,
    pub mcp: McpSettings,
    pub github: GitHubSettings,
    pub tools: ToolSettings,
    pub auth: AuthSettings,
    /// The policy as written; [`Settings::rules`] is the same, parsed (once, at load).
    pub policy: PolicySettings,
    pub limits: LimitSettings,
    pub cluster: ClusterSettings,
    #[serde(skip)]
    rules: Arc<Policy>,
}

impl Settings {
    /// Loads the settings from the process environment.
    pub fn load() -> Result<Settings, ConfigError> {
        Self::from_env(&std::env::vars().collect())
    }

    /// Loads the settings with `env` standing in for the process environment.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let file = env.get(CONFIG_FILE_VAR);
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        // The file over the defaults, the environment over both (as default.toml says).
        if let Some(path) = file {
            builder = builder.add_source(File::new(path, FileFormat::Toml));
        }
        builder = builder.add_source(
            // Values stay strings until a setting's type asks for a number or a bool:
            // parsing them up front would turn an API key or token like `00123` into
            // the number 123, and the key as written would be refused.
            Environment::with_prefix(ENV_PREFIX)
                .separator("__")
                .source(Some(env.clone())),
        );
        // The tutorial's names, kept working and given the last word.
        for (var, key) in [
            ("HOST", "server.host"),
            ("PORT", "server.port"),
            ("GITHUB_API_URL", "github.api_url"),
            ("GITHUB_TOKEN", "github.token"),
            ("MCP_CONFORMANCE_FIXTURES", "mcp.conformance_fixtures"),
        ] {
            builder = builder.set_override_option(key, env.get(var).cloned())?;
        }
        let mut settings: Settings = builder
            .build()
            .map_err(|err| match err {
                config::ConfigError::FileParse { uri, cause } => ConfigError::FileSyntax {
                    path: file.cloned().or(uri).unwrap_or_default(),
                    problem: without_quoted_lines(&cause.to_string()),
                },
                other => ConfigError::Invalid(other),
            })?
            .try_deserialize()?;
        settings.validate()?;
        settings.rules =
            Arc::new(
                Policy::new(&settings.policy).map_err(|problem| ConfigError::OutOfRange {
                    key: "policy.repositories",
                    problem,
                })?,
            );
        Ok(settings)
    }

    /// The policy, parsed from `policy` when the settings were loaded.
    pub fn rules(&self) -> &Arc<Policy> {
        &self.rules
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let out_of_range = |key, problem: &str| {
            Err(ConfigError::OutOfRange {
                key,
                problem: problem.to_string(),
            })
        };
        if self.sse.keep_alive_ms == 0 {
            return out_of_range("sse.keep_alive_ms", "must be at least 1");
        }
        if self.sse.outbound_capacity == 0 {
            return out_of_range("sse.outbound_capacity", "must be at least 1");
        }
        if self.sse.outbound_bytes < 65536 {
            return out_of_range("sse.outbound_bytes", "must be at least 65536");
        }
        if self.mcp.replay_bytes < 1024 {
            return out_of_range("mcp.replay_bytes", "must be at least 1024");
        }
        if self.http.max_body_bytes < 1024 {
            return out_of_range("http.max_body_bytes", "must be at least 1024");
        }
        if self.http.body_timeout_ms == 0 || self.server.head_timeout_ms == 0 {
            return out_of_range(
                "http.body_timeout_ms and server.head_timeout_ms",
                "must be at least 1",
            );
        }
        if self.http.max_body_reads == 0 || self.server.max_connections == 0 {
            return out_of_range(
                "http.max_body_reads and server.max_connections",
                "must be at least 1",
            );
        }
        if self.limits.max_batch_messages == 0 {
            return out_of_range("limits.max_batch_messages", "must be at least 1");
        }
        if self.mcp.subscription_poll_ms < 10 {
            return out_of_range("mcp.subscription_poll_ms", "must be at least 10");
        }
        if self.mcp.session_idle_secs == 0 {
            return out_of_range("mcp.session_idle_secs", "must be at least 1");
        }
        if !(1..=1000).contains(&self.mcp.page_size) {
            return out_of_range("mcp.page_size", "must be between 1 and 1000");
        }
        if self.github.max_in_flight_per_token == 0 {
            return out_of_range("github.max_in_flight_per_token", "must be at least 1");
        }
        if self.github.connect_timeout_ms == 0 || self.github.request_timeout_ms == 0 {
            return out_of_range(
                "github.connect_timeout_ms and github.request_timeout_ms",
                "must be at least 1",
            );
        }
        if self.github.get_retries > 10 {
            return out_of_range("github.get_retries", "must be at most 10");
        }
        if self.tools.body_max_chars < 100 {
            return out_of_range("tools.body_max_chars", "must be at least 100");
        }
        if self.tools.comments_max == 0 {
            return out_of_range("tools.comments_max", "must be at least 1");
        }
        let url = &self.github.api_url;
        let (_, after_scheme) = url.split_once("://").unwrap_or(("", url));
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            // Not echoed: the part before the @ may be a password.
            return out_of_range(
                "github.api_url (GITHUB_API_URL)",
                "must not hold a user name or password (the part before an @); the token \
                 goes in GITHUB_TOKEN",
            );
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            // Shown unless it may hold a password (a mistyped `https:/user:pass@host`).
            let shown = if url.contains('@') {
                "a URL with an @ (not shown)".to_string()
            } else {
                format!("{url:?}")
            };
            return out_of_range(
                "github.api_url (GITHUB_API_URL)",
                &format!("must be an http:// or https:// URL, got {shown}"),
            );
        }
        let limits = &self.limits;
        if limits.max_sessions == 0 || limits.max_sessions_per_principal == 0 {
            return out_of_range(
                "limits.max_sessions and limits.max_sessions_per_principal",
                "must be at least 1",
            );
        }
        if limits.max_in_flight_per_session == 0
            || limits.tool_timeout_secs == 0
            || limits.max_subscriptions_per_session == 0
        {
            return out_of_range(
                "limits.max_in_flight_per_session, limits.tool_timeout_secs and \
                 limits.max_subscriptions_per_session",
                "must be at least 1",
            );
        }
        if let Some(key) = &self.mcp.request_state_key
            && key.expose().len() < 32
        {
            // The length only: the key itself is never shown.
            return out_of_range(
                "mcp.request_state_key (GITHUB_ISSUE_MCP__MCP__REQUEST_STATE_KEY)",
                "must be at least 32 bytes (for example 64 hex digits from a random source)",
            );
        }
        self.cluster.validate()?;
        if self.mcp.request_state_ttl_secs == 0 {
            return out_of_range("mcp.request_state_ttl_secs", "must be at least 1");
        }
        if self.auth.mode == AuthMode::ApiKeys && self.auth.api_keys().is_empty() {
            return out_of_range(
                "auth.api_keys (GITHUB_ISSUE_MCP__AUTH__API_KEYS)",
                "must list at least one key when auth.mode is api-keys",
            );
        }
        match &self.github.token {
            Some(token) if !token.expose().trim().is_empty() => Ok(()),
            // Each client brings its own token.
            _ if self.auth.mode == AuthMode::GitHubToken => Ok(()),
            _ => Err(ConfigError::MissingToken),
        }
    }
}

/// A TOML parser's message without the lines of the file that it quotes (`3 | token = x`)
/// and the marker lines under them (`  |     ^`), its other lines joined by "; ".
fn without_quoted_lines(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| {
            let gutter = line
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            !line.is_empty() && !gutter.starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_come_from_the_documented_file() {
        let settings =
            Settings::from_env(&env(&[("GITHUB_TOKEN", "ghp_abcdefghijklmnop1234")])).unwrap();
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 3001);
        assert_eq!(settings.sse.keep_alive(), Duration::from_secs(15));
        assert_eq!(settings.http.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(settings.github.api_url, "https://api.github.com");
    }

    #[test]
    fn tutorial_names_and_long_names_override_the_defaults() {
        let settings = Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "t0ken-t0ken-t0ken-t0ken"),
            ("PORT", "8080"),
            ("HOST", "0.0.0.0"),
            ("GITHUB_API_URL", "http://127.0.0.1:9/api/v3"),
            ("GITHUB_ISSUE_MCP__SSE__KEEP_ALIVE_MS", "250"),
        ]))
        .unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.server.host, "0.0.0.0");
        assert_eq!(settings.github.api_url, "http://127.0.0.1:9/api/v3");
        assert_eq!(settings.sse.keep_alive_ms, 250);
    }

    #[test]
    fn a_missing_token_says_how_to_create_one() {
        let err = Settings::from_env(&env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::MissingToken));
        assert!(err.to_string().contains("github.com/settings"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err =
            Settings::from_env(&env(&[("GITHUB_TOKEN", "x"), ("PORT", "eighty")])).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
        let err = Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "x"),
            ("GITHUB_API_URL", "ftp://x"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("github.api_url"), "{err}");
        let err = Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "x"),
            ("GITHUB_ISSUE_MCP__MCP__PAGE_SIZE", "0"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("mcp.page_size"), "{err}");
    }

    #[test]
    fn environment_values_stay_as_written_until_a_setting_wants_a_number() {
        let settings = Settings::from_env(&env(&[
            ("GITHUB_ISSUE_MCP__GITHUB__TOKEN", "00123"),
            ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
            ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", "007,1e5"),
            (
                "GITHUB_ISSUE_MCP__AUTH__ALLOW_UNAUTHENTICATED_REMOTE",
                "true",
            ),
            ("GITHUB_ISSUE_MCP__SERVER__WORKERS", "3"),
        ]))
        .unwrap();
        let token = settings.github.token.as_ref().map(Secret::expose);
        assert_eq!(token, Some("00123"));
        let keys = settings.auth.api_keys();
        let keys: Vec<&str> = keys.iter().map(Secret::expose).collect();
        assert_eq!(keys, ["007", "1e5"]);
        assert!(settings.auth.allow_unauthenticated_remote);
        assert_eq!(settings.server.workers, 3);
    }

    #[test]
    fn a_config_file_with_bad_syntax_is_named_without_quoting_its_lines() {
        let path = std::env::temp_dir().join(format!("ghim-config-{}.toml", std::process::id()));
        let secret = "ghp_SUPERSECRETTOKEN1234567890";
        std::fs::write(
            &path,
            format!("[github]\napi_url = \"https://x\"\ntoken = {secret}\n"),
        )
        .unwrap();
        let err = Settings::from_env(&env(&[("GITHUB_ISSUE_MCP_CONFIG", path.to_str().unwrap())]))
            .unwrap_err();
        std::fs::remove_file(&path).unwrap();
        let message = err.to_string();
        assert!(matches!(err, ConfigError::FileSyntax { .. }), "{message}");
        assert!(!message.contains("SUPERSECRET"), "{message}");
        assert!(message.contains(path.to_str().unwrap()), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(!format!("{err:?}").contains("SUPERSECRET"));
    }

    #[test]
    fn the_environment_wins_over_a_config_file() {
        let path = std::env::temp_dir().join(format!("ghim-order-{}.toml", std::process::id()));
        std::fs::write(&path, "[sse]\nkeep_alive_ms = 777\n").unwrap();
        let file = path.to_str().unwrap();
        let load = |pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.extend([("GITHUB_TOKEN", "x"), ("GITHUB_ISSUE_MCP_CONFIG", file)]);
            Settings::from_env(&env(&pairs)).map(|s| s.sse.keep_alive_ms)
        };
        let (from_file, from_env) = (
            load(&[]),
            load(&[("GITHUB_ISSUE_MCP__SSE__KEEP_ALIVE_MS", "5000")]),
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(from_file.unwrap(), 777);
        assert_eq!(from_env.unwrap(), 5000);
    }

    #[test]
    fn an_api_url_with_a_password_is_refused_without_showing_it() {
        let err = Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "x"),
            (
                "GITHUB_API_URL",
                "https://bot:hunter2hunter2@ghe.example/api/v3",
            ),
        ]))
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("github.api_url"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let err = Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "x"),
            (
                "GITHUB_API_URL",
                "https:/bot:hunter2hunter2@ghe.example/api/v3",
            ),
        ]))
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // An @ later in the URL is no user name.
        Settings::from_env(&env(&[
            ("GITHUB_TOKEN", "x"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3?team=@ops"),
        ]))
        .unwrap();
    }

    #[test]
    fn secrets_never_show_whole() {
        let token = Secret::new("ghp_1234567890abcdefWXYZ");
        assert_eq!(token.masked(), "ghp_…WXYZ");
        assert_eq!(format!("{token:?}"), "Secret(ghp_…WXYZ)");
        assert_eq!(Secret::new("short-secret").to_string(), "****");
        let settings =
            Settings::from_env(&env(&[("GITHUB_TOKEN", "ghp_1234567890abcdefWXYZ")])).unwrap();
        assert!(!format!("{settings:?}").contains("1234567890abcdef"));
    }
}
