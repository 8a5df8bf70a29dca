//! The command line of the `github-issue-mcp` binary: which command the arguments ask for, and
//! the `--help` and `--version` texts. `main` calls [`parse`] first and starts the server only
//! for [`Command::Serve`]; everything else here is text, so it can be tested without a process.
//!
//! The server itself is configured by the environment ([`crate::config`]), not by flags: the
//! help names the main variables and points at `config/default.toml`, which describes every key.

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// No arguments: run the server.
    Serve,
    /// `healthcheck`: ask the local server's `/health` and exit 0 or 1.
    Healthcheck,
    /// `--help` or `-h`.
    Help,
    /// `--version` or `-V`.
    Version,
}

/// The exit code for a command line that cannot be understood (as sysexits' and clap's).
pub const USAGE_EXIT: u8 = 2;

/// The command that `args` (without the program name) ask for, or a message saying what is
/// wrong with them. One argument at most: the server takes its settings from the environment.
pub fn parse<I>(args: I) -> Result<Command, String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut args = args.into_iter();
    let command = match args.next() {
        None => return Ok(Command::Serve),
        Some(first) => match first.as_ref() {
            "healthcheck" => Command::Healthcheck,
            "-h" | "--help" => Command::Help,
            "-V" | "--version" => Command::Version,
            flag if flag.starts_with('-') => {
                return Err(usage_error(&format!("unknown option {:?}", shown(flag))));
            }
            other => return Err(usage_error(&format!("unknown command {:?}", shown(other)))),
        },
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(usage_error(&format!(
            "unexpected argument {:?}",
            shown(extra.as_ref())
        ))),
    }
}

/// An argument as an error may show it: a mistyped `--token=ghp_...` must not put the token
/// in the logs, so only what comes before any `=` is shown, and at most 40 characters of it.
fn shown(argument: &str) -> String {
    let name = argument.split('=').next().unwrap_or_default();
    let mut shown: String = name.chars().take(40).collect();
    if shown.len() < argument.len() {
        shown.push_str("...");
    }
    shown
}

fn usage_error(problem: &str) -> String {
    format!(
        "error: {problem}\n\nUsage: {NAME} [healthcheck]\nFor more information, try '--help'.\n"
    )
}

const NAME: &str = env!("CARGO_PKG_NAME");

/// `--version`: the name and the version, one line.
pub fn version() -> String {
    format!("{NAME} {}\n", env!("CARGO_PKG_VERSION"))
}

/// `--help`: what the program is, its commands, and how to configure it.
pub fn help() -> String {
    format!(
        "{NAME} {version}
{description}.

Usage: {NAME} [COMMAND]

With no command, runs the server: MCP Streamable HTTP on /mcp, the legacy HTTP+SSE transport on
GET /sse + POST /messages, and GET /health, /ready and /metrics.

Commands:
  healthcheck    Ask the server on 127.0.0.1:$PORT for GET /health; exit 0 if it answers 200,
                 1 otherwise (for container HEALTHCHECKs)

Options:
  -h, --help     Print this help
  -V, --version  Print the version

Environment:
  GITHUB_TOKEN             The server's GitHub token (required unless auth.mode is github-token)
  HOST                     Address to bind (server.host, default 127.0.0.1)
  PORT                     TCP port (server.port, default 3001)
  GITHUB_API_URL           GitHub API base URL (github.api_url, default https://api.github.com)
  GITHUB_ISSUE_MCP_CONFIG  A TOML file of settings, layered over the defaults
  GITHUB_ISSUE_MCP__<SECTION>__<KEY>
                           Any setting, e.g. GITHUB_ISSUE_MCP__AUTH__MODE=api-keys; the short
                           names above win over these, and these over the file
  RUST_LOG                 Log filter (default info); logs go to stderr
  LOG_FORMAT=json          One JSON object per log line

Every setting, with its default and what it does, is described in config/default.toml (in the
source; its values are compiled in as the defaults).
",
        version = env!("CARGO_PKG_VERSION"),
        description = env!("CARGO_PKG_DESCRIPTION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_flags_are_recognised() {
        assert_eq!(parse([] as [&str; 0]), Ok(Command::Serve));
        assert_eq!(parse(["healthcheck"]), Ok(Command::Healthcheck));
        for help in ["-h", "--help"] {
            assert_eq!(parse([help]), Ok(Command::Help));
        }
        for version in ["-V", "--version"] {
            assert_eq!(parse([version]), Ok(Command::Version));
        }
    }

    #[test]
    fn anything_else_is_a_usage_error_naming_it() {
        let flag = parse(["--port"]).unwrap_err();
        assert!(flag.contains("unknown option \"--port\""), "{flag}");
        let word = parse(["serve"]).unwrap_err();
        assert!(word.contains("unknown command \"serve\""), "{word}");
        let extra = parse(["healthcheck", "now"]).unwrap_err();
        assert!(extra.contains("unexpected argument \"now\""), "{extra}");
        assert!(extra.contains("--help"), "points at the help: {extra}");
    }
}
