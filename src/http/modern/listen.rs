//! `subscriptions/listen`: a stream of the changes a stateless client asked to hear of
//! (docs/mcp-2026-07-28.md §6). The first message is the acknowledgement, naming the part of
//! the filter this server honours; then every `notifications/*/list_changed` the filter asks
//! for, each tagged with the listen request's id; keep-alive comments while quiet. The
//! stream holds no state beyond itself: it ends when the client closes it (its task sees the
//! channel close), and when the server drains, with the listen request's result. Used by
//! `super::post` only.
//!
//! `resourceSubscriptions` are watched by the server's `ResourceWatcher` actor
//! (`crate::actors::watcher`): the acknowledgement names those it watches (resources this
//! server can read, at most `limits.max_subscriptions_per_session`), and their
//! `notifications/resources/updated` come on this stream.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll, ready},
};

use actix::Addr;
use actix_web::HttpResponse;
use actix_web_lab::sse;
use futures_core::Stream;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{Refusal, limits::Ticket};
use crate::{
    actors::watcher::{ResourceWatcher, Unwatch, Watch},
    auth::Principal,
    dispatch::Dispatcher,
    draining::Draining,
    features::Change,
    http::event_stream,
    mcp::{
        envelope::SUBSCRIPTION_ID,
        jsonrpc::{Message, Notification, RequestId},
        protocol::parse_params,
    },
    outlet::{self, EventReceiver, Outlet},
};

#[derive(Deserialize)]
struct ListenParams {
    notifications: Filter,
}

/// What a listener asked to hear of; members this server does not know are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    tools_list_changed: bool,
    #[serde(default)]
    prompts_list_changed: bool,
    #[serde(default)]
    resources_list_changed: bool,
    /// Resources to hear of changes to (`notifications/resources/updated`).
    #[serde(default)]
    resource_subscriptions: Vec<String>,
}

impl Filter {
    fn wants(&self, change: Change) -> bool {
        match change {
            Change::ToolsList => self.tools_list_changed,
            Change::PromptsList => self.prompts_list_changed,
            Change::ResourcesList => self.resources_list_changed,
        }
    }

    /// The acknowledged filter: what will be delivered (of the resources, those watched).
    fn honoured(&self, watched: &[String]) -> Value {
        let mut honoured = Map::new();
        for (key, on) in [
            ("toolsListChanged", self.tools_list_changed),
            ("promptsListChanged", self.prompts_list_changed),
            ("resourcesListChanged", self.resources_list_changed),
        ] {
            if on {
                honoured.insert(key.into(), Value::Bool(true));
            }
        }
        if !watched.is_empty() {
            honoured.insert("resourceSubscriptions".into(), json!(watched));
        }
        Value::Object(honoured)
    }
}

fn method_of(change: Change) -> &'static str {
    match change {
        Change::ToolsList => "notifications/tools/list_changed",
        Change::PromptsList => "notifications/prompts/list_changed",
        Change::ResourcesList => "notifications/resources/list_changed",
    }
}

/// What a listen stream needs from the server.
pub struct Listening<'a> {
    pub principal: Principal,
    pub dispatcher: &'a Dispatcher,
    pub watcher: Addr<ResourceWatcher>,
    pub draining: &'a Draining,
    pub settings: &'a crate::config::Settings,
}

/// The listen request's id as JSON, with its type.
fn id_value(id: &RequestId) -> Value {
    serde_json::to_value(id).unwrap_or(Value::Null)
}

/// Stops the watcher's reads for a listener when its stream's task ends, however it ends.
struct Unwatching(Option<(Addr<ResourceWatcher>, u64)>);

impl Drop for Unwatching {
    fn drop(&mut self) {
        if let Some((watcher, id)) = self.0.take() {
            watcher.do_send(Unwatch(id));
        }
    }
}

/// Opens a listen stream for request `id` with `params`.
pub fn open(
    id: RequestId,
    params: Option<Value>,
    server: Listening<'_>,
    tickets: [Ticket; 2],
) -> Result<HttpResponse, Refusal> {
    let ListenParams { notifications } = parse_params("subscriptions/listen", params)
        .map_err(|err| Refusal::new(actix_web::http::StatusCode::OK, &Some(id.clone()), err))?;
    let sse = &server.settings.sse;
    let (sender, receiver) = outlet::channel(sse.outbound_capacity, sse.outbound_bytes);
    let outlet = Outlet::plain(sender.clone());
    let tag = json!({SUBSCRIPTION_ID: id});
    // Resources this server can read, each once, as many as a session may subscribe to.
    let mut watched: Vec<String> = Vec::new();
    for uri in &notifications.resource_subscriptions {
        if watched.len() < server.settings.limits.max_subscriptions_per_session
            && !watched.contains(uri)
            && server.dispatcher.can_read(uri)
        {
            watched.push(uri.clone());
        }
    }
    let ack = json!({"_meta": tag, "notifications": notifications.honoured(&watched)});
    outlet.send(Message::Notification(Notification::new(
        "notifications/subscriptions/acknowledged",
        Some(ack),
    )));
    let mut changes = server.dispatcher.changes().listen();
    let draining = server.draining.clone();
    let watcher = server.watcher;
    let watch = (!watched.is_empty()).then(|| Watch {
        principal: server.principal,
        uris: watched,
        outlet: outlet.clone(),
        subscription: id_value(&id),
    });
    actix_web::rt::spawn(async move {
        // Held for the stream's life: it counts among its principal's requests and streams.
        let _tickets = tickets;
        let listener = match watch {
            Some(watch) => watcher.send(watch).await.ok(),
            None => None,
        };
        let _unwatch = Unwatching(listener.map(|id| (watcher, id)));
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                () = sender.closed() => return,
                () = draining.started() => break,
            };
            let changed: Vec<Change> = match change {
                Ok(change) => vec![change],
                // Missed some: say every list it listens to may have changed.
                Err(RecvError::Lagged(_)) => {
                    vec![
                        Change::ToolsList,
                        Change::PromptsList,
                        Change::ResourcesList,
                    ]
                }
                Err(RecvError::Closed) => break,
            };
            for change in changed.into_iter().filter(|c| notifications.wants(*c)) {
                let params = json!({"_meta": tag});
                outlet.send(Message::Notification(Notification::new(
                    method_of(change),
                    Some(params),
                )));
            }
        }
        // The server ends the stream: the listen request's result, then the end.
        let result = json!({"resultType": "complete", "_meta": tag});
        let Value::Object(result) = result else {
            unreachable!("json! object literal")
        };
        outlet.answer(Message::response(id, result));
    });
    let events = UntilAnswered {
        receiver,
        done: false,
    };
    Ok(event_stream::respond_with(
        HttpResponse::Ok(),
        events,
        Some(sse.keep_alive()),
    ))
}

/// A listen stream's messages, ending with the listen request's result: nothing may follow
/// it (a watcher's notification sent meanwhile is dropped).
struct UntilAnswered {
    receiver: EventReceiver,
    done: bool,
}

impl Stream for UntilAnswered {
    type Item = Result<sse::Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            let Some(event) = ready!(self.receiver.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            if let Some(message) = &event.message {
                self.done = message.answers;
                return Poll::Ready(Some(Ok(event_stream::message_event(&message.json))));
            }
        }
    }
}
