//! Tests of the fake GitHub (`tests/common/fake_github.rs`) that the gateway and tool tests run
//! against: the rules the gateway relies on (pagination, filters, ETags and free 304s, budgets,
//! secondary limits, auth, writes and the injected faults). Its answers are checked against
//! GitHub's own description and recordings in `tests/fake_github_drift.rs`.

mod common;

use std::time::Duration;

use common::{
    fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN, login_of},
    raw_github::*,
};
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Behaviour: lists, pagination, filters

#[tokio::test(flavor = "multi_thread")]
async fn pagination_follows_links_through_issues_and_pull_requests() {
    let fake = seeded();
    let client = Client::new(&fake);
    let mut url = "/repos/octo/hello/issues?state=all&per_page=4".to_string();
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let response = client.get(&url).await;
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let items: Value = response.json().await.unwrap();
        assert!(items.as_array().unwrap().len() <= 4);
        seen.extend(items.as_array().unwrap().iter().cloned());
        pages += 1;
        match link.and_then(|link| link_to(&link, "next")) {
            Some(next) => {
                assert!(
                    next.contains("state=all") && next.contains("per_page=4"),
                    "{next}"
                );
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(numbers(&json!(seen)), (1..=15).rev().collect::<Vec<_>>());
    let pulls: Vec<_> = seen
        .iter()
        .filter(|i| i.get("pull_request").is_some())
        .collect();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["number"], 14);
    assert!(pulls[0]["html_url"].as_str().unwrap().ends_with("/pull/14"));

    // The default is open issues, 30 a page, with no Link when one page holds them all.
    let open = client.get("/repos/octo/hello/issues").await;
    assert!(open.headers().get("link").is_none());
    let open: Value = open.json().await.unwrap();
    assert_eq!(numbers(&open), (1..=14).rev().collect::<Vec<_>>());
    let closed = client
        .get_json("/repos/octo/hello/issues?state=closed")
        .await;
    assert_eq!(numbers(&closed), [15]);
    // per_page is capped at 100.
    let many = client.get("/repos/octo/hello/issues?per_page=1000").await;
    assert!(many.headers().get("link").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_filter_and_sort_like_github() {
    let fake = FakeGitHub::start();
    let id = fake.add_repo("octo", "hello");
    for (title, labels) in [
        ("one", vec!["bug"]),
        ("two", vec!["bug", "ui"]),
        ("three", vec![]),
    ] {
        let labels = labels.into_iter().map(String::from).collect();
        fake.add_issue(
            "octo",
            "hello",
            IssueSeed {
                title: title.into(),
                labels,
                ..IssueSeed::default()
            },
        );
    }
    fake.add_comment("octo", "hello", 3, "hubot", "first");
    fake.add_comment("octo", "hello", 3, "hubot", "second");
    let client = Client::new(&fake);

    let by_id = client.get_json(&format!("/repositories/{id}/issues")).await;
    assert_eq!(by_id, client.get_json("/repos/octo/hello/issues").await);
    assert_eq!(numbers(&by_id), [3, 2, 1], "newest first by default");
    let ascending = client
        .get_json("/repos/octo/hello/issues?direction=asc")
        .await;
    assert_eq!(numbers(&ascending), [1, 2, 3]);
    let labelled = client
        .get_json("/repos/octo/hello/issues?labels=bug,UI")
        .await;
    assert_eq!(numbers(&labelled), [2], "every label, any case");
    let by_comments = client
        .get_json("/repos/octo/hello/issues?sort=comments")
        .await;
    assert_eq!(numbers(&by_comments)[0], 3);

    // Issue 3 was updated by its comments; updating issue 1 makes it the most recent.
    let (status, _) = client
        .call(
            Method::PATCH,
            "/repos/octo/hello/issues/1",
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(status, 200);
    let updated = client
        .get_json("/repos/octo/hello/issues?sort=updated")
        .await;
    assert_eq!(numbers(&updated), [1, 3, 2]);
    let issue3 = &client.get_json("/repos/octo/hello/issues/3").await;
    let since = issue3["updated_at"].as_str().unwrap();
    let recent = client
        .get_json(&format!(
            "/repos/octo/hello/issues?since={since}&sort=updated&direction=asc"
        ))
        .await;
    assert_eq!(numbers(&recent), [3, 1]);
    let created_at = |i: &Value| i["created_at"].as_str().unwrap().to_string();
    assert!(
        created_at(&by_id[0]) > created_at(&by_id[1]),
        "created_at follows the numbers"
    );
    assert!(
        since.ends_with('Z') && since.len() == 20,
        "YYYY-MM-DDTHH:MM:SSZ: {since}"
    );
}

// ---------------------------------------------------------------------------------------------
// Behaviour: ETags, budgets, secondary limits, auth

#[tokio::test(flavor = "multi_thread")]
async fn etags_are_stable_until_a_change_and_304s_are_free() {
    let fake = seeded();
    let client = Client::new(&fake);
    let first = client.get("/repos/octo/hello/issues/1").await;
    let etag = header(&first, "etag");
    assert!(
        etag.ends_with('"') && etag.contains('"'),
        "a quoted ETag: {etag}"
    );
    let again = client.get("/repos/octo/hello/issues/1").await;
    assert_eq!(header(&again, "etag"), etag, "unchanged, same ETag");
    assert_eq!(remaining(&again), remaining(&first) - 1, "a 200 costs one");

    let conditional = |tag: String| {
        client
            .request(Method::GET, "/repos/octo/hello/issues/1")
            .header("If-None-Match", tag)
            .send()
    };
    let cached = conditional(etag.clone()).await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(header(&cached, "etag"), etag);
    assert_eq!(remaining(&cached), remaining(&again), "a 304 costs nothing");
    assert!(cached.bytes().await.unwrap().is_empty());

    fake.add_comment("octo", "hello", 1, "hubot", "changes the issue");
    let changed = conditional(etag.clone()).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), etag);
    assert_eq!(remaining(&changed), remaining(&again) - 1);

    // Lists have ETags too; a new issue changes the list's.
    let list = client.get("/repos/octo/hello/issues").await;
    let list_etag = header(&list, "etag");
    let same = client
        .request(Method::GET, "/repos/octo/hello/issues")
        .header("If-None-Match", &list_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    fake.add_issue("octo", "hello", IssueSeed::default());
    let grown = client
        .request(Method::GET, "/repos/octo/hello/issues")
        .header("If-None-Match", &list_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(grown.status(), 200);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 304, 200, 200, 304, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_is_refused_until_it_resets() {
    let fake = seeded();
    let client = Client::new(&fake);
    fake.set_rate_limit("core", 1, Duration::from_secs(600));
    let last = client.get("/repos/octo/hello/issues/1").await;
    assert_eq!(last.status(), 200);
    assert_eq!(remaining(&last), 0);
    assert_eq!(header(&last, "x-ratelimit-used"), "5000");
    let refused = client.get("/repos/octo/hello/issues/1").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(remaining(&refused), 0);
    let reset: u64 = header(&refused, "x-ratelimit-reset").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 590..=now + 600).contains(&reset),
        "reset {reset}, now {now}"
    );
    let (status, _) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "refused"}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        fake.issue("octo", "hello", 16).is_none(),
        "a refused write has no effect"
    );

    // /rate_limit still answers, for free; search has its own budget.
    let limits = client.get_json("/rate_limit").await;
    assert_eq!(limits["resources"]["core"]["remaining"], 0);
    assert_eq!(limits["rate"]["remaining"], 0);
    assert_eq!(limits["resources"]["search"]["remaining"], 30);
    let search = client.get("/search/issues?q=test").await;
    assert_eq!(search.status(), 200);
    assert_eq!(remaining(&search), 29);
    assert_eq!(
        client.get_json("/rate_limit").await["resources"]["search"]["used"],
        1
    );

    // Once the reset time has passed, the budget is full again.
    fake.set_rate_limit("core", 0, Duration::ZERO);
    let refilled = client.get("/repos/octo/hello/issues/1").await;
    assert_eq!(refilled.status(), 200);
    assert_eq!(remaining(&refilled), 4999);

    fake.set_rate_limit("search", 0, Duration::from_secs(60));
    let search = client.get("/search/issues?q=test").await;
    assert_eq!(search.status(), 403);
    assert_eq!(header(&search, "x-ratelimit-resource"), "search");
    assert_eq!(client.get("/repos/octo/hello/issues/1").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn secondary_limits_answer_with_retry_after_then_end() {
    let fake = seeded();
    let client = Client::new(&fake);
    fake.set_secondary_limit(Some(17), 429, 2);
    for _ in 0..2 {
        let limited = client.get("/repos/octo/hello/issues/1").await;
        assert_eq!(limited.status(), 429);
        assert_eq!(header(&limited, "retry-after"), "17");
        let body: Value = limited.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().starts_with(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            ),
            "{body}"
        );
        assert!(body["documentation_url"].is_string());
    }
    assert_eq!(client.get("/repos/octo/hello/issues/1").await.status(), 200);

    fake.set_secondary_limit(None, 403, 1);
    let limited = client.get("/search/issues?q=test").await;
    assert_eq!(limited.status(), 403);
    assert!(limited.headers().get("retry-after").is_none());
    assert_eq!(client.get("/search/issues?q=test").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_known_tokens_get_in() {
    let fake = FakeGitHub::start_with_tokens(&["ghp_alice0001", "ghp_bob00002"]);
    fake.add_repo("octo", "hello");
    let url = format!("{}/repos/octo/hello/issues", fake.base_url);
    let http = reqwest::Client::new();
    let status = |auth: Option<&'static str>| {
        let mut request = http.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(None).await, 401);
    assert_eq!(status(Some("Bearer ghp_testtokentesttokentest")).await, 401);
    assert_eq!(status(Some("Basic ghp_alice0001")).await, 401);
    assert_eq!(status(Some("Bearer ghp_alice0001")).await, 200);
    assert_eq!(status(Some("token ghp_bob00002")).await, 200);
    assert_eq!(fake.requests()[0].status, 401);

    // What a token creates is authored by its user.
    let bob = Client::with_token(&fake, "ghp_bob00002");
    let (_, created) = bob
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "By Bob"}),
        )
        .await;
    assert_eq!(created["user"]["login"], login_of("ghp_bob00002"));
    assert_eq!(
        bob.get_json("/user").await["login"],
        login_of("ghp_bob00002")
    );
}

// ---------------------------------------------------------------------------------------------
// Behaviour: writes

#[tokio::test(flavor = "multi_thread")]
async fn creating_an_issue_validates_and_creates_labels() {
    let fake = seeded();
    let client = Client::new(&fake);
    let new =
        json!({"title": "New", "body": "Text", "labels": ["BUG", "fresh"], "assignees": ["hubot"]});
    let response = client
        .send(Method::POST, "/repos/octo/hello/issues", Some(new))
        .await;
    assert_eq!(response.status(), 201);
    let location = header(&response, "location");
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["number"], 16,
        "numbers are shared with pull requests"
    );
    assert_eq!(location, created["url"]);
    assert_eq!(
        location,
        format!("{}/repos/octo/hello/issues/16", fake.base_url)
    );
    assert_eq!(
        created["html_url"],
        "https://github.com/octo/hello/issues/16"
    );
    assert_eq!(
        (&created["state"], &created["comments"]),
        (&json!("open"), &json!(0))
    );
    assert_eq!(created["assignee"]["login"], "hubot");
    // An existing label is reused whatever its case; an unknown one is created.
    assert_eq!(label_names(&created["labels"]), ["bug", "fresh"]);
    let existing = &client.get_json("/repos/octo/hello/issues/1").await["labels"][0];
    assert_eq!(created["labels"][0], *existing);
    assert_eq!(
        fake.issue("octo", "hello", 16).unwrap(),
        client.get_json(&location).await
    );

    let (status, refused) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "x", "assignees": ["ghost"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        refused["errors"],
        json!([{"resource": "Issue", "code": "invalid", "field": "assignees", "value": "ghost"}])
    );
    let (status, _) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "  "}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        fake.issue("octo", "hello", 17).is_none(),
        "refused creates have no effect"
    );
    fake.add_user("ghost");
    let (status, _) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "x", "assignees": ["ghost"]}),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_replaces_labels_and_assignees_while_post_labels_adds() {
    let fake = seeded();
    let client = Client::new(&fake);
    let path = "/repos/octo/hello/issues/1";
    let (status, added) = client
        .call(
            Method::POST,
            &format!("{path}/labels"),
            json!({"labels": ["ui", "Bug"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        label_names(&added),
        ["bug", "ui"],
        "added to the existing ones, once each"
    );
    let (_, added) = client
        .call(Method::POST, &format!("{path}/labels"), json!(["docs"]))
        .await;
    assert_eq!(label_names(&added), ["bug", "ui", "docs"]);

    let before = client.get_json(path).await["updated_at"].clone();
    let replace = json!({"labels": ["docs", "new"], "assignees": ["hubot", "octocat"]});
    let (status, patched) = client.call(Method::PATCH, path, replace).await;
    assert_eq!(status, 200);
    assert_eq!(label_names(&patched["labels"]), ["docs", "new"]);
    let logins: Vec<_> = patched["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["login"])
        .collect();
    assert_eq!(logins, ["hubot", "octocat"]);
    assert_eq!(patched["assignee"]["login"], "hubot");
    assert!(
        patched["updated_at"].as_str() > before.as_str(),
        "updated_at moves on"
    );
    assert_eq!(patched["title"], "Test issue 1", "fields not sent are kept");
    let (_, cleared) = client
        .call(Method::PATCH, path, json!({"labels": [], "assignees": []}))
        .await;
    assert_eq!(cleared["labels"], json!([]));
    assert_eq!(cleared["assignee"], Value::Null);
    assert_eq!(fake.issue("octo", "hello", 1).unwrap()["labels"], json!([]));

    let (status, _) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues/99/labels",
            json!({"labels": ["x"]}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_and_reopening_set_state_reason_and_closed_at() {
    let fake = seeded();
    let client = Client::new(&fake);
    let path = "/repos/octo/hello/issues/2";
    let (_, closed) = client
        .call(Method::PATCH, path, json!({"state": "closed"}))
        .await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "completed");
    assert_eq!(closed["closed_at"], closed["updated_at"]);
    assert_eq!(closed["closed_by"]["login"], "octocat");

    let (_, reopened) = client
        .call(Method::PATCH, path, json!({"state": "open"}))
        .await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["state_reason"], "reopened");
    assert_eq!(reopened["closed_at"], Value::Null);

    let (_, not_planned) = client
        .call(
            Method::PATCH,
            path,
            json!({"state": "closed", "state_reason": "not_planned"}),
        )
        .await;
    assert_eq!(not_planned["state_reason"], "not_planned");
    let (_, retitled) = client
        .call(Method::PATCH, path, json!({"title": "Renamed"}))
        .await;
    assert_eq!(
        retitled["state_reason"], "not_planned",
        "other edits keep the state"
    );
    assert_eq!(retitled["closed_at"], not_planned["closed_at"]);

    let (status, refused) = client
        .call(Method::PATCH, path, json!({"state_reason": "bored"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(refused["errors"][0]["field"], "state_reason");
    let (status, _) = client
        .call(
            Method::PATCH,
            "/repos/octo/hello/issues/99",
            json!({"state": "closed"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_issues_are_gone_everywhere() {
    let fake = seeded();
    fake.delete_issue("octo", "hello", 2);
    let client = Client::new(&fake);
    for (method, path) in [
        (Method::GET, "/repos/octo/hello/issues/2"),
        (Method::PATCH, "/repos/octo/hello/issues/2"),
        (Method::GET, "/repos/octo/hello/issues/2/comments"),
        (Method::POST, "/repos/octo/hello/issues/2/labels"),
    ] {
        let response = client
            .send(method, path, Some(json!({"labels": ["x"]})))
            .await;
        assert_eq!(response.status(), 410, "{path}");
    }
    let list = client
        .get_json("/repos/octo/hello/issues?per_page=100")
        .await;
    assert!(!numbers(&list).contains(&2));
    let search = client
        .get_json("/search/issues?q=%22test%20issue%202%22")
        .await;
    assert!(!numbers(&search["items"]).contains(&2));
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_are_listed_by_page_and_counted_on_the_issue() {
    let fake = seeded();
    for i in 0..4 {
        fake.add_comment("octo", "hello", 5, "hubot", &format!("comment {i}"));
    }
    let client = Client::new(&fake);
    let first = client
        .get("/repos/octo/hello/issues/5/comments?per_page=3")
        .await;
    let link = header(&first, "link");
    assert_eq!(rels(&link), ["next", "last"]);
    let first: Value = first.json().await.unwrap();
    let second = client.get_json(&link_to(&link, "next").unwrap()).await;
    let bodies: Vec<_> = first
        .as_array()
        .unwrap()
        .iter()
        .chain(second.as_array().unwrap())
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        (0..4)
            .map(|i| json!(format!("comment {i}")))
            .collect::<Vec<_>>()
    );

    let before = client.get_json("/repos/octo/hello/issues/5").await;
    assert_eq!(before["comments"], 4);
    let response = client
        .send(
            Method::POST,
            "/repos/octo/hello/issues/5/comments",
            Some(json!({"body": "Mine"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = header(&response, "location");
    let comment: Value = response.json().await.unwrap();
    assert_eq!(location, comment["url"]);
    assert_eq!(
        (&comment["body"], &comment["user"]["login"]),
        (&json!("Mine"), &json!("octocat"))
    );
    assert_eq!(comment["issue_url"], before["url"]);
    let after = client.get_json("/repos/octo/hello/issues/5").await;
    assert_eq!(after["comments"], 5);
    assert!(after["updated_at"].as_str() > before["updated_at"].as_str());
    let (status, _) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues/99/comments",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_honours_terms_and_qualifiers() {
    let fake = seeded();
    fake.add_repo("octo", "other");
    let seed = IssueSeed {
        title: "Other repo issue".into(),
        body: Some("mentions a Test".into()),
        labels: vec!["good first issue".into()],
        user: "hubot".into(),
        ..IssueSeed::default()
    };
    fake.add_issue("octo", "other", seed);
    let client = Client::new(&fake);
    let search = |q: &'static str| {
        let client = &client;
        async move {
            let items = client.get_json(&format!("/search/issues?q={q}")).await;
            let mut found = numbers(&items["items"]);
            found.sort_unstable();
            assert_eq!(items["total_count"], found.len(), "{q}");
            found
        }
    };
    assert_eq!(
        search("TEST%20repo:octo/hello%20is:open%20is:issue").await,
        (1..=13).collect::<Vec<_>>()
    );
    assert_eq!(search("repo:octo/hello%20is:pr").await, [14]);
    assert_eq!(search("repo:octo/hello%20state:closed").await, [15]);
    assert_eq!(search("repo:octo/hello%20is:closed%20is:issue").await, [15]);
    assert_eq!(
        search("body%20of%20issue%2012").await,
        [12],
        "every word, in the body too"
    );
    assert_eq!(search("label:%22good%20first%20issue%22").await, [1]);
    assert_eq!(
        search("test%20author:hubot%20in:title").await,
        [1],
        "in:title is ignored"
    );
    assert_eq!(search("repo:octo/hello%20assignee:hubot").await, [15]);
    assert_eq!(search("nothing-matches-this").await, Vec::<u64>::new());

    let page = client
        .get("/search/issues?q=repo:octo/hello&per_page=5&page=2&sort=created&order=asc")
        .await;
    let link = header(&page, "link");
    assert_eq!(rels(&link), ["prev", "next", "last", "first"]);
    assert!(
        link.contains(
            "/search/issues?q=repo%3Aocto%2Fhello&per_page=5&sort=created&order=asc&page=3"
        ),
        "{link}"
    );
    let page: Value = page.json().await.unwrap();
    assert_eq!(numbers(&page["items"]), [6, 7, 8, 9, 10]);
    assert_eq!(page["total_count"], 15);
}

// ---------------------------------------------------------------------------------------------
// Behaviour: records and faults

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_recorded_as_sent() {
    let fake = seeded();
    let client = Client::new(&fake);
    client
        .get("/repos/octo/hello/issues?state=all&per_page=2")
        .await;
    client
        .call(
            Method::PATCH,
            "/repos/octo/hello/issues/1",
            json!({"title": "T"}),
        )
        .await;
    let requests = fake.requests();
    assert_eq!(fake.request_count(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path_and_query,
        "/repos/octo/hello/issues?state=all&per_page=2"
    );
    assert_eq!(
        requests[0].headers["authorization"],
        format!("Bearer {TEST_TOKEN}")
    );
    assert_eq!(requests[0].headers["accept"], "application/vnd.github+json");
    assert_eq!((requests[0].status, requests[1].status), (200, 200));
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        serde_json::from_str::<Value>(&requests[1].body).unwrap(),
        json!({"title": "T"})
    );
    assert!(requests[0].at <= requests[1].at);
    fake.reset_records();
    assert_eq!(fake.request_count(), 0);
    assert_eq!(fake.max_in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_in_flight_counts_concurrent_requests() {
    let fake = seeded();
    let client = Client::new(&fake);
    client.get("/repos/octo/hello/issues/1").await;
    client.get("/repos/octo/hello/issues/2").await;
    assert_eq!(fake.max_in_flight(), 1, "one after the other");

    // With latency, five requests sent together are all in flight at once: each is counted
    // from its arrival until its delayed answer.
    fake.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let paths: Vec<String> = (1..=5)
        .map(|n| format!("/repos/octo/hello/issues/{n}"))
        .collect();
    let calls = paths.iter().map(|path| client.get_json(path));
    let answers = futures_util::future::join_all(calls).await;
    assert_eq!(numbers(&json!(answers)), [1, 2, 3, 4, 5]);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the latency applies"
    );
    assert_eq!(fake.max_in_flight(), 5);
    fake.reset_records();
    fake.set_latency(Duration::ZERO);
    client.get("/repos/octo/hello/issues/1").await;
    assert_eq!(fake.max_in_flight(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_next_answers_github_errors_without_effect() {
    let fake = seeded();
    let client = Client::new(&fake);
    fake.fail_next(502, 2);
    let (status, body) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "during the outage"}),
        )
        .await;
    assert_eq!(status, 502);
    assert_eq!(body["message"], "Bad Gateway");
    assert!(body["documentation_url"].is_string());
    assert_eq!(client.get("/repos/octo/hello/issues/1").await.status(), 502);
    assert!(fake.issue("octo", "hello", 16).is_none());
    assert_eq!(client.get("/repos/octo/hello/issues/1").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_loses_the_answer_but_not_the_write() {
    let fake = seeded();
    let client = Client::new(&fake);
    fake.drop_connection_next("post", 1);
    // GETs are not affected.
    assert_eq!(client.get("/repos/octo/hello/issues/1").await.status(), 200);
    let lost = client
        .request(Method::POST, "/repos/octo/hello/issues")
        .json(&json!({"title": "Once"}))
        .send()
        .await;
    let error = lost.expect_err("the connection closes before any answer");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    let created = fake
        .issue("octo", "hello", 16)
        .expect("GitHub did create it");
    assert_eq!(created["title"], "Once");
    assert_eq!(
        fake.requests().last().unwrap().status,
        201,
        "the answer that was lost"
    );

    let (status, next) = client
        .call(
            Method::POST,
            "/repos/octo/hello/issues",
            json!({"title": "Twice"}),
        )
        .await;
    assert_eq!((status.as_u16(), &next["number"]), (201, &json!(17)));
}
