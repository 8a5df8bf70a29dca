//! What a replica writes that must name something without revealing it, and what it signs:
//! Redis keys for tokens and principals (HMACs), and the [`super::FORWARDED_BY`] header.
//! Keyed by `cluster.secret` (through a key derived for this use alone), so every replica
//! makes the same names and verifies the others' signatures.

use std::net::IpAddr;

use ring::hmac;

use super::{Forwarded, Instance};
use crate::config::ClusterSettings;

pub(super) struct Names {
    key: hmac::Key,
    /// `cluster.key_prefix`.
    prefix: String,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Names {
    pub(super) fn new(settings: &ClusterSettings) -> Names {
        let secret = settings
            .secret
            .as_ref()
            .map_or(&[][..], |key| key.expose().as_bytes());
        let base = hmac::Key::new(hmac::HMAC_SHA256, secret);
        // A key of its own, so that the names reveal nothing of the secret's other uses.
        let derived = hmac::sign(&base, b"github-issue-mcp redis names v1");
        Names {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            prefix: settings.key_prefix.clone(),
        }
    }

    /// A name for `value` of kind `kind`: 128 bits of HMAC, in hex. The kind goes into the
    /// MAC, so that a token and a principal never share a name.
    pub(super) fn name(&self, kind: &str, value: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(kind.as_bytes());
        context.update(b":");
        context.update(value);
        let tag = context.sign();
        tag.as_ref()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The Redis key of a token's shared rules: an HMAC of its key, never the token or its
    /// plain hash.
    pub(super) fn token_key(&self, token: u128) -> String {
        let name = self.name("token", &token.to_be_bytes());
        format!("{}:token:{name}", self.prefix)
    }

    /// The [`super::FORWARDED_BY`] value for a request from `client` forwarded by `from`
    /// at `now_ms` (Unix time): signed together with the request it rides on (`binding`:
    /// method, target and session), so that it is worth nothing on another request, nor after
    /// [`HOP_VALID_MS`].
    pub(super) fn hop(
        &self,
        from: Instance,
        client: Option<IpAddr>,
        now_ms: u64,
        binding: &str,
    ) -> String {
        let client = client.map_or_else(String::new, |ip| ip.to_string());
        let signed = format!("{from};{client};{now_ms}");
        let mac = self.name("hop", format!("{signed};{binding}").as_bytes());
        format!("{signed};{mac}")
    }

    /// What a [`super::FORWARDED_BY`] value says, if a replica of this cluster signed it for
    /// this request (`binding`) less than [`HOP_VALID_MS`] from `now_ms` (either way: the
    /// replicas' clocks are close, not equal).
    pub(super) fn forwarded(&self, value: &str, now_ms: u64, binding: &str) -> Option<Forwarded> {
        let (signed, mac) = value.rsplit_once(';')?;
        let expected = self.name("hop", format!("{signed};{binding}").as_bytes());
        if !same(&expected, mac) {
            return None;
        }
        let mut parts = signed.split(';');
        let (_from, client, at) = (parts.next()?, parts.next()?, parts.next()?);
        let at: u64 = at.parse().ok()?;
        if at.abs_diff(now_ms) > HOP_VALID_MS {
            return None;
        }
        let client = match client {
            "" => None,
            address => Some(address.parse().ok()?),
        };
        Some(Forwarded { client })
    }

    /// A replica's entry in the directory: its URL, signed with its instance, so that a
    /// Redis others can write to cannot send requests (and their bearer tokens) elsewhere.
    pub(super) fn sign_replica(&self, instance: Instance, url: &str) -> String {
        let mac = self.name("replica", format!("{instance};{url}").as_bytes());
        format!("{url};{mac}")
    }

    /// The URL in a directory entry, if this cluster's secret signed it for `instance`.
    pub(super) fn replica_url(&self, instance: Instance, entry: &str) -> Option<String> {
        let (url, mac) = entry.rsplit_once(';')?;
        let expected = self.name("replica", format!("{instance};{url}").as_bytes());
        same(&expected, mac).then(|| url.to_string())
    }
}

#[cfg(test)]
impl Names {
    /// The names of a cluster whose secret is `secret`.
    pub(super) fn for_tests(secret: &str) -> Names {
        let env = std::collections::HashMap::from([
            ("GITHUB_TOKEN".to_string(), "t".to_string()),
            (
                "GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL".into(),
                "redis://r:6379".into(),
            ),
            ("GITHUB_ISSUE_MCP__CLUSTER__SECRET".into(), secret.into()),
        ]);
        Names::new(&crate::config::Settings::from_env(&env).unwrap().cluster)
    }
}

/// How long a signed [`super::FORWARDED_BY`] is good for.
pub const HOP_VALID_MS: u64 = 30_000;

/// Equal, compared without an early exit, so timing does not say how much of a guess is right.
fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(secret: &str) -> Names {
        Names::for_tests(secret)
    }

    #[test]
    fn forwarded_headers_are_signed_for_one_request_and_expire() {
        let ours = names("one secret shared by the replicas ....");
        let from = Instance::from_bits(0xabc).unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let (now, binding) = (1_800_000_000_000, "POST /mcp 0000abc-1");
        let hop = ours.hop(from, Some(client), now, binding);
        let said = Forwarded {
            client: Some(client),
        };
        assert_eq!(ours.forwarded(&hop, now + 1_000, binding), Some(said));
        assert_eq!(ours.forwarded(&hop, now - 1_000, binding), Some(said));
        // Too late, on another request, from another cluster, changed, or made up: nothing.
        assert_eq!(ours.forwarded(&hop, now + HOP_VALID_MS + 1, binding), None);
        assert_eq!(ours.forwarded(&hop, now, "DELETE /mcp 0000abc-1"), None);
        let theirs = names("another secret, another cluster .......");
        assert_eq!(theirs.forwarded(&hop, now, binding), None);
        let spoofed = hop.replace("203.0.113.9", "198.51.100.1");
        assert_eq!(ours.forwarded(&spoofed, now, binding), None);
        assert_eq!(ours.forwarded("00000abc;;0;00", now, binding), None);
        assert_eq!(ours.forwarded("garbage", now, binding), None);
        let anonymous = ours.hop(from, None, now, binding);
        assert_eq!(
            ours.forwarded(&anonymous, now, binding).unwrap().client,
            None
        );
    }

    #[test]
    fn directory_entries_are_signed() {
        let ours = names("one secret shared by the replicas ....");
        let (one, two) = (
            Instance::from_bits(1).unwrap(),
            Instance::from_bits(2).unwrap(),
        );
        let entry = ours.sign_replica(one, "http://10.0.0.5:3001");
        assert_eq!(
            ours.replica_url(one, &entry).as_deref(),
            Some("http://10.0.0.5:3001")
        );
        assert_eq!(
            ours.replica_url(two, &entry),
            None,
            "another replica's entry"
        );
        let moved = entry.replace("10.0.0.5", "evil.example");
        assert_eq!(ours.replica_url(one, &moved), None);
        assert_eq!(ours.replica_url(one, "http://evil.example"), None);
    }

    #[test]
    fn names_hide_what_they_name_and_differ_by_kind() {
        let ours = names("one secret shared by the replicas ....");
        let token = 0x1234_5678_u128;
        let key = ours.token_key(token);
        assert!(key.starts_with("github-issue-mcp:token:"), "{key}");
        assert!(!key.contains("12345678"));
        assert_eq!(
            key,
            names("one secret shared by the replicas ....").token_key(token)
        );
        assert_ne!(ours.name("token", b"x"), ours.name("principal", b"x"));
    }
}
