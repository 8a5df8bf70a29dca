//! A small GitHub REST client and seeds for the tests of the fake GitHub itself
//! (`tests/fake_github.rs`, `tests/fake_github_drift.rs`): plain HTTP, no gateway in between.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN};

#[derive(Debug)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub fn new(fake: &FakeGitHub) -> Client {
        Client::with_token(fake, TEST_TOKEN)
    }

    pub fn with_token(fake: &FakeGitHub, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: fake.base_url.clone(),
            token: token.into(),
        }
    }

    /// `path` is relative to the fake, or a full URL (as `Link` headers give them).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.http
            .request(method, url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/vnd.github+json")
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(Method::GET, path, None).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// The status and JSON body of a request with a JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.send(method, path, Some(body)).await;
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

pub fn remaining(response: &reqwest::Response) -> u64 {
    header(response, "x-ratelimit-remaining").parse().unwrap()
}

pub fn numbers(items: &Value) -> Vec<u64> {
    let items = items.as_array().unwrap();
    items
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect()
}

pub fn label_names(labels: &Value) -> Vec<&str> {
    let labels = labels.as_array().unwrap();
    labels.iter().map(|l| l["name"].as_str().unwrap()).collect()
}

/// The `rel`s of a `Link` header, in order.
pub fn rels(link: &str) -> Vec<String> {
    link.split(", ")
        .map(|part| {
            part.split("rel=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches('"')
                .to_string()
        })
        .collect()
}

/// The URL of the `rel` link, if any.
pub fn link_to(link: &str, rel: &str) -> Option<String> {
    let part = link
        .split(", ")
        .find(|p| p.ends_with(&format!("rel=\"{rel}\"")))?;
    Some(part[1..part.find('>').unwrap()].to_string())
}

/// 13 issues, titled and ordered as in the recording of paginate-issues.
pub fn thirteen_issues() -> (FakeGitHub, u64) {
    let fake = FakeGitHub::start();
    let id = fake.add_repo("octo", "hello");
    for i in 1..=13 {
        let seed = IssueSeed {
            title: format!("Test issue {i}"),
            body: (i % 2 == 0).then(|| format!("Body of test issue {i}")),
            labels: vec!["bug".into()],
            ..IssueSeed::default()
        };
        fake.add_issue("octo", "hello", seed);
    }
    (fake, id)
}

/// The 13 issues, a pull request (14), a closed issue (15) and a comment on issue 1.
pub fn seeded() -> FakeGitHub {
    let (fake, _) = thirteen_issues();
    fake.add_pull_request("octo", "hello", "A pull request");
    let closed = IssueSeed {
        title: "Closed test issue".into(),
        state: "closed".into(),
        assignees: vec!["hubot".into()],
        ..IssueSeed::default()
    };
    fake.add_issue("octo", "hello", closed);
    fake.add_comment("octo", "hello", 1, "hubot", "A comment");
    fake
}
