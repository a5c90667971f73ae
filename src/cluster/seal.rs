//! Sealed session ids: a downstream `Mcp-Session-Id` that carries what any replica needs to
//! serve the session, authenticated and encrypted with AES-256-GCM under the cluster's key.
//!
//! An id is `m2s1.` followed by base64url (no padding) of a 12-byte random nonce and the
//! ciphertext of a small JSON [`SealedSession`]. The version prefix is also the cipher's
//! associated data, so an id of another format version never opens under this one.
//! [`SessionKey::open`] is the one way from an id to a session: anything it cannot
//! authenticate (tampered, truncated, sealed under another key, another version) is `None`,
//! and the caller answers 404 without decoding anything further.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rmcp::model::InitializeRequestParams;
use serde::{Deserialize, Serialize};

/// The format prefix of sealed ids; bump it when [`SealedSession`] changes incompatibly.
const PREFIX: &str = "m2s1.";
const NONCE_LEN: usize = 12;
/// Longest id accepted for opening: a real one is well under this; longer is refused unread.
const MAX_ID_LEN: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "the session key must be 32 bytes, written as base64 (44 characters) or hex (64 characters); generate one with `openssl rand -base64 32`"
    )]
    Malformed,
}

/// What a sealed id carries: enough to rebuild the session on a replica that never saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedSession {
    /// The endpoint path the session was opened on.
    pub endpoint: String,
    /// The profile it is bound to, and the one upstream of a `/servers/{id}/mcp` endpoint.
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_upstream: Option<String>,
    /// The client's `initialize` parameters: negotiated protocol version, declared
    /// capabilities and client info; replayed to rebuild the handler.
    pub init: InitializeRequestParams,
    /// Seconds since the Unix epoch when the session was opened.
    pub issued: u64,
}

/// The cluster's AEAD key. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct SessionKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    /// Parses a 32-byte key written as base64 (standard or url-safe) or hex.
    pub fn parse(text: &str) -> Result<SessionKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KeyError::Malformed)?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| KeyError::Malformed)?
        };
        if bytes.len() != 32 {
            return Err(KeyError::Malformed);
        }
        Ok(SessionKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// Seals a session into an id. `None` only if the system's random source fails.
    pub fn seal(&self, session: &SealedSession) -> Option<String> {
        let plain = serde_json::to_vec(session).ok()?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: PREFIX.as_bytes(),
                },
            )
            .ok()?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    /// Opens an id sealed under this key; `None` for anything else.
    pub fn open(&self, id: &str) -> Option<SealedSession> {
        if id.len() > MAX_ID_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(id.strip_prefix(PREFIX)?).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: PREFIX.as_bytes(),
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// How many trailing characters of an id name it: the 16-byte authentication tag of a sealed
/// id in base64url (22 characters), unique per id; the tail of a random id.
const TAG_CHARS: usize = 22;

/// A short name for a session id, for keys that count or record something per session: the
/// authentication tag of a sealed id (unique per id; only ids that opened should be named).
pub fn tag_of(id: &str) -> &str {
    let start = id.len().saturating_sub(TAG_CHARS);
    id.get(start..).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    fn session() -> SealedSession {
        let init: InitializeRequestParams = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "t", "version": "1"}
        }))
        .unwrap();
        SealedSession {
            endpoint: "/mcp".into(),
            profile: "default".into(),
            only_upstream: None,
            init,
            issued: 1,
        }
    }

    #[test]
    fn an_id_opens_to_what_was_sealed_and_ids_differ_each_time() {
        let key = SessionKey::parse(KEY).unwrap();
        let a = key.seal(&session()).unwrap();
        let b = key.seal(&session()).unwrap();
        assert_ne!(a, b, "fresh nonce per id");
        assert!(a.starts_with("m2s1."));
        assert_eq!(key.open(&a), Some(session()));
        assert!(a.bytes().all(|c| c.is_ascii_graphic()), "fits a header");
    }

    #[test]
    fn tampered_truncated_foreign_and_random_ids_do_not_open() {
        let key = SessionKey::parse(KEY).unwrap();
        let id = key.seal(&session()).unwrap();
        let mut tampered = id.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(&String::from_utf8(tampered).unwrap()), None);
        assert_eq!(key.open(&id[..id.len() - 4]), None);
        assert_eq!(key.open("m2s1."), None);
        assert_eq!(key.open("3f2a9c1e-0000-4000-8000-000000000000"), None);
        let foreign = SessionKey::parse(OTHER).unwrap().seal(&session()).unwrap();
        assert_eq!(key.open(&foreign), None);
        assert_eq!(key.open(&id.replacen("m2s1.", "m2s2.", 1)), None);
    }

    #[test]
    fn ids_of_two_sessions_have_different_tags() {
        let key = SessionKey::parse(KEY).unwrap();
        let a = key.seal(&session()).unwrap();
        let b = key.seal(&session()).unwrap();
        assert_eq!(tag_of(&a).len(), 22);
        assert_ne!(tag_of(&a), tag_of(&b));
        assert!(a.ends_with(tag_of(&a)));
        assert_eq!(tag_of("short"), "short");
    }

    #[test]
    fn keys_parse_from_base64_or_hex_of_32_bytes_only() {
        assert!(SessionKey::parse(KEY).is_ok());
        assert!(SessionKey::parse(OTHER).is_ok());
        assert_eq!(SessionKey::parse("short").unwrap_err(), KeyError::Malformed);
        assert!(SessionKey::parse("c2hvcnQ=").is_err(), "5 bytes");
        assert!(!format!("{:?}", SessionKey::parse(KEY).unwrap()).contains(KEY));
    }
}
