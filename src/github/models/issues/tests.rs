//! The issue decoding against recorded GitHub answers and the edge cases of its format.

use serde_json::{Value, json};

use super::*;

/// Every recorded GitHub answer that lists issues: pages and search results.
fn recorded_lists() -> Vec<Value> {
    let pages: Vec<Value> = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/github-api/recorded/paginate-issues.json"
    ))
    .unwrap();
    let searches: Vec<Value> = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/github-api/recorded/search-issues.json"
    ))
    .unwrap();
    let mut lists: Vec<Value> = pages.into_iter().map(|r| r["response"].clone()).collect();
    lists.extend(searches.into_iter().map(|r| r["response"]["items"].clone()));
    assert!(lists.iter().all(Value::is_array) && lists.len() >= 2);
    lists
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let items = list.as_array().map_or(&[][..], Vec::as_slice);
    items
        .iter()
        .map(|item| item.as_str().unwrap_or_else(|| item[key].as_str().unwrap()))
        .map(String::from)
        .collect()
}

#[test]
fn recorded_github_lists_decode_to_what_they_say() {
    let mut seen = 0;
    for list in recorded_lists() {
        // Decoded from text, as the gateway's answers are.
        let issues: Issues = serde_json::from_str(&list.to_string()).unwrap();
        let items = list.as_array().unwrap();
        assert_eq!(issues.len(), items.len());
        for (issue, item) in issues.iter().zip(items) {
            assert_eq!(issue.number(), item["number"].as_u64().unwrap());
            assert_eq!(issue.title(), item["title"]);
            assert_eq!(issue.state(), item["state"]);
            assert_eq!(issue.author(), item["user"]["login"]);
            assert_eq!(issue.comments(), item["comments"].as_u64().unwrap());
            assert_eq!(issue.created_at(), item["created_at"]);
            assert_eq!(issue.updated_at(), item["updated_at"]);
            assert_eq!(issue.html_url(), item["html_url"]);
            assert_eq!(issue.is_pull_request(), !item["pull_request"].is_null());
            let labels: Vec<&str> = issue.labels().collect();
            assert_eq!(labels, names(&item["labels"], "name"));
            let assignees: Vec<&str> = issue.assignees().collect();
            assert_eq!(assignees, names(&item["assignees"], "login"));
            let url = item["repository_url"].as_str().unwrap();
            assert!(url.ends_with(&issue.repository().unwrap()), "{url}");
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} recorded issues");
}

#[test]
fn lists_skip_bodies_and_a_single_issue_keeps_them() {
    let item = json!({
        "number": 7, "title": "Crash", "state": "closed", "state_reason": "completed",
        "closed_at": "2024-01-03T00:00:00Z", "body": "the whole story",
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
        "html_url": "https://github.com/o/r/issues/7", "user": {"login": "octocat"},
    });
    let list: Issues = serde_json::from_str(&json!([item]).to_string()).unwrap();
    assert!(
        !list.text.buf.contains("the whole story"),
        "{:?}",
        list.text
    );
    assert!(!list.text.buf.contains("completed"));

    let issue: Issue = serde_json::from_str(&item.to_string()).unwrap();
    assert_eq!(issue.body.as_deref(), Some("the whole story"));
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));
    assert_eq!(issue.closed_at.as_deref(), Some("2024-01-03T00:00:00Z"));
    let summary = issue.summary();
    assert_eq!((summary.number(), summary.title()), (7, "Crash"));
    assert_eq!(summary.state(), "closed");
    assert_eq!(summary.author(), "octocat");
}

#[test]
fn missing_and_null_optional_fields_are_empty() {
    let text = r#"[{"number": 1, "title": "t", "state": "open", "created_at": "c",
        "updated_at": "u", "html_url": "h", "user": null, "labels": null,
        "assignees": null, "comments": null, "body": null, "repository_url": null,
        "pull_request": null},
        {"number": 2, "title": "t", "state": "open", "created_at": "c",
        "updated_at": "u", "html_url": "h"}]"#;
    let issues: Issues = serde_json::from_str(text).unwrap();
    for issue in issues.iter() {
        assert_eq!(issue.author(), "(unknown)");
        assert_eq!(issue.labels().count() + issue.assignees().count(), 0);
        assert_eq!(issue.comments(), 0);
        assert_eq!(issue.repository(), None);
        assert!(!issue.is_pull_request());
    }
    let issue: Issue = serde_json::from_str(&text[1..text.find('}').unwrap() + 1]).unwrap();
    assert_eq!(
        (issue.body, issue.state_reason, issue.closed_at),
        (None, None, None)
    );
}

#[test]
fn pull_requests_are_told_by_their_marker_alone() {
    let item = |marker: &str| {
        let text = format!(
            r#"[{{"number": 1, "title": "t", "state": "open", "created_at": "c",
                "updated_at": "u", "html_url": "h"{marker}}}]"#
        );
        let issues: Issues = serde_json::from_str(&text).unwrap();
        issues.iter().next().unwrap().is_pull_request()
    };
    assert!(item(r#", "pull_request": {"url": "x", "merged_at": null}"#));
    assert!(!item(r#", "pull_request": null"#));
    assert!(!item(""));
}

#[test]
fn escaped_strings_are_decoded_in_place() {
    let text = r#"[{"number": 1, "title": "a \"quoted\" \u00e9t\u00e9 \ud83d\udc4d\n",
        "state": "open", "created_at": "c", "updated_at": "u", "html_url": "h",
        "labels": [{"na\u006de": "b\u0075g"}, "pl\\ain", {"id": 1, "name": "p1"}],
        "assignees": [{"login": "\u006fctocat"}], "user": {"id": 1, "login": "m\u00e4x"}}]"#;
    let issues: Issues = serde_json::from_str(text).unwrap();
    let issue = issues.iter().next().unwrap();
    assert_eq!(issue.title(), "a \"quoted\" été 👍\n");
    assert_eq!(issue.labels().collect::<Vec<_>>(), ["bug", "pl\\ain", "p1"]);
    assert_eq!(issue.assignees().collect::<Vec<_>>(), ["octocat"]);
    assert_eq!(issue.author(), "mäx");
}

#[test]
fn labels_and_assignees_stay_with_their_issue() {
    let issue = |n: u64, labels: Value, assignees: Value| {
        json!({"number": n, "title": "t", "state": "open", "created_at": "c",
               "updated_at": "u", "html_url": "h", "assignees": assignees,
               "labels": labels})
    };
    let list = json!([
        issue(1, json!(["a", "b"]), json!([{"login": "x"}])),
        issue(2, json!([]), json!([{"login": "y"}, {"login": "z"}])),
        issue(3, json!([{"name": "c"}]), json!([])),
    ]);
    let issues: Issues = serde_json::from_str(&list.to_string()).unwrap();
    let shown: Vec<(Vec<&str>, Vec<&str>)> = issues
        .iter()
        .map(|i| (i.labels().collect(), i.assignees().collect()))
        .collect();
    assert_eq!(
        shown,
        [
            (vec!["a", "b"], vec!["x"]),
            (vec![], vec!["y", "z"]),
            (vec!["c"], vec![])
        ]
    );
}

#[test]
fn a_bad_issue_is_refused_with_what_is_wrong() {
    let fields = r#""number": 1, "state": "open", "created_at": "c", "updated_at": "u",
        "html_url": "h""#;
    let refusal = |text: String| {
        serde_json::from_str::<Issues>(&text)
            .unwrap_err()
            .to_string()
    };
    let missing = refusal(format!("[{{{fields}}}]"));
    assert!(missing.contains("missing field `title`"), "{missing}");
    let nameless = refusal(format!(r#"[{{{fields}, "title": "t", "labels": [{{}}]}}]"#));
    assert!(nameless.contains("missing field `name`"), "{nameless}");
    let bare_user = refusal(format!(
        r#"[{{{fields}, "title": "t", "assignees": ["x"]}}]"#
    ));
    assert!(bare_user.contains("expected a user object"), "{bare_user}");
    let not_names = refusal(format!(r#"[{{{fields}, "title": "t", "labels": "bug"}}]"#));
    assert!(
        not_names.contains("expected a list of label objects with names, or of label names"),
        "{not_names}"
    );
    let number = refusal(r#"[{"number": "1"}]"#.into());
    assert!(number.contains("invalid type: string"), "{number}");
    let not_a_list = refusal(r#"{"message": "Not Found"}"#.into());
    assert!(
        not_a_list.contains("a list of issue objects"),
        "{not_a_list}"
    );
}
