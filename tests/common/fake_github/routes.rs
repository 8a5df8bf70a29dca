//! The fake GitHub's HTTP layer: recording, auth, injected faults, rate-limit budgets, ETags
//! and 304s, `Link` pagination. The endpoints themselves are in `endpoints.rs`.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::Instant,
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{Fault, RecordedRequest, Shared, State, endpoints::route, epoch_ms, epoch_now};

/// GitHub's `documentation_url` where no endpoint-specific page applies.
pub(super) const DOCS: &str = "https://docs.github.com/rest";
const RATE_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting";
const SECONDARY_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// How GitHub's refusal for a spent budget begins its message, which is how the records tell
/// it from other 403s.
const SPENT: &str = "API rate limit exceeded";

/// At most this many GET answers are kept rendered; past it the memo starts over.
const MEMO_ENTRIES: usize = 10_000;

/// What a route produced, before the common headers.
pub(super) struct Answer {
    pub status: u16,
    pub body: Value,
    pub link: Option<String>,
    pub location: Option<String>,
    pub retry_after: Option<u64>,
}

pub(super) fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        link: None,
        location: None,
        retry_after: None,
    }
}

/// GitHub's error body: message, documentation_url and the status as a string.
pub(super) fn error(status: u16, message: &str, docs: &str) -> Answer {
    answer(
        status,
        json!({"message": message, "documentation_url": docs, "status": status.to_string()}),
    )
}

/// A 422 "Validation Failed" with one item in `errors`.
pub(super) fn validation(
    docs: &str,
    resource: &str,
    field: &str,
    code: &str,
    value: Option<&Value>,
) -> Answer {
    let mut item = json!({"resource": resource, "field": field, "code": code});
    if let Some(value) = value {
        item["value"] = value.clone();
    }
    answer(
        422,
        json!({"message": "Validation Failed", "errors": [item], "documentation_url": docs, "status": "422"}),
    )
}

/// Which budget a path draws on: `/search/*` has its own, as on GitHub.
fn resource_of(path: &str) -> &'static str {
    if path.starts_with("/search/") {
        "search"
    } else {
        "core"
    }
}

/// The one handler: every request comes here, is recorded, and counts as in flight until its
/// answer (latency included) is produced.
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
    let resource = resource_of(request.path());

    let (latency, decided, broken) = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let decided = decide(
            &mut state,
            &method,
            &path_and_query,
            &headers,
            &body_text,
            resource,
        );
        // The effect (if any) is applied by now; only the answer is lost.
        let broken = state
            .broken
            .as_ref()
            .is_some_and(|fault| fault.what == method)
            && Fault::take(&mut state.broken).is_some();
        let budget = state.budgets[resource];
        let rendered = &decided.rendered;
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path_and_query: path_and_query.clone(),
            headers,
            body: body_text,
            status: decided.status,
            at: Instant::now(),
            unix_ms: epoch_ms(),
            budget: (budget.remaining, budget.reset),
            retry_after: rendered.retry_after,
            budget_spent: rendered.status == 403
                && String::from_utf8_lossy(&rendered.text).contains(SPENT),
        });
        (state.latency, decided, broken)
    };
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    let response = respond(&state, decided, resource, broken);
    state.lock().unwrap().in_flight -= 1;
    response
}

/// An answer rendered to bytes once. GET answers are kept in `State::memo` until the state
/// changes, so that a benchmark's thousands of identical reads cost the fake one rendering.
#[derive(Debug)]
pub(crate) struct Rendered {
    status: u16,
    text: Bytes,
    /// Of `text`: the stable part of the ETag.
    hash: u64,
    link: Option<String>,
    location: Option<String>,
    retry_after: Option<u64>,
}

impl From<Answer> for Rendered {
    fn from(answer: Answer) -> Self {
        let text = answer.body.to_string();
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        Rendered {
            status: answer.status,
            text: Bytes::from(text),
            hash: hasher.finish(),
            link: answer.link,
            location: answer.location,
            retry_after: answer.retry_after,
        }
    }
}

/// A route's answer after the common rules: its status (a 304 where the ETag matched) and its
/// ETag when it is a 200 or 304.
struct Decided {
    rendered: Arc<Rendered>,
    status: u16,
    etag: Option<String>,
}

impl From<Answer> for Decided {
    fn from(answer: Answer) -> Self {
        let rendered = Arc::new(Rendered::from(answer));
        Decided {
            status: rendered.status,
            rendered,
            etag: None,
        }
    }
}

/// Applies auth, the injected faults and the budgets, in GitHub's order, then the route.
fn decide(
    state: &mut State,
    method: &str,
    path_and_query: &str,
    headers: &HashMap<String, String>,
    body: &str,
    resource: &'static str,
) -> Decided {
    let token = headers.get("authorization").and_then(|auth| {
        auth.strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("token "))
    });
    let Some(token) = token.filter(|token| state.tokens.contains(*token)) else {
        return error(401, "Bad credentials", DOCS).into();
    };
    let token = token.to_string();
    if let Some((retry_after, status)) = Fault::take(&mut state.secondary) {
        let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.";
        let mut answer = error(status, message, SECONDARY_DOCS);
        answer.retry_after = retry_after;
        return answer.into();
    }
    if let Some(status) = Fault::take(&mut state.failures) {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("Server Error");
        return error(status, reason, DOCS).into();
    }
    let moved = state.moves.iter().find_map(|(from, to)| {
        let rest = path_and_query.strip_prefix(from.as_str())?;
        (rest.is_empty() || rest.starts_with(['/', '?'])).then(|| format!("{to}{rest}"))
    });
    if let Some(target) = moved {
        let status = if method == "GET" { 301 } else { 307 };
        let mut redirect = answer(status, json!({"message": "Moved Permanently"}));
        redirect.location = Some(format!("{}{target}", state.base_url));
        return redirect.into();
    }
    if method == "GET" && Fault::take(&mut state.looping_pages).is_some() {
        let mut looping = route(state, method, path_and_query, body, &token);
        looping.link = Some(format!(
            "<{}{path_and_query}>; rel=\"next\"",
            state.base_url
        ));
        return looping.into();
    }
    refill_expired_budgets(state);
    // GitHub serves /rate_limit even with a spent budget, and does not charge for it.
    let free = path_and_query == "/rate_limit" || path_and_query.starts_with("/rate_limit?");
    if !free && state.budgets[resource].remaining == 0 {
        let message = format!(
            "{SPENT} for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
        );
        return answer(
            403,
            json!({"message": message, "documentation_url": RATE_LIMIT_DOCS}),
        )
        .into();
    }
    let rendered = if method == "GET" && !free {
        // A GET's answer depends only on the state, the token and the path and query.
        let key = format!("{token} {path_and_query}");
        match state.memo.get(&key) {
            Some(rendered) => rendered.clone(),
            None => {
                let rendered = Arc::new(Rendered::from(route(
                    state,
                    method,
                    path_and_query,
                    body,
                    &token,
                )));
                if state.memo.len() >= MEMO_ENTRIES {
                    state.memo.clear();
                }
                state.memo.insert(key, rendered.clone());
                rendered
            }
        }
    } else {
        state.memo.clear();
        Arc::new(Rendered::from(route(
            state,
            method,
            path_and_query,
            body,
            &token,
        )))
    };
    let etag = (method == "GET" && rendered.status == 200).then(|| {
        if state.fresh_etags {
            state.etag_serial += 1;
            format!("W/\"{:016x}{:08x}\"", rendered.hash, state.etag_serial)
        } else {
            format!("W/\"{:016x}\"", rendered.hash)
        }
    });
    let not_modified = etag
        .as_deref()
        .zip(headers.get("if-none-match"))
        .is_some_and(|(etag, sent)| matches_etag(sent, etag));
    // GitHub does not charge for a 304.
    if not_modified {
        Decided {
            status: 304,
            rendered,
            etag,
        }
    } else {
        if !free {
            state.budgets.get_mut(resource).unwrap().remaining -= 1;
        }
        Decided {
            status: rendered.status,
            rendered,
            etag,
        }
    }
}

/// A budget whose reset time has passed is full again, as on GitHub.
fn refill_expired_budgets(state: &mut State) {
    let now = epoch_now();
    let window = state.window.as_secs();
    for budget in state.budgets.values_mut() {
        if now >= budget.reset {
            budget.remaining = budget.limit;
            budget.reset = now + window;
        }
    }
}

/// `If-None-Match` may list several tags, or `*`; weak and strong forms match (RFC 9110's weak
/// comparison, which is what GET uses).
fn matches_etag(sent: &str, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    sent.split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

fn respond(state: &Shared, decided: Decided, resource: &str, broken: bool) -> HttpResponse {
    let Decided {
        rendered: answer,
        status,
        etag,
    } = decided;
    let budget = state.lock().unwrap().budgets[resource];
    let mut builder = HttpResponse::build(StatusCode::from_u16(status).unwrap());
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
    for (name, value) in [("link", &answer.link), ("location", &answer.location)] {
        if let Some(value) = value {
            builder.insert_header((name, value.as_str()));
        }
    }
    if let Some(seconds) = answer.retry_after {
        builder.insert_header(("retry-after", seconds.to_string()));
    }
    if let Some(etag) = etag {
        builder.insert_header(("etag", etag));
    }
    if status == 304 || status == 204 {
        return builder.finish();
    }
    builder.content_type("application/json; charset=utf-8");
    if broken {
        // The body stream fails before its first byte: actix gives up on the connection
        // without flushing the head it had buffered, so the client sees the connection close
        // with no answer at all, exactly like a network failure after GitHub did the work.
        let failing = futures_util::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other("connection dropped by the fake"))
        });
        return builder.streaming(failing);
    }
    builder.body(answer.text.clone())
}

/// The path and the decoded query parameters, in order.
pub(super) fn query_of(path_and_query: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
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

/// One page of `items` and GitHub's `Link` header for it, with links at `link_path`, keeping
/// the other query parameters in their order and putting `page` last, as GitHub does.
pub(super) fn paginate(
    items: Vec<Value>,
    pairs: &[(String, String)],
    base: &str,
    link_path: &str,
) -> Answer {
    let per_page = param(pairs, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
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
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
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
