//! Tool results rendered once and reused while the GitHub data behind them is the same.
//!
//! Many agents asking for the same list get the same answer: GitHub answers the gateway's
//! revalidation with a 304, or one request serves many callers, and the gateway hands every
//! caller the same decoded page (the same `Arc`). Rendering that page into Markdown and JSON
//! and serializing the result again for each call was most of a call's cost. A read tool keys
//! its rendering by what else shapes it (tool, arguments, credential, protocol version) and
//! names the pages it was made from; the next call with the same key and the *same* pages gets
//! the serialized result back as it is.
//!
//! Sources are remembered by identity through `Weak` pointers: a `Weak` keeps the allocation's
//! address from being reused while it lives, so an address match is a match of the very same
//! decoded page, and the cache never keeps GitHub data alive that the gateway has dropped.
//! Bounded in entries and bytes; the least recently used entry goes first.
//!
//! A rendering with fenced user text ([`Fence`]) carries the code of its markers, which must be
//! new in every answer, to every caller. Such a rendering is kept with where its code stands
//! ([`Renderings::keep_fenced`]), and each reuse gets a copy with a fresh code written over
//! the old one: a copy and a check of the JSON, not a new rendering.

use std::{
    any::Any,
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, Weak},
};

use serde_json::value::RawValue;

use super::render::Fence;
use crate::{mcp::jsonrpc::SerializedResult, metrics::Metrics};

/// Renderings kept at most: one per distinct (tool, arguments, credential, version) in use.
const MAX_ENTRIES: usize = 512;
/// Bytes of serialized results kept at most.
const MAX_BYTES: usize = 16 << 20;

type Source = Weak<dyn Any + Send + Sync>;

struct Entry {
    sources: Vec<Source>,
    result: SerializedResult,
    /// Where the fence code stands in `result`'s JSON, and its length: empty for a rendering
    /// without fenced text.
    codes: Arc<[usize]>,
    code_len: usize,
    /// Bytes counted against `MAX_BYTES`: the result and its key.
    size: usize,
    last_used: u64,
}

#[derive(Default)]
struct Kept {
    entries: HashMap<String, Entry>,
    bytes: usize,
    clock: u64,
}

/// The renderings of every GitHub tool, shared by all sessions. Cheap to clone.
#[derive(Clone, Default)]
pub struct Renderings {
    kept: Arc<Mutex<Kept>>,
    metrics: Metrics,
}

impl fmt::Debug for Renderings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = self.lock();
        write!(
            f,
            "Renderings({} kept, {} bytes)",
            kept.entries.len(),
            kept.bytes
        )
    }
}

fn same_sources<T: Any + Send + Sync>(kept: &[Source], sources: &[Arc<T>]) -> bool {
    kept.len() == sources.len()
        && kept
            .iter()
            .zip(sources)
            .all(|(kept, source)| std::ptr::addr_eq(kept.as_ptr(), Arc::as_ptr(source)))
}

impl Renderings {
    /// Renderings that count their reuse in `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Renderings {
            kept: Arc::default(),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic elsewhere while holding the lock leaves whole entries behind: still usable.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The result rendered under `key` from exactly these sources, if it is kept.
    pub fn get<T: Any + Send + Sync>(
        &self,
        key: &str,
        sources: &[Arc<T>],
    ) -> Option<SerializedResult> {
        let mut kept = self.lock();
        kept.clock += 1;
        let now = kept.clock;
        let entry = kept.entries.get_mut(key)?;
        if !same_sources(&entry.sources, sources) {
            return None;
        }
        entry.last_used = now;
        let (result, codes, code_len) = (entry.result.clone(), entry.codes.clone(), entry.code_len);
        drop(kept);
        let result = if codes.is_empty() {
            result
        } else {
            recoded(&result, &codes, code_len)?
        };
        self.metrics.tool_result_reused();
        Some(result)
    }

    /// Keeps `result`, rendered from `sources` with its user text inside `fence`'s markers,
    /// under `key`: each reuse gets a fresh code in place of `fence`'s.
    pub fn keep_fenced<T: Any + Send + Sync>(
        &self,
        key: String,
        sources: &[Arc<T>],
        result: SerializedResult,
        fence: &Fence,
    ) {
        let code = fence.code();
        let codes = result
            .json()
            .match_indices(code)
            .map(|(at, _)| at)
            .collect();
        self.store(key, sources, result, codes, code.len());
    }

    /// Keeps `result`, rendered from `sources`, under `key` (replacing an older rendering).
    pub fn keep<T: Any + Send + Sync>(
        &self,
        key: String,
        sources: &[Arc<T>],
        result: SerializedResult,
    ) {
        self.store(key, sources, result, Arc::new([]), 0);
    }

    fn store<T: Any + Send + Sync>(
        &self,
        key: String,
        sources: &[Arc<T>],
        result: SerializedResult,
        codes: Arc<[usize]>,
        code_len: usize,
    ) {
        let size = result.json().len() + key.len() + codes.len() * size_of::<usize>();
        if size > MAX_BYTES / 8 {
            // Too big to keep; the older rendering under this key is of older pages anyway.
            let mut kept = self.lock();
            if let Some(old) = kept.entries.remove(&key) {
                kept.bytes -= old.size;
            }
            return;
        }
        let sources = sources
            .iter()
            .map(|source| {
                let source: Arc<dyn Any + Send + Sync> = source.clone();
                Arc::downgrade(&source)
            })
            .collect();
        let mut kept = self.lock();
        kept.clock += 1;
        let entry = Entry {
            sources,
            result,
            codes,
            code_len,
            size,
            last_used: kept.clock,
        };
        if let Some(old) = kept.entries.insert(key, entry) {
            kept.bytes -= old.size;
        }
        kept.bytes += size;
        while (kept.entries.len() > MAX_ENTRIES || kept.bytes > MAX_BYTES) && kept.evict_oldest() {}
    }
}

/// `result` with a fresh fence code at `codes`, over the old one of `code_len` bytes. `None`
/// if that cannot be (a code of another length): the caller renders anew.
fn recoded(
    result: &SerializedResult,
    codes: &[usize],
    code_len: usize,
) -> Option<SerializedResult> {
    let kept = result.json();
    // Drawn until the kept text does not hold it anywhere, so that, as in a new rendering, no
    // user text can show the code but the markers (a chance of one in 2^62 per try).
    let fresh = loop {
        let fence = Fence::new();
        if !kept.contains(fence.code()) {
            break fence;
        }
    };
    let fresh = fresh.code();
    if fresh.len() != code_len {
        return None;
    }
    let mut json = kept.to_string();
    for &at in codes {
        // Hex digits over hex digits inside a JSON string: the text stays valid JSON.
        json.replace_range(at..at + code_len, fresh);
    }
    let json = RawValue::from_string(json).ok()?;
    Some(SerializedResult::of_serializable(
        &json,
        result.is_tool_error(),
    ))
}

impl Kept {
    /// Drops the least recently used entry; false when there was none.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(key, _)| key.clone());
        match oldest.and_then(|key| self.entries.remove(&key)) {
            Some(entry) => {
                self.bytes -= entry.size;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::slice;

    use serde_json::{Map, Value};

    use super::*;

    fn result(text: &str) -> SerializedResult {
        let mut map = Map::new();
        map.insert("text".into(), Value::String(text.into()));
        SerializedResult::of(&map)
    }

    fn len(renderings: &Renderings) -> usize {
        renderings.lock().entries.len()
    }

    #[test]
    fn a_rendering_is_reused_only_for_the_very_same_sources() {
        let renderings = Renderings::default();
        let page = Arc::new(vec![1, 2, 3]);
        renderings.keep("k".into(), slice::from_ref(&page), result("one"));

        let hit = renderings
            .get("k", slice::from_ref(&page))
            .expect("same page");
        assert_eq!(hit.json(), r#"{"text":"one"}"#);
        // Equal data in another page is another answer from GitHub: rendered again.
        assert!(renderings.get("k", &[Arc::new(vec![1, 2, 3])]).is_none());
        assert!(renderings.get("k", &[page.clone(), page.clone()]).is_none());
        assert!(renderings.get("other", slice::from_ref(&page)).is_none());

        let newer = Arc::new(vec![4]);
        renderings.keep("k".into(), slice::from_ref(&newer), result("two"));
        assert!(renderings.get("k", &[page]).is_none());
        assert_eq!(
            renderings.get("k", &[newer]).unwrap().json(),
            r#"{"text":"two"}"#
        );
        assert_eq!(len(&renderings), 1);
    }

    #[test]
    fn a_fenced_rendering_gets_a_fresh_code_on_every_reuse() {
        let renderings = Renderings::default();
        let page = Arc::new(1);
        let fence = Fence::new();
        let code = fence.code().to_string();
        let text = format!("note {code}; {code} body {code}>>>");
        renderings.keep_fenced("k".into(), slice::from_ref(&page), result(&text), &fence);

        let codes: Vec<String> = (0..2)
            .map(|_| {
                let hit = renderings.get("k", slice::from_ref(&page)).unwrap();
                let value: Value = serde_json::from_str(hit.json()).unwrap();
                let text = value["text"].as_str().unwrap();
                assert!(!text.contains(&code), "{text}");
                let fresh = &text["note ".len().."note ".len() + code.len()];
                assert_eq!(text, format!("note {fresh}; {fresh} body {fresh}>>>"));
                fresh.to_string()
            })
            .collect();
        assert_ne!(codes[0], codes[1]);
    }

    #[test]
    fn kept_renderings_do_not_keep_github_data_alive() {
        let renderings = Renderings::default();
        let page = Arc::new(vec![0u8; 1024]);
        renderings.keep("k".into(), slice::from_ref(&page), result("x"));
        assert_eq!(Arc::strong_count(&page), 1);
        assert_eq!(Arc::weak_count(&page), 1);
    }

    #[test]
    fn reuse_is_counted() {
        let metrics = Metrics::default();
        let renderings = Renderings::new(metrics.clone());
        let page = Arc::new(1);
        renderings.keep("k".into(), slice::from_ref(&page), result("x"));
        renderings.get("k", slice::from_ref(&page));
        renderings.get("k", &[Arc::new(1)]);
        let text = metrics.render(&Default::default());
        assert!(text.contains("mcp_tool_results_reused_total 1"), "{text}");
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let renderings = Renderings::default();
        let page = Arc::new(0);
        renderings.keep("first".into(), slice::from_ref(&page), result("first"));
        renderings.keep("second".into(), slice::from_ref(&page), result("second"));
        renderings.get("first", slice::from_ref(&page)).unwrap();
        for n in 0..MAX_ENTRIES - 1 {
            renderings.keep(format!("more {n}"), slice::from_ref(&page), result("x"));
        }
        assert_eq!(len(&renderings), MAX_ENTRIES);
        assert!(renderings.get("second", slice::from_ref(&page)).is_none());
        assert!(renderings.get("first", slice::from_ref(&page)).is_some());

        // Bytes are bounded too: a few big results push the rest out.
        let big = "x".repeat(MAX_BYTES / 10);
        for n in 0..12 {
            renderings.keep(format!("big {n}"), slice::from_ref(&page), result(&big));
        }
        assert!(renderings.get("big 11", slice::from_ref(&page)).is_some());
        {
            let kept = renderings.lock();
            assert!(kept.bytes <= MAX_BYTES, "{} bytes", kept.bytes);
            let counted: usize = kept.entries.values().map(|entry| entry.size).sum();
            assert_eq!(counted, kept.bytes);
        }

        // Too big to keep: not kept, and the older rendering under its key is dropped.
        let huge = "x".repeat(MAX_BYTES / 8 + 1);
        renderings.keep("big 11".into(), slice::from_ref(&page), result(&huge));
        assert!(renderings.get("big 11", slice::from_ref(&page)).is_none());
        let kept = renderings.lock();
        let counted: usize = kept.entries.values().map(|entry| entry.size).sum();
        assert_eq!(counted, kept.bytes);
    }
}
