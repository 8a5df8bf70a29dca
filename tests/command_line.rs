//! The binary's command line, run as a process: `--help` and `--version` print and exit 0
//! without starting the server (so without `GITHUB_TOKEN`), and an unknown flag or argument is
//! a usage error (exit 2) instead of a server start.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_github-issue-mcp"))
        .args(args)
        // Were the server started, it would fail on the missing token; and a test must not
        // bind a port or read a configuration file of the machine's.
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_ISSUE_MCP_CONFIG")
        .env("PORT", "1")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

#[test]
fn help_says_what_it_is_its_commands_and_its_configuration() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let help = text(&out.stdout);
        for needle in [
            "github-issue-mcp",
            "MCP",
            "healthcheck",
            "GITHUB_TOKEN",
            "HOST",
            "PORT",
            "GITHUB_API_URL",
            "GITHUB_ISSUE_MCP_CONFIG",
            "GITHUB_ISSUE_MCP__<SECTION>__<KEY>",
            "config/default.toml",
            "--version",
        ] {
            assert!(
                help.contains(needle),
                "{flag} should mention {needle}:\n{help}"
            );
        }
        assert!(
            out.stderr.is_empty(),
            "no log line: the server did not start"
        );
    }
}

#[test]
fn version_prints_name_and_version() {
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(
            text(&out.stdout),
            format!("github-issue-mcp {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn unknown_flags_and_arguments_are_usage_errors() {
    for (args, says) in [
        (&["--verbose"][..], "unknown option \"--verbose\""),
        (&["serve"][..], "unknown command \"serve\""),
        (
            &["healthcheck", "extra"][..],
            "unexpected argument \"extra\"",
        ),
        // A value typed by mistake is not echoed: it may be a secret.
        (
            &["--token=ghp_notshown"][..],
            "unknown option \"--token...\"",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?} points at the help: {err}");
        assert!(
            !err.contains("GITHUB_TOKEN"),
            "the server did not start: {err}"
        );
        assert!(out.stdout.is_empty());
        assert!(!err.contains("ghp_notshown"), "{err}");
    }
}

#[test]
fn healthcheck_still_runs_without_a_server_configuration() {
    // Nothing listens on port 1: unhealthy, exit 1, and no complaint about the token.
    let out = run(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("unhealthy:"));
}
