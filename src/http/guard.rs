//! DNS-rebinding protection and CORS, in front of every route of both transports.
//!
//! A web page can make a browser send requests to a server on the user's machine under a
//! hostname the attacker controls (DNS rebinding). So every request's `Host` must be one this
//! server is known by, and a present `Origin` one it trusts; anything else gets 403. Requests
//! without `Origin` (every non-browser client) pass the Origin check. When bound to a loopback
//! address, the defaults are the loopback names with the bound port; `server.allowed_hosts` and
//! `server.allowed_origins` replace them. Bound elsewhere without such lists, any host and
//! origin pass (put the server behind authentication: issue 5).
//!
//! Allowed browser origins also get CORS headers, so that the Inspector's in-browser "direct"
//! mode can talk to `/mcp`.

use std::net::SocketAddr;

use actix_web::{
    Error, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header},
    middleware::Next,
    web,
};

use super::{ApiError, AppState};
use crate::config::ServerSettings;

/// The request headers browsers may send: both eras' (2026-07-28 adds `Mcp-Method`,
/// `Mcp-Name` and the `Mcp-Param-*` headers a tool declares, which a preflight names and
/// [`allow_headers`] echoes). A browser client whose preflight fails takes the server for a
/// handshake-era one and silently stays on the older revision.
const ALLOW_HEADERS: &str = "content-type, mcp-session-id, mcp-protocol-version, last-event-id, \
                             authorization, mcp-method, mcp-name";
const EXPOSE_HEADERS: &str = "Mcp-Session-Id, WWW-Authenticate";
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// Which `Host` and `Origin` values are let in. `None` lets in any.
#[derive(Debug, Clone)]
pub struct OriginGuard {
    hosts: Option<Vec<String>>,
    origins: Option<Vec<String>>,
}

fn list(text: &str) -> Option<Vec<String>> {
    let items: Vec<String> = text
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

impl OriginGuard {
    pub fn new(settings: &ServerSettings, bound: SocketAddr) -> Self {
        let (hosts, origins) = (
            list(&settings.allowed_hosts),
            list(&settings.allowed_origins),
        );
        if !bound.ip().is_loopback() {
            return OriginGuard { hosts, origins };
        }
        let port = bound.port();
        let names = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        OriginGuard {
            hosts: hosts.or_else(|| Some(names.to_vec())),
            origins: origins
                .or_else(|| Some(names.iter().map(|n| format!("http://{n}")).collect())),
        }
    }

    fn allows(allowed: &Option<Vec<String>>, value: &str) -> bool {
        allowed
            .as_ref()
            .is_none_or(|list| list.iter().any(|item| item.eq_ignore_ascii_case(value)))
    }

    /// Checks `Host` (required to match when a list applies) and `Origin` (when present).
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), ApiError> {
        match host {
            Some(host) if Self::allows(&self.hosts, host) => {}
            None if self.hosts.is_none() => {}
            other => {
                return Err(ApiError::Forbidden(format!(
                    "Host {:?} is not allowed",
                    other.unwrap_or("")
                )));
            }
        }
        match origin {
            Some(origin) if !Self::allows(&self.origins, origin) => Err(ApiError::Forbidden(
                format!("Origin {origin:?} is not allowed"),
            )),
            _ => Ok(()),
        }
    }
}

fn header_str(request: &ServiceRequest, name: header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The middleware: 403 for a foreign Host or Origin, CORS for allowed origins.
pub async fn guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let origin = header_str(&request, header::ORIGIN).map(str::to_string);
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        state
            .guard
            .check(header_str(&request, header::HOST), origin.as_deref())?;
    }
    // A CORS preflight from an allowed origin.
    if request.method() == Method::OPTIONS && origin.is_some() {
        let requested = header_str(&request, header::ACCESS_CONTROL_REQUEST_HEADERS);
        let response = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                allow_headers(requested),
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish();
        let mut response = request.into_response(response).map_into_right_body();
        allow_origin(&mut response, origin.as_deref());
        return Ok(response);
    }
    let mut response = next.call(request).await?.map_into_left_body();
    allow_origin(&mut response, origin.as_deref());
    Ok(response)
}

/// [`ALLOW_HEADERS`], and the `Mcp-Param-*` names a preflight asks for (header-name
/// characters only; any other name it asks for is simply not allowed).
fn allow_headers(requested: Option<&str>) -> String {
    let params = requested
        .into_iter()
        .flat_map(|names| names.split(','))
        .filter_map(|name| {
            let name = name.trim().to_ascii_lowercase();
            let token = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
            (token && name.len() > "mcp-param-".len() && name.starts_with("mcp-param-"))
                .then_some(name)
        });
    std::iter::once(ALLOW_HEADERS.to_string())
        .chain(params)
        .collect::<Vec<_>>()
        .join(", ")
}

fn allow_origin<B>(response: &mut ServiceResponse<B>, origin: Option<&str>) {
    let Some(origin) = origin.and_then(|o| header::HeaderValue::from_str(o).ok()) else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &str, origins: &str) -> ServerSettings {
        ServerSettings {
            host: "127.0.0.1".into(),
            port: 3001,
            workers: 1,
            allowed_hosts: hosts.into(),
            allowed_origins: origins.into(),
            drain_timeout_ms: 8000,
            max_connections: 100,
            max_connections_per_peer: 10,
            head_timeout_ms: 5000,
        }
    }

    #[test]
    fn loopback_defaults_allow_loopback_names_with_the_port() {
        let guard = OriginGuard::new(&settings("", ""), "127.0.0.1:3001".parse().unwrap());
        assert!(guard.check(Some("127.0.0.1:3001"), None).is_ok());
        assert!(
            guard
                .check(Some("localhost:3001"), Some("http://localhost:3001"))
                .is_ok()
        );
        assert!(guard.check(Some("evil.example.com"), None).is_err());
        assert!(guard.check(Some("localhost:3002"), None).is_err());
        assert!(
            guard
                .check(Some("127.0.0.1:3001"), Some("http://evil.example.com"))
                .is_err()
        );
        assert!(guard.check(None, None).is_err(), "HTTP/1.1 requires Host");
    }

    #[test]
    fn a_preflight_may_name_both_eras_headers_and_declared_params() {
        let allowed = allow_headers(Some(
            "Mcp-Method, mcp-name, Mcp-Param-Region, x-evil, mcp-param-",
        ));
        for name in [
            "mcp-method",
            "mcp-name",
            "mcp-protocol-version",
            "mcp-session-id",
            "mcp-param-region",
        ] {
            assert!(
                allowed.split(", ").any(|a| a == name),
                "{name} in {allowed}"
            );
        }
        assert!(
            !allowed.contains("x-evil") && !allowed.ends_with("mcp-param-"),
            "{allowed}"
        );
        assert_eq!(allow_headers(None), ALLOW_HEADERS);
    }

    #[test]
    fn configured_lists_replace_the_defaults_and_open_binding_allows_any() {
        let guard = OriginGuard::new(
            &settings("mcp.example.com", "https://app.example.com"),
            "0.0.0.0:3001".parse().unwrap(),
        );
        assert!(
            guard
                .check(Some("MCP.example.com"), Some("https://app.example.com"))
                .is_ok()
        );
        assert!(guard.check(Some("127.0.0.1:3001"), None).is_err());
        let open = OriginGuard::new(&settings("", ""), "0.0.0.0:3001".parse().unwrap());
        assert!(
            open.check(Some("anything:1"), Some("https://anywhere"))
                .is_ok()
        );
    }
}
