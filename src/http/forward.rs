//! Requests for a session another replica owns, forwarded to that replica over HTTP.
//!
//! With `cluster.redis_url` set, a session stays on the replica that opened it, and its id
//! names that replica (`actors::SessionId::owner`). A request that reaches another replica
//! (the load balancer has no affinity) is authenticated and its body read here, under this
//! replica's limits, then sent on to the owner as it came: same method, path, headers and
//! body. The owner serves it with its ordinary handlers, authenticating the caller again (it
//! trusts no other replica), and its answer, JSON or an event stream, is relayed back as it
//! comes, byte for byte. Every transport rule, stream resumption (`Last-Event-ID`), client
//! reply and cancellation therefore works unchanged, and when the client goes away the relay
//! drops its connection to the owner, which sees its client go.
//!
//! Forwarding over HTTP rather than through Redis keeps each stream on one TCP connection,
//! in order and with back-pressure, with nothing to sequence, acknowledge or replay; Redis
//! only says where each replica listens (`crate::cluster`). The replicas must reach one
//! another (pods in Kubernetes, services in compose).
//!
//! A forwarded request carries [`FORWARDED_BY`] (signed with the cluster's secret), and is
//! never forwarded again: an owner that no longer has the session answers 404 itself. The
//! owner takes the client's address from it, so that an anonymous caller is the same
//! principal through any replica. A client's own such header is dropped here and, unsigned,
//! means nothing anywhere.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{HeaderName, HeaderValue},
    },
};
use bytes::Bytes;
use futures_core::Stream;

use super::{ApiError, AppState};
use crate::auth::{hop_binding, verified_hop};
use crate::{
    actors::SessionId,
    cluster::{Cluster, FORWARDED_BY, ForwardFailure, Instance, Peer},
};

/// Time to connect to another replica: they are on one network, so a connection that takes
/// longer is to a replica that is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Below the other replica's keep-alive (`super::intake::KEEP_ALIVE`), so that a pooled
/// connection is never reused just as the other side closes it.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1), or that the
/// client library sets itself; [`FORWARDED_BY`] is set anew.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    // The body was read here already: nothing is left to continue.
    "expect",
    FORWARDED_BY,
];

/// The header names a message's `Connection` header values list: that connection's own.
fn connection_tokens<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a str> {
    values
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect()
}

/// Whether header `name` goes on to the other side: not a connection's own, whether listed
/// above or named by the message's `Connection` header (`connection`, its tokens).
fn end_to_end(name: &str, connection: &[&str]) -> bool {
    !(NOT_FORWARDED.contains(&name) || connection.iter().any(|hop| hop.eq_ignore_ascii_case(name)))
}

/// The forwarder and the session's owner, when the request naming session `raw` (as the
/// client sent it) must be forwarded; `None` on one process, for ids that do not parse (the
/// caller answers those), and for this replica's own sessions.
pub fn elsewhere<'a>(
    state: &'a AppState,
    request: &HttpRequest,
    raw: &str,
) -> Option<(&'a Forwarder, Instance)> {
    let forwarder = state.forwarder.as_ref()?;
    let id: SessionId = raw.parse().ok()?;
    Some((forwarder, forwarder.owner_elsewhere(request, &id)?))
}

/// Sends requests on to other replicas; one per server, shared by the workers.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    cluster: Cluster,
    /// Longest the owner may take to start answering. It starts answering a tool call at
    /// once (as a stream); only an answer that waits for GitHub comes later, and never later
    /// than the tool timeout.
    answer_within: Duration,
    /// Longest a relayed answer may go without a byte: the owner writes a keep-alive comment
    /// on idle streams, so a silence longer than that is an owner that hangs.
    silent_for: Duration,
}

impl Forwarder {
    pub fn new(
        cluster: Cluster,
        answer_within: Duration,
        silent_for: Duration,
    ) -> Result<Forwarder, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE)
            .tcp_nodelay(true)
            // What the owner answers is the client's answer, redirects included.
            .redirect(reqwest::redirect::Policy::none())
            // Another replica is reached directly, never through the environment's proxy.
            .no_proxy()
            .http1_only()
            .build()?;
        Ok(Forwarder {
            client,
            cluster,
            answer_within,
            silent_for,
        })
    }

    /// The replica that owns session `id`, when this request must go there: the session is
    /// another replica's, and the request was not forwarded here already. Counts a request
    /// that was.
    pub fn owner_elsewhere(&self, request: &HttpRequest, id: &SessionId) -> Option<Instance> {
        let me = self.cluster.instance()?;
        if verified_hop(&self.cluster, request).is_some() {
            self.cluster.forwarded_in();
            return None;
        }
        id.owner().filter(|owner| *owner != me)
    }

    /// Sends the request (with `body`, already read) to `owner`, and relays its answer.
    /// `unknown` is the error for a session that is gone.
    pub async fn forward(
        &self,
        request: &HttpRequest,
        body: Option<Bytes>,
        owner: Instance,
        unknown: ApiError,
    ) -> Result<HttpResponse, ApiError> {
        let answer = match self.send(request, body, owner).await {
            Ok(upstream) => relay(upstream, self.silent_for).await,
            Err(failure) => Err(failure),
        };
        self.cluster.forwarded_out(answer.as_ref().err().copied());
        match answer {
            Ok(response) => Ok(response),
            Err(ForwardFailure::Gone) => Err(unknown),
            Err(ForwardFailure::Unreachable) => Err(ApiError::OwnerUnreachable),
        }
    }

    async fn send(
        &self,
        request: &HttpRequest,
        body: Option<Bytes>,
        owner: Instance,
    ) -> Result<reqwest::Response, ForwardFailure> {
        let base = match self.cluster.peer(owner).await {
            Peer::At(url) => url,
            Peer::Gone => return Err(ForwardFailure::Gone),
            Peer::Unreachable => return Err(ForwardFailure::Unreachable),
        };
        let target = request
            .uri()
            .path_and_query()
            .map_or(request.path(), |path| path.as_str());
        let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
            .map_err(|_| ForwardFailure::Unreachable)?;
        let mut outgoing = self
            .client
            .request(method, format!("{}{target}", base.trim_end_matches('/')));
        let headers = request.headers();
        let connection = connection_tokens(headers.get_all("connection").map(|v| v.as_bytes()));
        for (name, value) in headers {
            if end_to_end(name.as_str(), &connection) {
                outgoing = outgoing.header(name.as_str(), value.as_bytes());
            }
        }
        // The client's address as this replica saw it: the owner's principal for an
        // anonymous caller, and its per-address limits, must be the client's, not ours.
        let client = request.peer_addr().map(|addr| addr.ip());
        if let Some(hop) = self.cluster.hop(client, &hop_binding(request)) {
            outgoing = outgoing.header(FORWARDED_BY, hop);
        }
        if let Some(body) = body {
            outgoing = outgoing.body(body);
        }
        let sent = tokio::time::timeout(self.answer_within, outgoing.send()).await;
        let Ok(sent) = sent else {
            log::warn!("cluster: replica {owner} did not start answering a forwarded request");
            return Err(ForwardFailure::Unreachable);
        };
        sent.map_err(|err| {
            // Refused: nothing listens where the owner was, so it is gone with its sessions.
            // Anything else (a timeout, a reset) may pass: the client may try again.
            if err.is_connect() && !err.is_timeout() {
                ForwardFailure::Gone
            } else {
                log::warn!("cluster: replica {owner} did not answer a forwarded request: {err}");
                ForwardFailure::Unreachable
            }
        })
    }
}

/// The owner's answer as this replica's: status, end-to-end headers, and the body, streamed
/// as it comes when it is an event stream. `Unreachable` when the owner went silent or away
/// before the whole of a (non-stream) body arrived.
async fn relay(
    upstream: reqwest::Response,
    silent_for: Duration,
) -> Result<HttpResponse, ForwardFailure> {
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    let connection = connection_tokens(
        upstream
            .headers()
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes()),
    );
    for (name, value) in upstream.headers() {
        if !end_to_end(name.as_str(), &connection) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.append_header((name, value));
        }
    }
    let streamed = upstream
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/event-stream"));
    if streamed {
        let relayed = Relayed {
            upstream: Box::pin(upstream.bytes_stream()),
            silence: Box::pin(tokio::time::sleep(silent_for)),
            silent_for,
        };
        return Ok(response.streaming(relayed));
    }
    match tokio::time::timeout(silent_for, upstream.bytes()).await {
        Ok(Ok(body)) => Ok(response.body(body)),
        // The owner went away mid-answer: the client sees a failed request, not a cut body.
        _ => Err(ForwardFailure::Unreachable),
    }
}

/// An owner's event stream, relayed. If the owner goes away mid-stream (killed, say), or
/// stays silent past its keep-alives (hung), the relayed stream just ends, as the owner's
/// own would have for a client connected to it: passed on, an error would only be logged by
/// actix as a failure of this replica's.
struct Relayed {
    upstream: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>>>>,
    /// Ends the stream when it fires; pushed back by every chunk.
    silence: Pin<Box<tokio::time::Sleep>>,
    silent_for: Duration,
}

impl Stream for Relayed {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let until = tokio::time::Instant::now() + self.silent_for;
                self.silence.as_mut().reset(until);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                log::debug!("cluster: a relayed stream ended early: {err}");
                Poll::Ready(None)
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.silence.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    log::warn!("cluster: a relayed stream went silent; ending it");
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connections_own_headers_stay_behind() {
        let values: [&[u8]; 2] = [b"keep-alive, X-Hop-Secret", b"close"];
        let connection = connection_tokens(values.into_iter());
        assert!(
            !end_to_end("x-hop-secret", &connection),
            "named by Connection"
        );
        assert!(!end_to_end("transfer-encoding", &connection));
        assert!(
            !end_to_end("expect", &connection),
            "the body was read already"
        );
        assert!(
            !end_to_end(FORWARDED_BY, &connection),
            "set anew, never passed on"
        );
        for kept in [
            "authorization",
            "mcp-session-id",
            "last-event-id",
            "content-type",
        ] {
            assert!(end_to_end(kept, &connection), "{kept}");
        }
    }
}
