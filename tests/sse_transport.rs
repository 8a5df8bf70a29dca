//! The legacy HTTP+SSE transport as a client sees it: the endpoint event, 202s with responses on
//! the stream, every bad-input status, keep-alives, and `/health`.

mod common;

use common::{SseClient, SseEvent, SseReader, TestServer, settings};
use github_issue_mcp::dispatch::Features;
use serde_json::{Value, json};

#[tokio::test]
async fn endpoint_event_comes_first_with_a_relative_uuid_uri() {
    let server = TestServer::start();
    let response = reqwest::get(server.url("/sse")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut reader = SseReader::new(response);
    let SseEvent::Event { event, data } = reader.next().await.unwrap() else {
        panic!("the first thing on the stream must be the endpoint event");
    };
    assert_eq!(event, "endpoint");
    let id = data
        .strip_prefix("/messages?sessionId=")
        .expect("a relative URI, not JSON");
    let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 4);
}

#[tokio::test]
async fn a_post_gets_202_and_its_response_arrives_on_the_stream() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    let response = client
        .post_raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            "application/json",
        )
        .await;
    assert_eq!(response.status(), 202);
    assert!(response.text().await.unwrap().contains("Accepted"));
    assert_eq!(
        client.next_message().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": {}})
    );
}

#[tokio::test]
async fn inspector_style_headers_are_accepted() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    let response = client
        .http
        .post(&client.endpoint)
        .header("Accept", "*/*")
        .header("Content-Type", "application/json; charset=utf-8")
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(client.next_message().await["id"], "p");
}

#[tokio::test]
async fn keep_alive_comments_flow_on_idle_streams() {
    let server = TestServer::start_with(
        settings(&[("GITHUB_ISSUE_MCP__SSE__KEEP_ALIVE_MS", "50")]),
        Features::default(),
    );
    let mut client = SseClient::connect(&server).await;
    // Three in a row: keep-alives keep coming while nothing else is sent.
    for _ in 0..3 {
        assert_eq!(
            client.reader.next().await,
            Some(SseEvent::Comment("keep-alive".into()))
        );
    }
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON error body"))
}

#[tokio::test]
async fn a_post_without_or_with_a_malformed_session_id_is_400() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    for path in [
        "/messages",
        "/messages?sessionId=",
        "/messages?sessionId=not-a-uuid",
    ] {
        let response = http
            .post(server.url(path))
            .header("Content-Type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_body(response).await;
        assert_eq!(status, 400, "{path}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sessionId"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_unknown_session_is_404_and_says_to_open_sse() {
    let server = TestServer::start();
    let response = reqwest::Client::new()
        .post(server.url(&format!("/messages?sessionId={}", uuid::Uuid::new_v4())))
        .header("Content-Type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /sse"),
        "{body}"
    );
}

#[tokio::test]
async fn a_closed_session_is_404() {
    let server = TestServer::start();
    let client = SseClient::connect(&server).await;
    let (http, endpoint) = (client.http.clone(), client.endpoint.clone());
    server.wait_for_sessions(1).await;
    // The same client (so the same keep-alive connection, and the same worker) posts before
    // and after: the worker's memory of the session's route must not outlive the session.
    let ping = || {
        http.post(&endpoint)
            .header("Content-Type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
            .send()
    };
    assert_eq!(ping().await.unwrap().status(), 202);
    drop(client);
    server.wait_for_sessions(0).await;
    assert_eq!(ping().await.unwrap().status(), 404);
}

#[tokio::test]
async fn bad_bodies_get_their_status_and_nothing_reaches_the_stream() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    let cases: Vec<(&str, Vec<u8>, u16, Option<i64>)> = vec![
        (
            "text/plain",
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(),
            415,
            None,
        ),
        ("application/xml", b"<ping/>".to_vec(), 415, None),
        ("application/json", b"{not json".to_vec(), 400, Some(-32700)),
        ("application/json", b"".to_vec(), 400, Some(-32700)),
        (
            "application/json",
            br#"{"hello":"world"}"#.to_vec(),
            400,
            Some(-32600),
        ),
        (
            "application/json",
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(),
            400,
            Some(-32600),
        ),
        (
            "application/json",
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_vec(),
            400,
            Some(-32600),
        ),
        ("application/json", br#"[]"#.to_vec(), 400, Some(-32600)),
    ];
    for (content_type, body, expected, code) in cases {
        let response = client.post_raw(body.clone(), content_type).await;
        let (status, error) = status_and_body(response).await;
        assert_eq!(
            status,
            expected,
            "{content_type} {}",
            String::from_utf8_lossy(&body)
        );
        if let Some(code) = code {
            assert_eq!(error["error"]["code"], code, "{error}");
        }
    }
    // Had any of those reached the session, its error would be on the stream before this.
    client
        .post(json!({"jsonrpc": "2.0", "id": "after", "method": "ping"}))
        .await;
    assert_eq!(client.next_message().await["id"], "after");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    let padding = "x".repeat(4 * 1024 * 1024);
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{padding}"}}}}"#);
    assert_eq!(
        client
            .post_raw(body.clone(), "application/json")
            .await
            .status(),
        413
    );
    // The same without a Content-Length (chunked) is caught while reading.
    let stream = futures_util::stream::iter(
        body.into_bytes()
            .chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = client
        .post_raw(reqwest::Body::wrap_stream(stream), "application/json")
        .await;
    assert_eq!(response.status(), 413);
    client
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
        .await;
    assert_eq!(client.next_message().await["id"], 2);
}

#[tokio::test]
async fn wrong_methods_and_paths_are_refused() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    let response = http.post(server.url("/sse")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    let response = http.get(server.url("/messages")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        http.get(server.url("/nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn health_reports_the_server_and_its_live_sessions() {
    let server = TestServer::start();
    let health = server.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["serverName"], "github-issue-manager");
    assert_eq!(health["serverVersion"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptime"].as_f64().unwrap() >= 0.0);
    let timestamp = health["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() == 24 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
    assert_eq!(health["activeConnections"], 0);
    let _a = SseClient::connect(&server).await;
    let _b = SseClient::connect(&server).await;
    assert_eq!(server.health().await["activeConnections"], 2);
}
