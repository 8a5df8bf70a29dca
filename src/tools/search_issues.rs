//! `search_issues`: GitHub's issue search, confined to the allowed repositories when the
//! policy names them.

use serde_json::{Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::{ArgError, Args},
    definition::{define, hints, input},
    github_tool::{About, Env, HandlerResult, output},
    render::{UNTRUSTED_NOTE, clean_line, shape},
};

pub fn definition() -> ToolDefinition {
    define(
        "search_issues",
        "Search issues",
        "Search issues and pull requests across GitHub with GitHub's search syntax, e.g. \
         `repo:owner/name is:issue is:open label:bug crash`. Add `is:issue` to leave pull \
         requests out. Returns the total count and, per result, repository, number, title, \
         state and URL. Search has its own, smaller rate limit (30 per minute).",
        input(
            json!({
                "query": {"type": "string", "minLength": 1, "maxLength": 256,
                          "description": "GitHub issue search query"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            }),
            &["query"],
        ),
        json!({
            "type": "object",
            "properties": {
                "total_count": {"type": "integer"},
                "incomplete_results": {"type": "boolean"},
                "items": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "repository": {"type": "string"},
                        "number": {"type": "integer"},
                        "title": {"type": "string"},
                        "state": {"type": "string"},
                        "url": {"type": "string"},
                        "is_pull_request": {"type": "boolean"},
                    },
                    "required": ["repository", "number", "title", "state", "url", "is_pull_request"],
                }},
            },
            "required": ["total_count", "incomplete_results", "items"],
        }),
        hints(true, false, true),
    )
}

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let asked = args.string_within("query", 1..=256)?;
        let query = env.policy.constrain_search(&asked).map_err(ArgError)?;
        let limit = args.integer("limit", 1..=50, Some(10))? as u32;
        let results = env
            .github
            .search_issues(&env.credential, &query, limit)
            .await
            .about(|| format!("the search {query:?}"))?;
        // The query is confined, and results are checked all the same: GitHub's reading of a
        // query is not ours to predict.
        let mut outside = 0;
        let items: Vec<Value> = results
            .items
            .iter()
            .filter(|issue| {
                let allowed = !env.policy.confines_repositories()
                    || issue
                        .repository()
                        .is_some_and(|repo| env.policy.allows(&repo));
                outside += usize::from(!allowed);
                allowed
            })
            .map(|issue| {
                json!({
                    "repository": shape::repository(issue.repository().as_deref()),
                    "number": issue.number(),
                    "title": clean_line(issue.title()),
                    "state": shape::state(issue.state()),
                    "url": shape::web_url(issue.html_url()),
                    "is_pull_request": issue.is_pull_request(),
                })
            })
            .collect();
        // GitHub's total counts what was left out: shown, it would tell how much lies outside
        // the allowed repositories. Then the total is what is shown, and the text says why.
        let total = if outside > 0 {
            items.len() as u64
        } else {
            results.total_count
        };
        let mut text = format!(
            "{total} results in total for {query:?}, showing {}{}",
            items.len(),
            if results.incomplete_results {
                " (GitHub says the results are incomplete: the search timed out)"
            } else {
                ""
            }
        );
        if outside > 0 {
            text.push_str(
                " (results from repositories outside those allowed on this server were left \
                 out; the total counts only those shown)",
            );
        }
        if !items.is_empty() {
            text.push_str(&format!(":\n{UNTRUSTED_NOTE}\n"));
        }
        for item in &items {
            text.push_str(&format!(
                "\n- {}#{} {} [{}{}]\n  {}",
                item["repository"].as_str().unwrap_or_default(),
                item["number"],
                item["title"].as_str().unwrap_or_default(),
                item["state"].as_str().unwrap_or_default(),
                if item["is_pull_request"] == true {
                    ", pull request"
                } else {
                    ""
                },
                item["url"].as_str().unwrap_or_default(),
            ));
        }
        Ok(output(text, {
            let mut structured = json!({
                "total_count": total,
                "incomplete_results": results.incomplete_results,
            });
            structured["items"] = Value::Array(items);
            structured
        })
        .into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        policy::{Policy, PolicySettings},
        tools::{
            definition::testing::assert_well_formed,
            github_tool::testing::{refusal, refusal_under},
        },
    };

    #[test]
    fn the_definition_is_well_formed_and_read_only() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "search_issues");
        assert_eq!(definition.annotations, Some(hints(true, false, true)));
    }

    #[actix::test]
    async fn a_search_outside_the_allowed_repositories_is_refused() {
        let policy = || {
            Policy::new(&PolicySettings {
                repositories: "octo/hello".into(),
                ..PolicySettings::default()
            })
            .unwrap()
        };
        let text = refusal_under(
            policy(),
            definition(),
            handle,
            json!({"query": "repo:octo/secret crash"}),
        )
        .await;
        assert!(
            text.starts_with("the search targets repo:octo/secret, which is outside"),
            "{text}"
        );
        let text = refusal_under(
            policy(),
            definition(),
            handle,
            json!({"query": "crash OR hang"}),
        )
        .await;
        assert!(text.starts_with("the search uses OR"), "{text}");
    }

    #[actix::test]
    async fn a_blank_query_or_a_limit_out_of_range_is_refused() {
        let text = refusal(definition(), handle, json!({"query": "   "})).await;
        assert!(
            text.contains("`query` must be 1 to 256 characters long"),
            "{text}"
        );
        let text = refusal(definition(), handle, json!({"query": "crash", "limit": 51})).await;
        assert!(
            text.contains("`limit` must be a whole number from 1 to 50"),
            "{text}"
        );
    }
}
