//! What a request may take from the server before its body is read: caps on open connections
//! and on bodies being read at once, per peer address and in total, and a deadline for a body.
//!
//! Handlers authenticate the caller (and find its session) before they read a body, so a
//! stranger's request costs no buffering and no JSON parsing. What is left to bound is the
//! time and memory of the bodies that are read, and the connections that hold them:
//!
//! - a connection from a peer that already has `server.max_connections_per_peer` open is
//!   answered 429 and closed at its first request ([`super::screen`]); connections in total are
//!   capped by actix (`server.max_connections`), which stops accepting beyond; a connection
//!   whose body was not read to its end is closed after its answer ([`super::screen`]);
//! - a body is read only with a place among `http.max_body_reads` at once, at most
//!   `http.max_body_reads_per_peer` of them from one address; a request waits for a place
//!   within its deadline (honest bodies take milliseconds), and is then refused (429 or 503
//!   with `Retry-After`, the connection closed);
//! - a body must arrive whole within `http.body_timeout_ms` of the request (408, closed).
//!
//! `lib.rs` counts connections (`on_connect`); the `/mcp` and `/messages` handlers read bodies
//! through [`Intake::read_body`]; [`super::screen`] refuses crowding peers' connections.

use std::{
    collections::{HashMap, hash_map::Entry},
    net::IpAddr,
    rc::Rc,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpRequest, dev::Extensions, http::header, web};
use tokio::sync::Notify;

use super::{
    ApiError,
    watchdog::{self, Watch},
};
use crate::{
    auth::address_key,
    config::{HttpSettings, ServerSettings},
};

/// actix's keep-alive for idle connections (its default, set explicitly in `lib.rs`).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// How many of something each peer address has open, and all of them together.
#[derive(Debug, Default)]
struct Counts {
    per_peer: HashMap<IpAddr, usize>,
    total: usize,
}

/// A count of things held per peer address, with caps; shared by all workers.
#[derive(Debug)]
struct Gauge {
    counts: Mutex<Counts>,
    /// Told whenever a place is given back, for those waiting for one.
    freed: Notify,
    /// 0: no cap.
    max_total: usize,
    max_per_peer: usize,
}

/// Why a [`Gauge`] let nothing more in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crowded {
    Peer,
    Total,
}

impl Gauge {
    fn new(max_total: usize, max_per_peer: usize) -> Arc<Gauge> {
        Arc::new(Gauge {
            counts: Mutex::new(Counts::default()),
            freed: Notify::new(),
            max_total,
            max_per_peer,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic elsewhere while holding the lock leaves counts that are still whole numbers.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more for `peer`, whether or not that passes a cap, and says which cap it
    /// passed. What is counted is given back when the [`Held`] drops.
    fn enter(self: &Arc<Self>, peer: IpAddr) -> (Held, Option<Crowded>) {
        let mut counts = self.lock();
        counts.total += 1;
        let total = counts.total;
        let mine = counts.per_peer.entry(peer).or_default();
        *mine += 1;
        let crowded = if self.max_per_peer > 0 && *mine > self.max_per_peer {
            Some(Crowded::Peer)
        } else if self.max_total > 0 && total > self.max_total {
            Some(Crowded::Total)
        } else {
            None
        };
        let held = Held {
            gauge: self.clone(),
            peer,
        };
        (held, crowded)
    }

    /// Counts one more for `peer` only if that stays within both caps. A refusal changes
    /// nothing (and so wakes no one waiting).
    fn try_enter(self: &Arc<Self>, peer: IpAddr) -> Result<Held, Crowded> {
        let mut counts = self.lock();
        let Counts { per_peer, total } = &mut *counts;
        // One lookup: a vacant entry that is refused is dropped without being inserted.
        let entry = per_peer.entry(peer);
        let mine = match &entry {
            Entry::Occupied(occupied) => *occupied.get(),
            Entry::Vacant(_) => 0,
        };
        if self.max_per_peer > 0 && mine >= self.max_per_peer {
            return Err(Crowded::Peer);
        }
        if self.max_total > 0 && *total >= self.max_total {
            return Err(Crowded::Total);
        }
        *total += 1;
        *entry.or_default() += 1;
        Ok(Held {
            gauge: self.clone(),
            peer,
        })
    }

    /// Counts one more for `peer` as soon as that stays within both caps.
    async fn enter_when_free(self: &Arc<Self>, peer: IpAddr) -> Held {
        loop {
            // Listening before trying, so that a place given back in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Ok(held) = self.try_enter(peer) {
                return held;
            }
            freed.await;
        }
    }
}

/// One thing counted in a [`Gauge`] for a peer; counted out on drop.
#[derive(Debug)]
struct Held {
    gauge: Arc<Gauge>,
    peer: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self.gauge.lock();
        counts.total -= 1;
        // One lookup, and the entry removed through it when it reaches 0.
        if let Entry::Occupied(mut mine) = counts.per_peer.entry(self.peer) {
            *mine.get_mut() -= 1;
            if *mine.get() == 0 {
                mine.remove();
            }
        }
        drop(counts);
        self.gauge.freed.notify_waiters();
    }
}

/// An open connection, counted for its peer while it lives (it sits in the connection's
/// extensions, which actix drops with the connection).
#[derive(Debug)]
pub struct ConnectionTicket {
    _held: Held,
    /// The peer had more connections open than allowed when this one came.
    pub(super) crowded: bool,
    /// Its requests coming and going, for the watchdog that closes stalled connections.
    pub(super) watch: Option<Rc<Watch>>,
}

/// The caps of this module, shared by every worker.
#[derive(Debug, Clone)]
pub struct Intake {
    connections: Arc<Gauge>,
    bodies: Arc<Gauge>,
    body_timeout: Duration,
    max_body_bytes: usize,
    /// A connection with nothing running for this long is closed (see `super::watchdog`).
    quiet_for: Duration,
}

impl Intake {
    pub fn new(server: &ServerSettings, http: &HttpSettings) -> Self {
        Intake {
            // The total is actix's to cap (it stops accepting), so only the peer's cap is here.
            connections: Gauge::new(0, server.max_connections_per_peer),
            bodies: Gauge::new(http.max_body_reads, http.max_body_reads_per_peer),
            body_timeout: Duration::from_millis(http.body_timeout_ms),
            max_body_bytes: http.max_body_bytes,
            // actix's own keep-alive closes a connection idle this long, when no head has
            // begun; the head's own time comes on top.
            quiet_for: KEEP_ALIVE + Duration::from_millis(server.head_timeout_ms),
        }
    }

    /// Request bodies being read now, for `/metrics`.
    pub fn bodies_reading(&self) -> usize {
        self.bodies.lock().total
    }

    /// Client connections open now, for `/metrics`.
    pub fn connections_open(&self) -> usize {
        self.connections.lock().total
    }

    /// For `HttpServer::on_connect`: counts a new TCP connection for its peer.
    pub fn on_connect(&self, connection: &dyn std::any::Any, data: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        let (held, crowded) = self.connections.enter(address_key(peer.ip()));
        data.insert(ConnectionTicket {
            _held: held,
            crowded: crowded.is_some(),
            watch: watchdog::watch(stream, peer, self.quiet_for),
        });
    }

    /// Reads the whole body under the deadline, refusing it as soon as it is known to exceed
    /// `http.max_body_bytes`. The body is read only with a place among those being read: an
    /// honest client waits a moment for one, while a peer holding its share waits until the
    /// deadline and is then refused.
    pub async fn read_body(
        &self,
        request: &HttpRequest,
        payload: web::Payload,
    ) -> Result<web::BytesMut, ApiError> {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let limit = self.max_body_bytes;
        if declared.is_some_and(|length| length > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let deadline = tokio::time::Instant::now() + self.body_timeout;
        let peer = peer_ip(request);
        let _place =
            match tokio::time::timeout_at(deadline, self.bodies.enter_when_free(peer)).await {
                Ok(place) => place,
                Err(_) => self
                    .bodies
                    .try_enter(peer)
                    .map_err(|crowded| self.refusal(crowded))?,
            };
        match tokio::time::timeout_at(deadline, read_at_most(payload, declared, limit)).await {
            Ok(body) => body,
            Err(_) => Err(ApiError::BodyTimeout {
                secs: self.body_timeout.as_secs_f64(),
            }),
        }
    }

    fn refusal(&self, crowded: Crowded) -> ApiError {
        match crowded {
            Crowded::Peer => ApiError::Crowded {
                what: "request bodies being read from your address",
                limit: self.bodies.max_per_peer,
            },
            Crowded::Total => ApiError::Busy,
        }
    }
}

async fn read_at_most(
    mut payload: web::Payload,
    declared: Option<usize>,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut payload), cx)
    })
    .await
    {
        let chunk = chunk.map_err(|err| ApiError::BodyRead(err.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The address the request's peer is counted under (IPv6: its /64, which one host usually
/// holds whole, as token checks count it); a request with none (only in unit tests) counts as
/// one unknown peer.
fn peer_ip(request: &HttpRequest) -> IpAddr {
    request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| address_key(addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn a_peer_is_capped_without_crowding_out_the_others() {
        let gauge = Gauge::new(5, 2);
        let a1 = gauge.try_enter(A).unwrap();
        let _a2 = gauge.try_enter(A).unwrap();
        assert_eq!(gauge.try_enter(A).unwrap_err(), Crowded::Peer);
        let _b1 = gauge.try_enter(B).unwrap();
        drop(a1);
        let _a3 = gauge.try_enter(A).expect("a place was given back");
        assert_eq!(gauge.lock().total, 3, "refusals hold nothing");
    }

    #[test]
    fn one_ipv6_host_is_one_peer() {
        let from = |addr: &str| {
            peer_ip(
                &actix_web::test::TestRequest::default()
                    .peer_addr(addr.parse().unwrap())
                    .to_http_request(),
            )
        };
        // A host usually holds a whole /64: its addresses share one count.
        assert_eq!(
            from("[2001:db8:1:2::1]:4000"),
            from("[2001:db8:1:2:ffff::9]:5000")
        );
        assert_ne!(
            from("[2001:db8:1:2::1]:4000"),
            from("[2001:db8:1:3::1]:4000")
        );
        assert_ne!(from("127.0.0.2:4000"), from("127.0.0.3:4000"));
    }

    #[test]
    fn the_total_is_capped_across_peers() {
        let gauge = Gauge::new(2, 0);
        let held: Vec<_> = [A, B].map(|peer| gauge.try_enter(peer).unwrap()).into();
        assert_eq!(gauge.try_enter(B).unwrap_err(), Crowded::Total);
        drop(held);
        let counts = gauge.lock();
        assert_eq!(counts.total, 0);
        assert!(
            counts.per_peer.is_empty(),
            "no entry is kept for idle peers"
        );
    }

    #[tokio::test]
    async fn a_waiting_body_gets_the_first_place_given_back() {
        let gauge = Gauge::new(1, 0);
        let first = gauge.try_enter(A).unwrap();
        let waiting = tokio::spawn({
            let gauge = gauge.clone();
            async move { gauge.enter_when_free(B).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no place yet");
        drop(first);
        let held = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken when the place was given back")
            .unwrap();
        assert_eq!(held.peer, B);
    }

    #[test]
    fn connections_are_counted_even_past_the_cap() {
        let gauge = Gauge::new(0, 1);
        let (first, crowded) = gauge.enter(A);
        assert_eq!(crowded, None);
        let (second, crowded) = gauge.enter(A);
        assert_eq!(crowded, Some(Crowded::Peer));
        drop(first);
        // The second is still open: a third is still one too many.
        assert_eq!(gauge.enter(A).1, Some(Crowded::Peer));
        drop(second);
        assert_eq!(gauge.enter(A).1, None);
    }
}
