//! The `github-issue-mcp` binary: the command line ([`github_issue_mcp::cli`]), then logging,
//! settings, bind, and [`github_issue_mcp::run`].

use std::{io::Write, net::TcpListener, process::ExitCode};

use github_issue_mcp::{
    cli::{self, Command},
    config::Settings,
};

fn main() -> ExitCode {
    let args = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned());
    match cli::parse(args) {
        Ok(Command::Serve) => serve(),
        Ok(Command::Healthcheck) => healthcheck(),
        Ok(Command::Help) => {
            print!("{}", cli::help());
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            print!("{}", cli::version());
            ExitCode::SUCCESS
        }
        Err(usage) => {
            eprint!("{usage}");
            ExitCode::from(cli::USAGE_EXIT)
        }
    }
}

/// `github-issue-mcp healthcheck`: for container HEALTHCHECKs, no server started.
fn healthcheck() -> ExitCode {
    let port = github_issue_mcp::healthcheck::port_from_env();
    match github_issue_mcp::healthcheck::check(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("unhealthy: {why}");
            ExitCode::from(1)
        }
    }
}

#[actix_web::main]
async fn serve() -> ExitCode {
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // LOG_FORMAT=json: one JSON object per line, still on stderr, for log aggregation.
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        logger.format(|out, record| {
            let line = serde_json::json!({
                "ts": github_issue_mcp::time::rfc3339(std::time::SystemTime::now()),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(out, "{}", one_line(line.to_string()))
        });
    }
    logger.init();

    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::from(2);
        }
    };
    let (host, port) = (settings.server.host.clone(), settings.server.port);
    let listener = match TcpListener::bind((host.as_str(), port)) {
        Ok(listener) => listener,
        Err(err) => {
            log::error!("cannot listen on {host}:{port} (server.host / server.port): {err}");
            return ExitCode::from(1);
        }
    };
    match github_issue_mcp::run(listener, settings) {
        Ok(server) => match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                log::error!("server failed: {err}");
                ExitCode::from(1)
            }
        },
        Err(err) => {
            log::error!("cannot start the server: {err}");
            ExitCode::from(1)
        }
    }
}

/// A JSON log line with U+2028, U+2029 and U+0085 escaped. JSON allows them raw in strings,
/// but log shippers and JavaScript consumers split lines on them, and client or GitHub text in
/// a message could then forge or cut a log line. Outside strings serde_json writes only ASCII.
fn one_line(json: String) -> String {
    if !json.contains(['\u{2028}', '\u{2029}', '\u{85}']) {
        return json;
    }
    json.replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
        .replace('\u{85}', "\\u0085")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn json_log_lines_keep_no_unicode_line_separators() {
        let message = "title\u{2028}forged\u{2029}line\u{85}end";
        let line = one_line(serde_json::json!({"message": message}).to_string());
        assert!(!line.contains(['\u{2028}', '\u{2029}', '\u{85}']), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["message"], message, "still the same JSON");
    }
}
