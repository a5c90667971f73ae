//! Conditions on the caller that filter rules may carry (`when …` / `unless …`), and the caller
//! class they induce.
//!
//! A [`CallerCondition`] is one test on a [`Caller`]: a token claim (any dotted path), the
//! token's scopes, the API key's name, or the endpoint. [`RuleTable::decide`](super::RuleTable)
//! evaluates it; nothing else does. A rule whose condition does not hold is skipped, as if it
//! were not written, so the next rule (or the default) decides.
//!
//! **Caller classes.** Two callers for whom every condition of a profile evaluates the same get
//! the same decisions for every item, so they can share one view. [`CallerClass`] is that vector
//! of outcomes: the hub keys its view cache by it, and callers that rules cannot tell apart
//! share one view (and anonymous callers of a profile without conditions all share one).

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::rules::Caller;

/// One test on the caller, possibly negated (`unless`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerCondition {
    /// `true` for `unless`: the rule applies when the test fails.
    pub negate: bool,
    pub test: CallerTest,
    /// The condition as written (`when claim groups contains "eng"`), for traces.
    pub text: Arc<str>,
}

impl Serialize for CallerCondition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerTest {
    /// A claim of the verified token, by path (`["org", "team"]` for `org.team`).
    Claim { path: Vec<String>, op: ClaimOp },
    /// The token grants this scope (`scope` as a space-separated string, or `scp` as a list).
    Scope(String),
    /// The caller presented the API key of this name.
    Key(String),
    /// The request came in on this endpoint path.
    Endpoint(String),
    /// The caller was authenticated at all (by token or key).
    Authenticated,
}

/// How a claim is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOp {
    /// The claim exists (and is not `null` or `false`).
    Present,
    /// The claim is this string (or this number/boolean, compared as text).
    Equals(String),
    /// The claim is a list holding this string, or a string with this space-separated word.
    Contains(String),
}

impl CallerCondition {
    /// Whether the condition holds for this caller (negation applied).
    pub fn holds(&self, caller: Caller<'_>) -> bool {
        self.test.holds(caller) != self.negate
    }

    /// The top-level claim this condition reads, if any (for checks and docs).
    pub fn claim_root(&self) -> Option<&str> {
        match &self.test {
            CallerTest::Claim { path, .. } => path.first().map(String::as_str),
            CallerTest::Scope(_) => Some("scope"),
            _ => None,
        }
    }
}

impl CallerTest {
    fn holds(&self, caller: Caller<'_>) -> bool {
        match self {
            CallerTest::Claim { path, op } => {
                let value = caller.claims.and_then(|c| claim_at(c, path));
                match (op, value) {
                    (_, None) => false,
                    (ClaimOp::Present, Some(v)) => !(v.is_null() || v == &serde_json::json!(false)),
                    (ClaimOp::Equals(want), Some(v)) => scalar_text(v).as_deref() == Some(want),
                    (ClaimOp::Contains(want), Some(v)) => contains(v, want),
                }
            }
            CallerTest::Scope(want) => caller.claims.is_some_and(|c| {
                ["scope", "scp"]
                    .iter()
                    .filter_map(|k| c.get(*k))
                    .any(|v| contains(v, want))
            }),
            CallerTest::Key(name) => caller.api_key == Some(name.as_str()),
            CallerTest::Endpoint(path) => caller.endpoint == path,
            CallerTest::Authenticated => caller.api_key.is_some() || caller.claims.is_some(),
        }
    }
}

/// The value at a claim path (`org.team` → `claims["org"]["team"]`). A claim whose own name holds
/// dots (`"https://example.com/groups"`) is found when the whole path is its name.
pub fn claim_at<'v>(
    claims: &'v serde_json::Value,
    path: &[String],
) -> Option<&'v serde_json::Value> {
    if let Some(v) = claims.get(path.join(".")) {
        return Some(v);
    }
    path.iter().try_fold(claims, |v, key| v.get(key))
}

fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn contains(v: &serde_json::Value, want: &str) -> bool {
    match v {
        serde_json::Value::Array(items) => items
            .iter()
            .any(|i| scalar_text(i).as_deref() == Some(want)),
        serde_json::Value::String(s) => s.split_whitespace().any(|w| w == want),
        _ => false,
    }
}

/// Who a request was authenticated as: what the endpoint's guard found, owned, so it can travel
/// in request extensions and live in a session. [`Identity::caller`] lends it to `decide`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The name of the API key presented (`bearer` for an `auth bearer` secret).
    pub key: Option<Arc<str>>,
    /// The verified claims of an access token.
    pub claims: Option<Arc<serde_json::Value>>,
    /// The validated access token itself, for upstreams that propagate the caller's identity
    /// (`auth oauth pass-through` / `token-exchange`). Never serialized, never printed.
    #[serde(skip)]
    pub token: Option<super::Secret>,
}

impl Identity {
    pub fn caller<'a>(&'a self, endpoint: &'a str) -> Caller<'a> {
        Caller {
            endpoint,
            api_key: self.key.as_deref(),
            claims: self.claims.as_deref(),
        }
    }

    /// How audit records and logs name the caller: the token's subject, else the key's name.
    /// Never a secret.
    pub fn name(&self) -> Option<String> {
        let sub = self
            .claims
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(|s| s.as_str());
        match (sub, &self.key) {
            (Some(sub), _) => Some(sub.to_string()),
            (None, Some(key)) => Some(format!("key:{key}")),
            (None, None) => None,
        }
    }

    /// Builds an identity from a claims document (a JSON object, as `explain --claims` reads
    /// from a file) and/or an API key name.
    pub fn from_parts(claims: Option<serde_json::Value>, key: Option<&str>) -> Self {
        Identity {
            key: key.map(Arc::from),
            claims: claims.map(Arc::new),
            token: None,
        }
    }

    /// The identity, with the access token it was validated from.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(super::Secret::new(token, Vec::new()));
        self
    }
}

/// Why an identity could not be read from a claims file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the claims file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the claims file {path} is not a JSON object: {reason}")]
    NotClaims { path: String, reason: String },
}

/// The identity `mcp2 explain --claims FILE | --api-key NAME` asks about: the claims of a JSON
/// object in `claims_file` (a decoded token payload), and/or an API key name.
pub fn load_identity(
    claims_file: Option<&std::path::Path>,
    api_key: Option<&str>,
) -> Result<Identity, IdentityError> {
    let claims = match claims_file {
        None => None,
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
                path: shown.clone(),
                source,
            })?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| IdentityError::NotClaims {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            if !value.is_object() {
                return Err(IdentityError::NotClaims {
                    path: shown,
                    reason: "expected `{ \"sub\": …, … }`".into(),
                });
            }
            Some(value)
        }
    };
    Ok(Identity::from_parts(claims, api_key))
}

/// The outcomes of every condition of a profile for one caller: callers with equal classes get
/// equal decisions everywhere in that profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CallerClass(Vec<bool>);

impl CallerClass {
    pub fn new(outcomes: Vec<bool>) -> Self {
        Self(outcomes)
    }
}

impl fmt::Display for CallerClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            f.write_str(if *b { "1" } else { "0" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(negate: bool, test: CallerTest) -> CallerCondition {
        CallerCondition {
            negate,
            test,
            text: "t".into(),
        }
    }

    fn with(claims: &serde_json::Value) -> Caller<'_> {
        Caller {
            endpoint: "/mcp",
            api_key: None,
            claims: Some(claims),
        }
    }

    #[test]
    fn claims_lists_strings_and_paths() {
        let claims = json!({
            "sub": "alice", "groups": ["eng", "ops"], "scope": "read admin",
            "org": {"team": "infra"}, "https://x/roles": ["r1"]
        });
        let c = with(&claims);
        let claim = |path: &str, op| CallerTest::Claim {
            path: path.split('.').map(String::from).collect(),
            op,
        };
        assert!(cond(false, claim("groups", ClaimOp::Contains("eng".into()))).holds(c));
        assert!(!cond(false, claim("groups", ClaimOp::Contains("sales".into()))).holds(c));
        assert!(cond(false, claim("sub", ClaimOp::Equals("alice".into()))).holds(c));
        assert!(cond(false, claim("org.team", ClaimOp::Equals("infra".into()))).holds(c));
        assert!(
            cond(
                false,
                claim("https://x/roles", ClaimOp::Contains("r1".into()))
            )
            .holds(c)
        );
        assert!(!cond(false, claim("missing", ClaimOp::Present)).holds(c));
        assert!(cond(false, CallerTest::Scope("admin".into())).holds(c));
        assert!(!cond(true, CallerTest::Scope("admin".into())).holds(c));
        assert!(cond(true, CallerTest::Scope("write".into())).holds(c));
        // No token at all: a claim test fails, its negation holds.
        let anon = Caller::default();
        assert!(!cond(false, CallerTest::Scope("admin".into())).holds(anon));
        assert!(cond(true, CallerTest::Scope("admin".into())).holds(anon));
    }

    #[test]
    fn identities_load_from_claims_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.json");
        std::fs::write(&path, r#"{"sub": "alice", "groups": ["eng"]}"#).unwrap();
        let id = load_identity(Some(&path), None).unwrap();
        assert_eq!(id.name().as_deref(), Some("alice"));
        let caller = id.caller("/mcp");
        assert!(
            cond(
                false,
                CallerTest::Claim {
                    path: vec!["groups".into()],
                    op: ClaimOp::Contains("eng".into())
                }
            )
            .holds(caller)
        );
        let key = load_identity(None, Some("ci-bot")).unwrap();
        assert_eq!(key.name().as_deref(), Some("key:ci-bot"));
        std::fs::write(&path, "[1, 2]").unwrap();
        assert!(load_identity(Some(&path), None).is_err());
        assert!(load_identity(Some(&dir.path().join("missing.json")), None).is_err());
    }

    #[test]
    fn keys_and_endpoints() {
        let c = Caller {
            endpoint: "/ops",
            api_key: Some("ci-bot"),
            claims: None,
        };
        assert!(cond(false, CallerTest::Key("ci-bot".into())).holds(c));
        assert!(!cond(false, CallerTest::Key("other".into())).holds(c));
        assert!(cond(false, CallerTest::Endpoint("/ops".into())).holds(c));
        assert!(cond(false, CallerTest::Authenticated).holds(c));
        assert!(!cond(false, CallerTest::Authenticated).holds(Caller::default()));
    }
}
