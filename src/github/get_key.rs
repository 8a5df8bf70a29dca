//! The key of a GET in the gateway's maps (its pending GETs, the ETag cache): its token and
//! URL, hashed once when the call comes rather than at each of the several lookups of one call.
//!
//! The hash is SipHash with random keys, as a standard `HashMap`'s: the URL holds
//! client-chosen owner and repository names, so a hash they could predict would let a client
//! fill one bucket. The maps themselves only pass the stored hash through ([`Prehashed`]); all
//! keys of one map come from the same [`GetKeys`].

use std::{
    collections::HashMap,
    hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState},
    rc::Rc,
};

use crate::github::request::TokenKey;

/// One GET: its token and URL, with their hash. A copy shares the URL (the pending map,
/// the call and the cache each hold one).
#[derive(Debug, Clone)]
pub struct GetKey {
    hash: u64,
    token: TokenKey,
    url: Rc<str>,
}

impl PartialEq for GetKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.token == other.token && self.url == other.url
    }
}

impl Eq for GetKey {}

impl Hash for GetKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl GetKey {
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Makes [`GetKey`]s, all with the same random SipHash keys.
#[derive(Debug, Default)]
pub struct GetKeys(RandomState);

impl GetKeys {
    pub fn key(&self, token: TokenKey, url: &str) -> GetKey {
        GetKey {
            hash: self.0.hash_one((token, url)),
            token,
            url: url.into(),
        }
    }
}

/// Passes a [`GetKey`]'s hash through.
#[derive(Debug, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (by `GetKey`); this keeps any other input hashed too.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// A map keyed by [`GetKey`]s.
pub type GetKeyMap<V> = HashMap<GetKey, V, BuildHasherDefault<Prehashed>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_find_their_entries_and_only_theirs() {
        let keys = GetKeys::default();
        let mut map = GetKeyMap::default();
        map.insert(keys.key(1, "/repos/a/b/issues"), 1);
        map.insert(keys.key(2, "/repos/a/b/issues"), 2);
        map.insert(keys.key(1, "/repos/a/c/issues"), 3);
        assert_eq!(map.get(&keys.key(1, "/repos/a/b/issues")), Some(&1));
        assert_eq!(map.get(&keys.key(2, "/repos/a/b/issues")), Some(&2));
        assert_eq!(map.get(&keys.key(1, "/repos/a/c/issues")), Some(&3));
        assert_eq!(map.get(&keys.key(2, "/repos/a/c/issues")), None);
        let other = GetKeys::default();
        assert_ne!(
            keys.key(1, "/x").hash,
            other.key(1, "/x").hash,
            "random SipHash keys per gateway"
        );
    }
}
