//! The SSE answer to one stateless request that asked for progress or log messages: the
//! messages its handler sends, then its response, then the end of the stream. The stream owns
//! the handler's future and polls it itself, so a client that closes the stream drops the
//! future, which cancels the work. Used by `super::post` only.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use actix_web_lab::sse;
use futures_core::Stream;

use super::{answer_text, error_body, limits::Ticket};
use crate::{
    dispatch::Outcome,
    http::event_stream::message_event,
    mcp::jsonrpc::{ErrorObject, RequestId, ResultObject},
    outlet::EventReceiver,
};

/// See the module's documentation.
pub struct CallEvents {
    id: RequestId,
    /// The handler's work, until it has answered.
    work: Option<crate::call::PendingReply>,
    /// Its answer, held until the messages it sent before it are out.
    answer: Option<Result<ResultObject, ErrorObject>>,
    receiver: EventReceiver,
    done: bool,
    /// The request's place among its principal's requests in flight, given back at the end.
    _ticket: Ticket,
    counted: Counted,
}

/// Where the answer is counted, once it is out.
pub struct Counted {
    pub metrics: crate::metrics::Metrics,
    pub method: Option<crate::mcp::protocol::Method>,
    pub started: std::time::Instant,
}

impl CallEvents {
    pub fn new(
        id: RequestId,
        outcome: Outcome,
        receiver: EventReceiver,
        ticket: Ticket,
        counted: Counted,
    ) -> Self {
        let (work, answer) = match outcome {
            Outcome::Ready(answer) => (None, Some(answer)),
            Outcome::Pending(work) => (Some(work), None),
        };
        CallEvents {
            id,
            work,
            answer,
            receiver,
            done: false,
            _ticket: ticket,
            counted,
        }
    }

    fn answer_event(&self, answer: Result<ResultObject, ErrorObject>) -> sse::Event {
        let json = match answer {
            Ok(result) => answer_text(&self.id, self.counted.method, result),
            Err(error) => error_body(Some(&self.id), &error),
        };
        message_event(&json)
    }
}

impl Stream for CallEvents {
    type Item = Result<sse::Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(work) = this.work.as_mut()
            && let Poll::Ready(answer) = work.as_mut().poll(cx)
        {
            // The handler's senders go with it: what it sent is in the channel now.
            this.work = None;
            this.answer = Some(answer);
        }
        // What the handler sent before its answer goes first.
        while let Poll::Ready(Some(event)) = this.receiver.poll_recv(cx) {
            if let Some(message) = &event.message {
                return Poll::Ready(Some(Ok(message_event(&message.json))));
            }
        }
        match this.answer.take() {
            Some(answer) => {
                this.done = true;
                let Counted {
                    metrics,
                    method,
                    started,
                } = &this.counted;
                let outcome = super::outcome_of(&answer);
                metrics.stateless_request(*method, outcome, started.elapsed());
                Poll::Ready(Some(Ok(this.answer_event(answer))))
            }
            None => Poll::Pending,
        }
    }
}
