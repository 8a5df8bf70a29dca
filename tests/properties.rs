//! Property tests: no input makes JSON-RPC decoding or dispatch panic, whatever its shape.

use github_issue_mcp::{
    dispatch::{Dispatcher, DispatcherConfig, Features, McpState},
    http::messages::parse_message,
    mcp::jsonrpc::Message,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Request-shaped values: the right envelope around arbitrary methods and params.
fn request_like() -> impl Strategy<Value = Value> {
    let methods = prop_oneof![
        Just("initialize".to_string()),
        Just("ping".to_string()),
        Just("tools/list".to_string()),
        Just("tools/call".to_string()),
        Just("resources/read".to_string()),
        Just("resources/templates/list".to_string()),
        Just("prompts/get".to_string()),
        Just("completion/complete".to_string()),
        Just("logging/setLevel".to_string()),
        Just("resources/subscribe".to_string()),
        Just("notifications/cancelled".to_string()),
        ".{0,20}",
    ];
    (methods, json_value(), prop_oneof![Just(json!(1)), Just(json!("a")), json_value()]).prop_map(
        |(method, params, id)| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_never_panics(value in json_value()) {
        let _ = Message::from_value(value);
    }

    #[test]
    fn parsing_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_message(&bytes);
    }

    #[test]
    fn dispatching_never_panics(first in request_like(), second in request_like()) {
        let dispatcher = Dispatcher::new(Features::default(), DispatcherConfig::default());
        let mut state = McpState::default();
        // Initialized first, so that the arbitrary requests reach every method's handler.
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "p", "version": "1"}}});
        if let Ok(Message::Request(request)) = Message::from_value(init) {
            let _ = dispatcher.handle_request(&mut state, request, None);
        }
        prop_assert!(state.version.is_some());
        for value in [first, second] {
            match Message::from_value(value) {
                Ok(Message::Request(request)) => {
                    let _ = dispatcher.handle_request(&mut state, request, None);
                }
                Ok(Message::Notification(note)) => {
                    let _ = dispatcher.handle_notification(&mut state, note);
                }
                _ => {}
            }
        }
    }
}
