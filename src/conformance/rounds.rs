//! The multi round-trip fixtures of the stateless revision (`input_required` results;
//! docs/mcp-2026-07-28.md §10.3): tools that ask for elicitation, sampling and roots, keep a
//! state across rounds, and the prompt that asks before it renders. They read the request's
//! [`Round`]; the dispatcher seals and checks their states.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{
    fixture::{Era, FixtureTool, Step, replying},
    tools::{content, no_arguments, text},
};
use crate::{
    call::{InputRequired, Round},
    mcp::{envelope::missing_capabilities, jsonrpc::ErrorObject},
    prompts::{Prompt, PromptDefinition, messages},
    tools::ToolReply,
};

fn elicitation(message: &str, field: &str, kind: &str) -> Value {
    json!({"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]},
    }})
}

fn sampling(question: &str) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
        "maxTokens": 100,
    }})
}

fn roots() -> Value {
    json!({"method": "roots/list", "params": {}})
}

/// Asks for `requests` (key, request), keeping `state`.
fn ask(requests: Vec<(&str, Value)>, state: Option<Value>) -> ToolReply {
    ToolReply::InputRequired(InputRequired {
        requests: requests
            .into_iter()
            .map(|(key, request)| (key.to_string(), request))
            .collect(),
        state,
    })
}

/// The answer under `key`, if there is one and it has the shape of a result of `method`. An
/// answer of another shape is refused: no complete result is built from it.
fn answer<'a>(round: &'a Round, key: &str, method: &str) -> Result<Option<&'a Value>, ErrorObject> {
    let Some(answer) = round.response(key) else {
        return Ok(None);
    };
    let valid = match method {
        "elicitation/create" => {
            answer
                .get("action")
                .and_then(Value::as_str)
                .is_some_and(|action| {
                    action != "accept" || answer.get("content").is_some_and(Value::is_object)
                })
        }
        "sampling/createMessage" => answer.get("content").is_some_and(Value::is_object),
        _ => answer.get("roots").is_some_and(Value::is_array),
    };
    match valid {
        true => Ok(Some(answer)),
        false => Err(ErrorObject::invalid_params(format!(
            "inputResponses.{key} is not a result of {method}"
        ))),
    }
}

/// A fixture offered to the stateless revision only, answering each round with `step`.
fn fixture(name: &str, description: &str, step: Step) -> FixtureTool {
    replying(name, description, no_arguments(), |_, _| {
        Box::pin(async { Err(ErrorObject::internal("a stepping fixture runs its step")) })
    })
    .stepping(step)
    .only(Era::Modern)
}

fn done(message: String) -> Result<ToolReply, ErrorObject> {
    Ok(content(vec![text(&message)]).into())
}

fn needs(round: &Round, capability: &'static str) -> Result<(), ErrorObject> {
    match round.capabilities.has(capability) {
        true => Ok(()),
        false => Err(missing_capabilities(&[capability])),
    }
}

fn state_step(round: &Round) -> Option<u64> {
    round.state.as_ref()?.get("step")?.as_u64()
}

pub fn fixtures() -> Vec<FixtureTool> {
    vec![
        fixture(
            "test_input_required_result_elicitation",
            "Asks the user's name (elicitation), then greets them",
            |round| {
                needs(round, "elicitation")?;
                match answer(round, "user_name", "elicitation/create")? {
                    Some(answer) => done(format!("Hello, {}", answer["content"]["name"])),
                    None => Ok(ask(
                        vec![(
                            "user_name",
                            elicitation("What is your name?", "name", "string"),
                        )],
                        None,
                    )),
                }
            },
        ),
        fixture(
            "test_input_required_result_sampling",
            "Asks the client's model a question (sampling)",
            |round| {
                needs(round, "sampling")?;
                match answer(round, "capital", "sampling/createMessage")? {
                    Some(answer) => done(format!("The model said {}", answer["content"])),
                    None => Ok(ask(
                        vec![("capital", sampling("What is the capital of France?"))],
                        None,
                    )),
                }
            },
        ),
        fixture(
            "test_input_required_result_list_roots",
            "Asks for the client's roots",
            |round| {
                needs(round, "roots")?;
                match answer(round, "roots", "roots/list")? {
                    Some(answer) => done(format!("The client has roots {}", answer["roots"])),
                    None => Ok(ask(vec![("roots", roots())], None)),
                }
            },
        ),
        fixture(
            "test_input_required_result_request_state",
            "Asks for a confirmation and keeps a state until it comes",
            confirm_with_state,
        ),
        fixture(
            "test_input_required_result_tampered_state",
            "Asks for a confirmation with a sealed state; an altered state is refused",
            confirm_with_state,
        ),
        fixture(
            "test_input_required_result_multiple_inputs",
            "Asks for a name, a model's greeting and the roots at once",
            |round| {
                let asked = [
                    ("user_name", "elicitation/create"),
                    ("greeting", "sampling/createMessage"),
                    ("client_roots", "roots/list"),
                ];
                let mut complete = state_step(round) == Some(1);
                for (key, method) in asked {
                    complete &= answer(round, key, method)?.is_some();
                }
                if complete {
                    return done("all three inputs arrived".into());
                }
                Ok(ask(
                    vec![
                        (
                            "user_name",
                            elicitation("What is your name?", "name", "string"),
                        ),
                        ("greeting", sampling("Say hello")),
                        ("client_roots", roots()),
                    ],
                    Some(json!({"step": 1})),
                ))
            },
        ),
        fixture(
            "test_input_required_result_multi_round",
            "Asks twice, one question per round, then answers",
            |round| match state_step(round) {
                Some(1) if answer(round, "step1", "elicitation/create")?.is_some() => Ok(ask(
                    vec![("step2", elicitation("Second question?", "value", "string"))],
                    Some(json!({"step": 2})),
                )),
                Some(2) if answer(round, "step2", "elicitation/create")?.is_some() => {
                    done("both rounds answered".into())
                }
                _ => Ok(ask(
                    vec![("step1", elicitation("First question?", "value", "string"))],
                    Some(json!({"step": 1})),
                )),
            },
        ),
        fixture(
            "test_input_required_result_capabilities",
            "Asks only with the capabilities this request declared",
            |round| {
                let mut requests = Vec::new();
                if round.capabilities.elicitation {
                    requests.push(("name", elicitation("Your name?", "name", "string")));
                }
                if round.capabilities.sampling {
                    requests.push(("model", sampling("Say hello")));
                }
                if round.capabilities.roots {
                    requests.push(("roots", roots()));
                }
                let answered = requests
                    .iter()
                    .any(|(key, _)| round.response(key).is_some());
                match (answered, requests.is_empty()) {
                    (true, _) => done("answered with the declared capabilities".into()),
                    (false, true) => done("nothing declared to ask with".into()),
                    (false, false) => Ok(ask(requests, None)),
                }
            },
        ),
        fixture(
            "test_streaming_elicitation",
            "Asks for confirmation in its answer, never on the stream",
            |round| {
                needs(round, "elicitation")?;
                match answer(round, "confirm", "elicitation/create")? {
                    Some(_) => done("confirmed".into()),
                    None => Ok(ask(
                        vec![("confirm", elicitation("Go ahead?", "ok", "boolean"))],
                        None,
                    )),
                }
            },
        ),
    ]
}

fn confirm_with_state(round: &Round) -> Result<ToolReply, ErrorObject> {
    needs(round, "elicitation")?;
    if state_step(round) == Some(1) && answer(round, "confirm", "elicitation/create")?.is_some() {
        return done("state-ok: confirmed".into());
    }
    Ok(ask(
        vec![("confirm", elicitation("Confirm?", "ok", "boolean"))],
        Some(json!({"step": 1})),
    ))
}

/// `test_input_required_result_prompt`: asks for context (elicitation) before it renders.
#[derive(Debug)]
pub struct ContextPrompt(pub PromptDefinition);

impl Prompt for ContextPrompt {
    fn definition(&self) -> &PromptDefinition {
        &self.0
    }

    fn render(&self, _: &HashMap<String, String>) -> Result<Map<String, Value>, ErrorObject> {
        Ok(user_text(
            "This prompt asks for context first on protocol revision 2026-07-28.",
        ))
    }

    fn render_round(
        &self,
        arguments: &HashMap<String, String>,
        round: Option<&Round>,
    ) -> Result<Result<Map<String, Value>, InputRequired>, ErrorObject> {
        let Some(round) = round else {
            return self.render(arguments).map(Ok);
        };
        needs(round, "elicitation")?;
        match answer(round, "user_context", "elicitation/create")? {
            Some(answer) => Ok(Ok(user_text(&format!(
                "Context given: {}",
                answer["content"]["context"]
            )))),
            None => {
                let request = elicitation("Any context for this prompt?", "context", "string");
                let mut requests = Map::new();
                requests.insert("user_context".into(), request);
                Ok(Err(InputRequired {
                    requests,
                    state: None,
                }))
            }
        }
    }
}

fn user_text(text: &str) -> Map<String, Value> {
    messages(
        None,
        vec![json!({"role": "user", "content": {"type": "text", "text": text}})],
    )
}
