//! The fake GitHub's HTTP layer: recording, auth, injected faults, rate-limit budgets, ETags
//! and 304s, `Link` pagination. The endpoints themselves are in `endpoints.rs`.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    time::Instant,
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{RecordedRequest, Shared, State, endpoints::route};

pub(super) const DOCS: &str = "https://docs.github.com/rest";

/// What a route produced, before the common headers.
pub(super) struct Answer {
    pub status: u16,
    pub body: Value,
    pub link: Option<String>,
    pub retry_after: Option<u64>,
}

pub(super) fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        link: None,
        retry_after: None,
    }
}

pub(super) fn error(status: u16, message: &str) -> Answer {
    answer(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

pub(super) fn validation(resource: &str, field: &str, code: &str, value: Option<&Value>) -> Answer {
    let mut item = json!({"resource": resource, "field": field, "code": code});
    if let Some(value) = value {
        item["value"] = value.clone();
    }
    answer(
        422,
        json!({"message": "Validation Failed", "errors": [item], "documentation_url": DOCS, "status": "422"}),
    )
}

pub async fn serve(request: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let method = request.method().as_str().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default().to_string();
            (name.as_str().to_lowercase(), value)
        })
        .collect();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let resource = if request.path().starts_with("/search/") {
        "search"
    } else {
        "core"
    };

    let (latency, answer, broken) = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let answer = decide(
            &mut state,
            &method,
            &path_and_query,
            &headers,
            &body_text,
            resource,
        );
        let broken = match &mut state.broken {
            Some((m, times)) if *m == method && *times > 0 => {
                *times -= 1;
                true
            }
            _ => false,
        };
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path_and_query: path_and_query.clone(),
            headers: headers.clone(),
            body: body_text,
            status: answer.0.status,
            at: Instant::now(),
        });
        (state.latency, answer, broken)
    };
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    let response = respond(&state, answer, resource, broken);
    state.lock().unwrap().in_flight -= 1;
    response
}

/// The answer and the ETag-matching verdict, applying the injected faults and budgets.
fn decide(
    state: &mut State,
    method: &str,
    path_and_query: &str,
    headers: &HashMap<String, String>,
    body: &str,
    resource: &'static str,
) -> (Answer, bool) {
    let token = headers.get("authorization").and_then(|auth| {
        auth.strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("token "))
    });
    let Some(token) = token.filter(|token| state.tokens.contains(*token)) else {
        return (error(401, "Bad credentials"), false);
    };
    let token = token.to_string();
    if let Some((retry_after, status, times)) = state.secondary.as_mut().filter(|s| s.2 > 0) {
        *times -= 1;
        let mut answer = error(
            *status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        answer.retry_after = *retry_after;
        return (answer, false);
    }
    if let Some((status, times)) = state.failures.as_mut().filter(|f| f.1 > 0) {
        *times -= 1;
        let status = *status;
        return (error(status, "Server Error"), false);
    }
    let budget = state.budgets[resource];
    if budget.remaining == 0 {
        return (
            error(
                403,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
            ),
            false,
        );
    }
    let answer = route(state, method, path_and_query, body, &token);
    let etag = etag_of(&answer.body);
    let not_modified = method == "GET"
        && answer.status == 200
        && headers
            .get("if-none-match")
            .is_some_and(|sent| *sent == etag);
    if !not_modified {
        let budget = state.budgets.get_mut(resource).unwrap();
        budget.remaining -= 1;
    }
    let status = if not_modified { 304 } else { answer.status };
    (Answer { status, ..answer }, not_modified)
}

fn etag_of(body: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    format!("W/\"{:016x}\"", hasher.finish())
}

fn respond(
    state: &Shared,
    (answer, not_modified): (Answer, bool),
    resource: &str,
    broken: bool,
) -> HttpResponse {
    let budget = state.lock().unwrap().budgets[resource];
    let mut builder = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap());
    builder
        .insert_header(("x-ratelimit-limit", budget.limit.to_string()))
        .insert_header(("x-ratelimit-remaining", budget.remaining.to_string()))
        .insert_header((
            "x-ratelimit-used",
            (budget.limit - budget.remaining).to_string(),
        ))
        .insert_header(("x-ratelimit-reset", budget.reset.to_string()))
        .insert_header(("x-ratelimit-resource", resource))
        .insert_header(("x-github-api-version-selected", "2022-11-28"));
    if let Some(link) = &answer.link {
        builder.insert_header(("link", link.as_str()));
    }
    if let Some(seconds) = answer.retry_after {
        builder.insert_header(("retry-after", seconds.to_string()));
    }
    if answer.status == 200 {
        builder.insert_header(("etag", etag_of(&answer.body)));
    }
    if not_modified || answer.status == 204 {
        return builder.finish();
    }
    builder.content_type("application/json; charset=utf-8");
    let text = answer.body.to_string();
    if broken {
        // Promise more than is sent, then fail the stream: the connection breaks mid-answer.
        let half = Bytes::from(text[..text.len() / 2].to_string());
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::other("connection dropped by the fake")),
        ];
        builder.insert_header(("content-length", text.len().to_string()));
        return builder.streaming(futures_util::stream::iter(chunks));
    }
    builder.body(text)
}

pub(super) fn query_of(path_and_query: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_string(), decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One page of `items` and GitHub's `Link` header for it, with links at `link_path`.
pub(super) fn paginate(
    items: Vec<Value>,
    pairs: &[(String, String)],
    base: &str,
    link_path: &str,
    default_per_page: usize,
) -> Answer {
    let per_page = param(pairs, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(default_per_page)
        .clamp(1, 100);
    let page = param(pairs, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = |n: usize| {
        let mut query = kept.clone();
        query.push(format!("page={n}"));
        format!("<{base}{link_path}?{}>", query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page.min(last + 1) - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    Answer {
        link: (!links.is_empty()).then(|| links.join(", ")),
        ..answer(200, Value::Array(body))
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
