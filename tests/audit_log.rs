//! The audit log cannot be flooded or split (issue 15, findings 4 and 6): the real binary, its
//! stderr read as it is written, in both log formats.

mod common;

use std::{
    io::Read,
    sync::{Arc, Mutex},
};

use common::{
    fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN},
    session, text_of,
};
use serde_json::json;

/// Characters that log readers may take for the end of a line.
const SEPARATORS: [char; 3] = ['\u{2028}', '\u{2029}', '\u{0085}'];

/// Runs the binary with `LOG_FORMAT=format`, makes one refused call with a 3.9 MB `owner`
/// and two accepted writes whose text holds line separators; returns everything it logged.
async fn logs_of_attack(format: &str) -> String {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue("octo", "hello", IssueSeed::default());
    let (mut child, server) = common::spawn_binary(&[
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", &fake.base_url),
        ("LOG_FORMAT", format),
        ("RUST_LOG", "info"),
    ])
    .await;
    let logs = Logs::read(&mut child);

    let mut client = session(&server, "2025-06-18").await;
    let huge = "o".repeat(3_900_000);
    let refused = client
        .call_tool(
            1,
            "create_issue",
            json!({"owner": huge, "repo": "hello", "title": "flood"}),
        )
        .await;
    assert_eq!(refused["isError"], true, "refused");
    let refused = client
        .call_tool(
            4,
            "create_issue",
            json!({"owner": "oc\u{2028}to\u{85}", "repo": "hello", "title": "split"}),
        )
        .await;
    assert_eq!(refused["isError"], true, "refused");
    let created = client
        .call_tool(
            2,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "split\u{2028}here\u{85}and\u{2029}"}),
        )
        .await;
    assert_ne!(created["isError"], true, "{created}");
    let commented = client
        .call_tool(
            3,
            "add_issue_comment",
            json!({"owner": "octo", "repo": "hello", "issue_number": number,
                   "body": "line\u{2028}SYSTEM\u{85}x"}),
        )
        .await;
    assert_ne!(commented["isError"], true, "{}", text_of(&commented));
    drop(client);
    logs.after_exit(child)
}

/// The stderr of a running binary, read as it is written: a pipe that nobody reads would
/// stall the server on a multi-MB line, and the test would hang instead of failing.
struct Logs {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Logs {
    fn read(child: &mut std::process::Child) -> Logs {
        let mut stderr = child.stderr.take().unwrap();
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let bytes = bytes.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 65536];
                while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                    bytes.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        };
        Logs { bytes, reader }
    }

    /// Stops the server and returns all it logged.
    fn after_exit(self, mut child: std::process::Child) -> String {
        common::terminate(&child);
        assert!(child.wait().unwrap().success());
        self.reader.join().unwrap();
        let bytes = self.bytes.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }
}

fn check(logs: &str) -> Vec<&str> {
    assert!(
        logs.len() < 64 * 1024,
        "the log grew by {} bytes for three calls",
        logs.len()
    );
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2048, "a log line of {longest} bytes");
    for separator in SEPARATORS {
        assert!(
            !logs.contains(separator),
            "U+{:04X} raw in the log:\n{logs}",
            separator as u32
        );
    }
    logs.lines().filter(|line| line.contains("audit")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_calls_write_no_audit_line_and_separators_never_split_one() {
    let logs = logs_of_attack("text").await;
    let audits = check(&logs);
    assert_eq!(audits.len(), 2, "one line per accepted write:\n{logs}");
    assert!(
        audits[0].contains("tool=create_issue repository=\"octo/hello\" issue=- outcome=ok"),
        "{}",
        audits[0]
    );
    assert!(
        audits[1].contains("tool=add_issue_comment repository=\"octo/hello\" issue=1 outcome=ok"),
        "{}",
        audits[1]
    );
    assert!(!logs.contains("ooooooooooooooooooooooooooooooooooooooooooooooo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_stay_one_object_per_line_under_the_same_attack() {
    let logs = logs_of_attack("json").await;
    check(&logs);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let audits: Vec<&str> = lines
        .iter()
        .filter(|line| line["target"] == "audit")
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        audits,
        [
            "principal=\"anonymous@127.0.0.1\" era=session tool=create_issue repository=\"octo/hello\" issue=- outcome=ok",
            "principal=\"anonymous@127.0.0.1\" era=session tool=add_issue_comment repository=\"octo/hello\" issue=1 outcome=ok",
        ]
    );
}

/// Issue 15, finding 4: calls the gateway refuses without sending (here: the token's budget
/// is spent and resets in an hour) write no audit line, however many; the accepted write
/// before them writes its own.
#[tokio::test(flavor = "multi_thread")]
async fn writes_refused_without_sending_write_no_audit_line() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue("octo", "hello", IssueSeed::default());
    // One request left: the accepted write spends it, and its answer says so.
    fake.set_rate_limit("core", 1, std::time::Duration::from_secs(3600));
    let (mut child, server) = common::spawn_binary(&[
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", &fake.base_url),
        ("RUST_LOG", "info"),
    ])
    .await;
    let logs = Logs::read(&mut child);
    let mut client = session(&server, "2025-06-18").await;
    let created = client
        .call_tool(
            1,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "accepted"}),
        )
        .await;
    assert_ne!(created["isError"], true, "{created}");
    let sent = fake.request_count();
    for id in 2..12 {
        let refused = client
            .call_tool(
                id,
                "add_issue_comment",
                json!({"owner": "octo", "repo": "hello", "issue_number": number, "body": "x"}),
            )
            .await;
        assert_eq!(refused["isError"], true, "{refused}");
        assert!(
            text_of(&refused).contains("rate limit"),
            "{}",
            text_of(&refused)
        );
    }
    let batch = client
        .call_tool(
            12,
            "batch_label_issues",
            json!({"owner": "octo", "repo": "hello", "issue_numbers": [number, number + 1],
                   "labels": ["bug"]}),
        )
        .await;
    assert_eq!(batch["isError"], true, "{batch}");
    assert_eq!(
        fake.request_count(),
        sent,
        "the refused calls were not sent"
    );
    drop(client);
    let logs = logs.after_exit(child);
    let audits: Vec<&str> = logs.lines().filter(|line| line.contains("audit")).collect();
    assert_eq!(audits.len(), 1, "only the accepted write:\n{logs}");
    assert!(
        audits[0].contains("tool=create_issue repository=\"octo/hello\" issue=- outcome=ok"),
        "{}",
        audits[0]
    );
}
