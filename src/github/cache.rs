//! The gateway's ETag cache: the last answer to each GET, per credential, for conditional
//! requests.
//!
//! GitHub does not charge a `304 Not Modified` against the primary rate limit, so a repeated
//! read that sends `If-None-Match` and gets a 304 costs no budget and reuses the cached answer.
//! Bounded in entries and bytes (least recently used goes first). A mutation this server makes
//! drops the cached reads of that repository, on every credential, because GitHub may serve a
//! stale list for a moment after a change and the next read must see ours.

use std::{collections::BTreeMap, sync::Arc};

use super::{
    get_key::{GetKey, GetKeyMap},
    request::ApiResponse,
};

/// A GET's token and URL, hashed once by the gateway for all its lookups.
type Key = GetKey;

#[derive(Debug)]
struct Entry {
    etag: String,
    response: Arc<ApiResponse>,
    repo: Option<String>,
    tick: u64,
}

#[derive(Debug)]
pub struct EtagCache {
    entries: GetKeyMap<Entry>,
    /// Last use → key, oldest first.
    recency: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl EtagCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        EtagCache {
            entries: GetKeyMap::default(),
            recency: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// The ETag to send as `If-None-Match` for this read, if it was cached.
    pub fn etag(&self, key: &Key) -> Option<String> {
        self.entries.get(key).map(|entry| entry.etag.clone())
    }

    /// The cached answer, after GitHub said it has not changed.
    pub fn revalidated(&mut self, key: &Key) -> Option<Arc<ApiResponse>> {
        let entry = self.entries.get_mut(key)?;
        // The key filed under the entry's last use is filed under this one: no copy.
        let filed = self.recency.remove(&entry.tick);
        self.tick += 1;
        entry.tick = self.tick;
        self.recency
            .insert(self.tick, filed.unwrap_or_else(|| key.clone()));
        Some(entry.response.clone())
    }

    pub fn insert(
        &mut self,
        key: &Key,
        etag: String,
        repo: Option<String>,
        response: Arc<ApiResponse>,
    ) {
        let size = response.body.len() + key.url().len();
        if size > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let key = key.clone();
        self.remove(&key);
        self.tick += 1;
        self.bytes += size;
        self.recency.insert(self.tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                etag,
                response,
                repo,
                tick: self.tick,
            },
        );
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
    }

    /// Drops every cached read of `repo`, for every credential.
    pub fn invalidate_repo(&mut self, repo: &str) {
        let stale: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.repo.as_deref() == Some(repo))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            self.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove(&mut self, key: &Key) {
        if let Some(entry) = self.entries.remove(key) {
            self.recency.remove(&entry.tick);
            self.bytes -= entry.response.body.len() + key.url().len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::{get_key::GetKeys, request::Links};

    fn response(body: &str) -> Arc<ApiResponse> {
        Arc::new(ApiResponse {
            status: 200,
            body: body.to_string().into(),
            links: Links::default(),
            revalidated: false,
            decoded: Default::default(),
        })
    }

    #[test]
    fn evicts_the_least_recently_used_beyond_the_entry_bound() {
        let k = GetKeys::default();
        let mut cache = EtagCache::new(2, 1 << 20);
        cache.insert(&k.key(1, "a"), "\"1\"".into(), None, response("[]"));
        cache.insert(&k.key(1, "b"), "\"2\"".into(), None, response("[]"));
        assert!(cache.revalidated(&k.key(1, "a")).is_some()); // a is now the most recent
        cache.insert(&k.key(1, "c"), "\"3\"".into(), None, response("[]"));
        assert_eq!(cache.etag(&k.key(1, "b")), None);
        assert_eq!(cache.etag(&k.key(1, "a")).as_deref(), Some("\"1\""));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn bounds_bytes_and_keeps_credentials_apart() {
        let k = GetKeys::default();
        let mut cache = EtagCache::new(100, 30);
        cache.insert(&k.key(1, "u"), "e".into(), None, response("0123456789"));
        assert_eq!(cache.etag(&k.key(2, "u")), None);
        cache.insert(&k.key(2, "u"), "e".into(), None, response("0123456789"));
        cache.insert(&k.key(3, "u"), "e".into(), None, response("0123456789"));
        assert_eq!(
            cache.etag(&k.key(1, "u")),
            None,
            "oldest evicted to stay under 30 bytes"
        );
        assert_eq!(cache.len(), 2);
        cache.insert(&k.key(4, "u"), "e".into(), None, response(&"x".repeat(64)));
        assert_eq!(
            cache.etag(&k.key(4, "u")),
            None,
            "larger than the whole cache"
        );
    }

    #[test]
    fn a_mutation_drops_its_repository_only() {
        let k = GetKeys::default();
        let mut cache = EtagCache::new(10, 1 << 20);
        cache.insert(
            &k.key(1, "x"),
            "e".into(),
            Some("o/r".into()),
            response("1"),
        );
        cache.insert(
            &k.key(2, "y"),
            "e".into(),
            Some("o/r".into()),
            response("1"),
        );
        cache.insert(
            &k.key(1, "z"),
            "e".into(),
            Some("o/other".into()),
            response("1"),
        );
        cache.invalidate_repo("o/r");
        assert_eq!(cache.len(), 1);
        assert!(cache.etag(&k.key(1, "z")).is_some());
    }
}
