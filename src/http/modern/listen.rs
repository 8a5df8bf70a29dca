//! `subscriptions/listen`: a stream of the changes a stateless client asked to hear of
//! (docs/mcp-2026-07-28.md §6). The first message is the acknowledgement, naming the part of
//! the filter this server honours; then every `notifications/*/list_changed` the filter asks
//! for, each tagged with the listen request's id; keep-alive comments while quiet. The
//! stream holds no state beyond itself: it ends when the client closes it (its task sees the
//! channel close), and when the server drains, with the listen request's result. Used by
//! `super::post` only.
//!
//! `resourceSubscriptions` is not honoured yet (the acknowledgement leaves it out, and
//! `server/discover` does not offer `resources.subscribe`): sessions have
//! `resources/subscribe`.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{Refusal, limits::Ticket};
use crate::{
    draining::Draining,
    features::{Change, Changes},
    http::event_stream::{self, OutletEvents},
    mcp::{
        envelope::SUBSCRIPTION_ID,
        jsonrpc::{Message, Notification, RequestId},
        protocol::parse_params,
    },
    outlet::{self, Outlet},
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
}

impl Filter {
    fn wants(&self, change: Change) -> bool {
        match change {
            Change::ToolsList => self.tools_list_changed,
            Change::PromptsList => self.prompts_list_changed,
            Change::ResourcesList => self.resources_list_changed,
        }
    }

    /// The acknowledged filter: what will be delivered.
    fn honoured(&self) -> Value {
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
    pub changes: &'a Changes,
    pub draining: &'a Draining,
    pub settings: &'a crate::config::Settings,
}

/// Opens a listen stream for request `id` with `params`.
pub fn open(
    id: RequestId,
    params: Option<Value>,
    server: Listening<'_>,
    ticket: Ticket,
) -> Result<HttpResponse, Refusal> {
    let ListenParams { notifications } = parse_params("subscriptions/listen", params)
        .map_err(|err| Refusal::new(actix_web::http::StatusCode::OK, &Some(id.clone()), err))?;
    let sse = &server.settings.sse;
    let (sender, receiver) = outlet::channel(sse.outbound_capacity, sse.outbound_bytes);
    let outlet = Outlet::plain(sender.clone());
    let tag = json!({SUBSCRIPTION_ID: id});
    let ack = json!({"_meta": tag, "notifications": notifications.honoured()});
    outlet.send(Message::Notification(Notification::new(
        "notifications/subscriptions/acknowledged",
        Some(ack),
    )));
    let mut changes = server.changes.listen();
    let draining = server.draining.clone();
    actix_web::rt::spawn(async move {
        // Held for the stream's life: it counts among its principal's requests.
        let _ticket = ticket;
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
    Ok(event_stream::respond(
        HttpResponse::Ok(),
        OutletEvents::new(Vec::new(), receiver),
        Some(sse.keep_alive()),
    ))
}
