//! Asking the user before a change that is hard to undo (closing an issue, labelling many at
//! once), where the client can ask: a session's client that declared `elicitation` gets an
//! `elicitation/create` request on the call's stream; a stateless request (2026-07-28) that
//! declared it gets an `input_required` result and comes back with the answer and the sealed
//! `requestState` of the question, which binds the answer to the caller, the tool and its
//! arguments. A client that
//! cannot be asked is never blocked: the change goes ahead, as the model asked.

use serde_json::{Map, Value, json};

use super::{CallContext, CallToolResult, InputRequired, ToolReply};

/// The key of the question in an `input_required` result.
const KEY: &str = "confirm";

/// What the user said, or that the client cannot be asked.
#[derive(Debug)]
pub enum Confirmation {
    /// Go ahead: confirmed, or the client cannot be asked.
    Go,
    /// Answer with this instead, changing nothing: the user declined, or (stateless) the
    /// question must be asked first.
    Stop(ToolReply),
}

/// Asks the user `question` (a yes/no question about the change), where the client can ask.
pub async fn confirm(context: &CallContext, question: &str) -> Confirmation {
    if let Some(round) = &context.round {
        if !round.capabilities.elicitation {
            return Confirmation::Go;
        }
        // An answer counts only beside the state this question was asked with: the
        // dispatcher opened it, so it was sealed for this caller, tool and arguments, and
        // has not expired. A yes sent without being asked is asked again.
        let asked = round.state.as_ref().is_some_and(|state| state[KEY] == true);
        return match round.response(KEY).filter(|_| asked).map(judge) {
            Some(Some(true)) => Confirmation::Go,
            Some(Some(false)) => declined(question),
            // Not asked yet, or an answer that does not say: ask (again).
            Some(None) | None => Confirmation::Stop(ask(question)),
        };
    }
    match &context.client {
        Some(client) if client.can("elicitation") => {
            match client
                .request("elicitation/create", params(question), "elicitation")
                .await
            {
                Ok(answer) => match judge(&Value::Object(answer)) {
                    Some(true) => Confirmation::Go,
                    _ => declined(question),
                },
                Err(err) => Confirmation::Stop(
                    CallToolResult::error(format!(
                        "Not done: the user could not be asked to confirm ({}). Nothing was \
                         changed.",
                        err.message
                    ))
                    .into(),
                ),
            }
        }
        _ => Confirmation::Go,
    }
}

fn params(question: &str) -> Value {
    json!({
        "message": question,
        "requestedSchema": {
            "type": "object",
            "properties": {"confirm": {"type": "boolean", "title": "Confirm", "description": question}},
            "required": ["confirm"],
        },
    })
}

fn ask(question: &str) -> ToolReply {
    let mut requests = Map::new();
    requests.insert(
        KEY.into(),
        json!({"method": "elicitation/create", "params": params(question)}),
    );
    ToolReply::InputRequired(InputRequired {
        requests,
        state: Some(json!({KEY: true})),
    })
}

/// Whether an elicitation result says yes (`Some(true)`), no, or nothing usable (`None`).
fn judge(answer: &Value) -> Option<bool> {
    match answer.get("action")?.as_str()? {
        "accept" => answer.get("content")?.get("confirm")?.as_bool(),
        "decline" | "cancel" => Some(false),
        _ => None,
    }
}

fn declined(question: &str) -> Confirmation {
    Confirmation::Stop(
        CallToolResult::error(format!(
            "Not done: the user did not confirm ({question}). Nothing was changed; ask the \
             user before trying again."
        ))
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        call::Round,
        mcp::protocol::{ClientCapabilities, ProtocolVersion},
    };

    fn stateless(elicitation: bool, answer: Option<Value>) -> CallContext {
        asked(elicitation, answer, true)
    }

    fn asked(elicitation: bool, answer: Option<Value>, sealed: bool) -> CallContext {
        let mut context = CallContext::bare(ProtocolVersion::V2026_07_28);
        let responses = answer.map(|answer| {
            let mut responses = Map::new();
            responses.insert(KEY.into(), answer);
            responses
        });
        context.round = Some(Round {
            responses,
            state: sealed.then(|| json!({KEY: true})),
            capabilities: ClientCapabilities {
                elicitation,
                ..ClientCapabilities::default()
            },
        });
        context
    }

    #[tokio::test]
    async fn a_stateless_client_is_asked_first_and_its_answer_decides() {
        let question = "Close issue #1 in octo/hello?";
        let first = confirm(&stateless(true, None), question).await;
        let Confirmation::Stop(ToolReply::InputRequired(input)) = first else {
            panic!("asked first: {first:?}");
        };
        assert_eq!(input.requests[KEY]["method"], "elicitation/create");
        let yes = json!({"action": "accept", "content": {"confirm": true}});
        assert!(matches!(
            confirm(&stateless(true, Some(yes)), question).await,
            Confirmation::Go
        ));
        for no in [
            json!({"action": "accept", "content": {"confirm": false}}),
            json!({"action": "decline"}),
            json!({"action": "cancel"}),
        ] {
            let stopped = confirm(&stateless(true, Some(no.clone())), question).await;
            assert!(
                matches!(&stopped, Confirmation::Stop(reply) if reply.is_error()),
                "{no}: {stopped:?}"
            );
        }
        let unasked = json!({"action": "accept", "content": {"confirm": true}});
        let forged = confirm(&asked(true, Some(unasked), false), question).await;
        assert!(
            matches!(forged, Confirmation::Stop(ToolReply::InputRequired(_))),
            "a yes without the state of its question is asked again: {forged:?}"
        );
        let garbled = confirm(&stateless(true, Some(json!(12345))), question).await;
        assert!(matches!(
            garbled,
            Confirmation::Stop(ToolReply::InputRequired(_))
        ));
    }

    #[tokio::test]
    async fn a_client_that_cannot_be_asked_is_not_blocked() {
        let question = "Close issue #1 in octo/hello?";
        assert!(matches!(
            confirm(&stateless(false, None), question).await,
            Confirmation::Go
        ));
        let session = CallContext::bare(ProtocolVersion::V2025_11_25);
        assert!(matches!(
            confirm(&session, question).await,
            Confirmation::Go
        ));
    }
}
