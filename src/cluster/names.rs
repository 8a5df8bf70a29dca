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

    pub(super) fn hop(&self, from: Instance, client: Option<IpAddr>) -> String {
        let client = client.map_or_else(String::new, |ip| ip.to_string());
        let signed = format!("{from};{client}");
        let mac = self.name("hop", signed.as_bytes());
        format!("{signed};{mac}")
    }

    pub(super) fn forwarded(&self, value: &str) -> Option<Forwarded> {
        let (signed, mac) = value.rsplit_once(';')?;
        let expected = self.name("hop", signed.as_bytes());
        // Compared without an early exit, so timing does not say how much of a guess is right.
        let differ = expected.len() != mac.len()
            || expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0;
        if differ {
            return None;
        }
        let (from, client) = signed.split_once(';')?;
        let from = Instance::from_bits(u32::from_str_radix(from, 16).ok()?)?;
        let client = match client {
            "" => None,
            address => Some(address.parse().ok()?),
        };
        Some(Forwarded { from, client })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Settings;

    fn names(secret: &str) -> Names {
        let env = HashMap::from([
            ("GITHUB_TOKEN".to_string(), "t".to_string()),
            (
                "GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL".into(),
                "redis://r:6379".into(),
            ),
            ("GITHUB_ISSUE_MCP__CLUSTER__SECRET".into(), secret.into()),
        ]);
        Names::new(&Settings::from_env(&env).unwrap().cluster)
    }

    #[test]
    fn forwarded_headers_are_signed_and_checked() {
        let ours = names("one secret shared by the replicas ....");
        let from = Instance::from_bits(0xabc).unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let hop = ours.hop(from, Some(client));
        assert_eq!(
            ours.forwarded(&hop),
            Some(Forwarded {
                from,
                client: Some(client)
            })
        );
        // Another cluster's, a changed address, or a made-up one: worth nothing.
        let theirs = names("another secret, another cluster .......");
        assert_eq!(theirs.forwarded(&hop), None);
        let spoofed = hop.replace("203.0.113.9", "198.51.100.1");
        assert_eq!(ours.forwarded(&spoofed), None);
        assert_eq!(ours.forwarded("00000abc;;00"), None);
        assert_eq!(ours.forwarded("garbage"), None);
        let anonymous = ours.hop(from, None);
        assert_eq!(ours.forwarded(&anonymous).unwrap().client, None);
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
