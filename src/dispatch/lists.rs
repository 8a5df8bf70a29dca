//! The `*/list` methods: one page of tools, resources, templates or prompts at a time. The
//! first page of `tools/list` is kept serialized per revision (the dispatcher's
//! `first_tools_page`).

use serde_json::{Map, Value};

use super::Dispatcher;
use crate::mcp::{
    jsonrpc::{ErrorObject, ResultObject, SerializedResult},
    protocol::{ListParams, ProtocolVersion, paginate, parse_params},
};

impl Dispatcher {
    pub(super) fn list(
        &self,
        method: &str,
        params: Option<Value>,
        key: &str,
        items: &[Value],
    ) -> Result<Map<String, Value>, ErrorObject> {
        let params: ListParams = parse_params(method, params)?;
        self.page(key, items, params.cursor.as_deref())
    }

    /// One page of `items` under `key`, from `cursor`, with the next page's cursor.
    fn page(
        &self,
        key: &str,
        items: &[Value],
        cursor: Option<&str>,
    ) -> Result<Map<String, Value>, ErrorObject> {
        let (page, next) = paginate(items, cursor, self.config.page_size)?;
        let mut result = Map::new();
        result.insert(key.into(), Value::Array(page));
        if let Some(next) = next {
            result.insert("nextCursor".into(), Value::String(next));
        }
        Ok(result)
    }

    pub(super) fn list_tools(
        &self,
        params: Option<Value>,
        version: ProtocolVersion,
    ) -> Result<ResultObject, ErrorObject> {
        let tools = |v| self.features.tools.definitions(v);
        let cursor = parse_params::<ListParams>("tools/list", params)?.cursor;
        if cursor.is_some() {
            return self
                .page("tools", tools(version), cursor.as_deref())
                .map(Into::into);
        }
        let first_pages = self.first_tools_page.get_or_init(|| {
            ProtocolVersion::ALL
                .iter()
                .filter_map(|&v| {
                    // Without a cursor there is nothing to refuse: this cannot fail.
                    let page = self.page("tools", tools(v), None).ok()?;
                    Some((v, SerializedResult::of(&page)))
                })
                .collect()
        });
        match first_pages.iter().find(|(v, _)| *v == version) {
            Some((_, page)) => Ok(page.clone().into()),
            None => self.page("tools", tools(version), None).map(Into::into),
        }
    }
}
