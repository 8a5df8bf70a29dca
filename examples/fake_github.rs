//! The tests' fake GitHub (tests/common/fake_github.rs) as a process of its own. The cluster
//! test (tests/cluster_clients.rs) runs it beside the replicas, as GitHub is beside them in
//! production, and reads back over HTTP what it saw. A developer can point the server at it
//! to try every tool offline:
//!
//! ```text
//! cargo run --example fake_github -- --port 8090 --two-issues
//! GITHUB_TOKEN=ghp_testtokentesttokentest GITHUB_API_URL=http://127.0.0.1:8090 cargo run
//! ```
//!
//! It prints one line of JSON, `{"api": URL, "control": URL}`, then serves until it is killed.
//! The API accepts the tokens given with `--token` (the tests' token when none is); its rate-
//! limit windows last an hour, as GitHub's, or `--window-s` seconds. The control
//! URL, on a port of its own so the API stays GitHub's, offers the fake's seeding and
//! inspection API as JSON:
//! - `GET /requests`: every request the API served, in order, with the token it carried, its
//!   status, arrival (Unix ms), the budget and `retry-after` it was answered with, and whether
//!   it was refused for a spent budget;
//! - `GET /issues/{owner}/{repo}/{number}`: an issue as it is now;
//! - `POST /repos` `{owner, repo}`, `POST /comments` `{owner, repo, number, user, body}`;
//! - `POST /rate-limit` `{resource, remaining, reset_in_s}`, `POST /secondary-limit`
//!   `{retry_after, status, times}`, `POST /revoke` `{token}`.

#[allow(dead_code)] // the control API uses part of the fake's seeding API
#[path = "../tests/common/fake_github.rs"]
mod fake_github;

use std::{io::Write, net::TcpListener, time::Duration};

use actix_web::{
    App, HttpResponse, HttpServer,
    error::{ErrorBadRequest, ErrorNotFound},
    web,
};
use fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN};
use serde_json::{Value, json};

const USAGE: &str =
    "usage: fake_github [--port N] [--token TOKEN]... [--two-issues] [--window-s SECONDS]";

/// What the command line asked for.
struct Options {
    port: u16,
    tokens: Vec<String>,
    two_issues: bool,
    /// Rate-limit windows this long, not GitHub's hour.
    window: Option<Duration>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 0,
            tokens: Vec::new(),
            two_issues: false,
            window: None,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => {
                    let port = args.next().ok_or("--port needs a number")?;
                    options.port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
                }
                "--token" => options
                    .tokens
                    .push(args.next().ok_or("--token needs a value")?),
                "--two-issues" => options.two_issues = true,
                "--window-s" => {
                    let seconds = args.next().ok_or("--window-s needs a number")?;
                    let seconds = seconds
                        .parse()
                        .map_err(|_| format!("bad window {seconds:?}"))?;
                    options.window = Some(Duration::from_secs(seconds));
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if options.tokens.is_empty() {
            options.tokens.push(TEST_TOKEN.to_string());
        }
        Ok(options)
    }
}

fn main() -> std::io::Result<()> {
    let options = Options::parse(std::env::args().skip(1)).unwrap_or_else(|problem| {
        eprintln!("{problem}\n{USAGE}");
        std::process::exit(2)
    });
    let tokens: Vec<&str> = options.tokens.iter().map(String::as_str).collect();
    let api = TcpListener::bind(("127.0.0.1", options.port))?;
    let fake = FakeGitHub::start_on(api, &tokens);
    if options.two_issues {
        seed_two_issues(&fake);
    }
    if let Some(window) = options.window {
        fake.set_window(window);
    }
    let control = TcpListener::bind("127.0.0.1:0")?;
    let line = json!({
        "api": fake.base_url,
        "control": format!("http://{}", control.local_addr()?),
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;

    let fake = web::Data::new(fake);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(fake.clone())
                .route("/requests", web::get().to(requests))
                .route("/issues/{owner}/{repo}/{number}", web::get().to(issue))
                .route("/repos", web::post().to(add_repo))
                .route("/comments", web::post().to(add_comment))
                .route("/rate-limit", web::post().to(rate_limit))
                .route("/secondary-limit", web::post().to(secondary_limit))
                .route("/revoke", web::post().to(revoke))
        })
        .workers(1)
        .listen(control)?
        .run()
        .await
    })
}

/// octo/hello with #1 "Crash on start" and #2 "Dark mode", as `FakeGitHub::with_two_issues`.
fn seed_two_issues(fake: &FakeGitHub) {
    fake.add_repo("octo", "hello");
    for (title, body) in [
        ("Crash on start", "Steps to reproduce"),
        ("Dark mode", "Please"),
    ] {
        let seed = IssueSeed {
            title: title.into(),
            body: Some(body.into()),
            ..IssueSeed::default()
        };
        fake.add_issue("octo", "hello", seed);
    }
}

type Fake = web::Data<FakeGitHub>;
type Answer = actix_web::Result<web::Json<Value>>;

/// A control request's string field `name`, or a 400 saying it is missing.
fn text<'a>(fields: &'a Value, name: &str) -> actix_web::Result<&'a str> {
    fields[name]
        .as_str()
        .ok_or_else(|| ErrorBadRequest(format!("{name}: a string is needed")))
}

/// A control request's number field `name`, or a 400 saying it is missing.
fn number(fields: &Value, name: &str) -> actix_web::Result<u64> {
    fields[name]
        .as_u64()
        .ok_or_else(|| ErrorBadRequest(format!("{name}: a number is needed")))
}

async fn requests(fake: Fake) -> HttpResponse {
    let seen: Vec<Value> = fake
        .requests()
        .into_iter()
        .map(|request| {
            let token = request.headers.get("authorization").map(|auth| {
                let scheme = auth.find(' ').map_or(0, |space| space + 1);
                auth[scheme..].to_string()
            });
            json!({
                "method": request.method,
                "path": request.path_and_query,
                "token": token,
                "status": request.status,
                "unix_ms": request.unix_ms,
                "remaining": request.budget.0,
                "reset": request.budget.1,
                "retry_after": request.retry_after,
                "budget_spent": request.budget_spent,
            })
        })
        .collect();
    HttpResponse::Ok().json(seen)
}

async fn issue(fake: Fake, path: web::Path<(String, String, u64)>) -> Answer {
    let (owner, repo, number) = path.into_inner();
    let issue = fake.issue(&owner, &repo, number);
    Ok(web::Json(
        issue.ok_or_else(|| ErrorNotFound("no such issue"))?,
    ))
}

async fn add_repo(fake: Fake, fields: web::Json<Value>) -> Answer {
    let id = fake.add_repo(text(&fields, "owner")?, text(&fields, "repo")?);
    Ok(web::Json(json!({"id": id})))
}

async fn add_comment(fake: Fake, fields: web::Json<Value>) -> Answer {
    let (owner, repo) = (text(&fields, "owner")?, text(&fields, "repo")?);
    let number = number(&fields, "number")?;
    if fake.issue(owner, repo, number).is_none() {
        return Err(ErrorBadRequest("no such issue"));
    }
    let (user, body) = (text(&fields, "user")?, text(&fields, "body")?);
    let id = fake.add_comment(owner, repo, number, user, body);
    Ok(web::Json(json!({"id": id})))
}

async fn rate_limit(fake: Fake, fields: web::Json<Value>) -> Answer {
    let resource = text(&fields, "resource")?;
    let reset_in = Duration::from_secs(number(&fields, "reset_in_s")?);
    fake.set_rate_limit(resource, number(&fields, "remaining")?, reset_in);
    Ok(web::Json(json!({})))
}

async fn secondary_limit(fake: Fake, fields: web::Json<Value>) -> Answer {
    let retry_after = fields["retry_after"].as_u64();
    let status = u16::try_from(number(&fields, "status")?).map_err(ErrorBadRequest)?;
    let times = usize::try_from(number(&fields, "times")?).map_err(ErrorBadRequest)?;
    fake.set_secondary_limit(retry_after, status, times);
    Ok(web::Json(json!({})))
}

async fn revoke(fake: Fake, fields: web::Json<Value>) -> Answer {
    fake.revoke_token(text(&fields, "token")?);
    Ok(web::Json(json!({})))
}
