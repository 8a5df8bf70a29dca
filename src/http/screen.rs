//! The middleware in front of every route ([`screen`]): it refuses a connection that came while
//! its peer had its share open (counted by `super::intake`), marks each request running on its
//! connection until the answer has been sent (for `super::watchdog`), and keeps a body that the
//! handler did not read to its end until then, so that actix closes the connection rather than
//! draining a body that may never end.

use std::{
    cell::RefCell,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
};

use actix_web::{
    Error, HttpMessage,
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    middleware::Next,
    web,
};
use futures_core::Stream;

use super::{
    ApiError,
    intake::ConnectionTicket,
    watchdog::{Running, Watch},
};

/// Middleware in front of everything. A connection that came while its peer already had
/// `server.max_connections_per_peer` open is answered 429 and closed, whatever it asks. And a
/// body the handler did not read to its end is kept until the answer has been sent: actix then
/// closes the connection after the answer. Dropped unread, a chunked body would instead be
/// drained to its end, and a client that never ends it (or a stranger refused with 401) would
/// hold the connection for as long as it liked.
pub async fn screen(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let ticket = request.conn_data::<ConnectionTicket>();
    let crowded = ticket.is_some_and(|ticket| ticket.crowded);
    // Until the answer has been sent, the connection is not stalled.
    let running = ticket.and_then(|ticket| ticket.watch.as_ref().map(Watch::running));
    if crowded {
        let limit = request
            .app_data::<web::Data<super::AppState>>()
            .map_or(0, |state| state.settings.server.max_connections_per_peer);
        let refusal = ApiError::Crowded {
            what: "connections open from your address",
            limit,
        };
        return Ok(request.error_response(refusal).map_into_right_body());
    }
    let body = match request.take_payload() {
        Payload::None => None,
        payload => {
            let shared = Rc::new(RefCell::new(Some(payload)));
            request.set_payload(Payload::Stream {
                payload: Box::pin(SharedBody(shared.clone())),
            });
            Some(shared)
        }
    };
    let response = next.call(request).await?;
    let unread = body.and_then(|body| body.borrow_mut().take());
    // actix decides whether to drain or close when the answer's body ends, so the unread body
    // rides with it until then; so does the mark that a request is running. Wrapped in place,
    // without boxing: every answer goes through here.
    Ok(response
        .map_body(|_, answer| Holding {
            answer,
            _unread: unread,
            _running: running,
        })
        .map_into_left_body())
}

/// An answer's body, holding the request's unread body and its running mark until sent.
struct Holding<B> {
    answer: B,
    _unread: Option<Payload>,
    _running: Option<Running>,
}

impl<B: MessageBody> MessageBody for Holding<B> {
    type Error = B::Error;

    fn size(&self) -> actix_web::body::BodySize {
        self.answer.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        // SAFETY: `answer` is pinned whenever `Holding` is (a structural projection): it is
        // never moved out nor handed out unpinned, and `Holding` has no `Drop` of its own.
        let answer = unsafe { self.map_unchecked_mut(|holding| &mut holding.answer) };
        answer.poll_next(cx)
    }

    /// An answer in one piece (most are) is written out at once, as actix does without this
    /// wrapper; the running mark goes with it. Not while an unread body is held: that must
    /// stay until the answer has been sent, so the answer is then streamed.
    fn try_into_bytes(self) -> Result<web::Bytes, Self> {
        if self._unread.is_some() {
            return Err(self);
        }
        let Holding {
            answer,
            _unread,
            _running,
        } = self;
        answer.try_into_bytes().map_err(|answer| Holding {
            answer,
            _unread,
            _running,
        })
    }
}

/// A request's body as the handler reads it; the body itself stays with [`screen`] until it
/// has been read to its end.
struct SharedBody(Rc<RefCell<Option<Payload>>>);

impl Stream for SharedBody {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut body = self.0.borrow_mut();
        let Some(payload) = body.as_mut() else {
            return Poll::Ready(None);
        };
        let next = Pin::new(payload).poll_next(cx);
        if let Poll::Ready(None) = next {
            // Read to its end: nothing to keep.
            *body = None;
        }
        next
    }
}
