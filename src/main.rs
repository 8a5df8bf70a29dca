//! The `github-issue-mcp` binary: logging, settings, bind, then [`github_issue_mcp::run`].

use std::{io::Write, net::TcpListener, process::ExitCode};

use github_issue_mcp::config::Settings;

fn main() -> ExitCode {
    // `github-issue-mcp healthcheck`: for container HEALTHCHECKs, no server started.
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return match github_issue_mcp::healthcheck::check(
            github_issue_mcp::healthcheck::port_from_env(),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("unhealthy: {why}");
                ExitCode::from(1)
            }
        };
    }
    serve()
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
            writeln!(out, "{line}")
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
