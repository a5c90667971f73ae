//! Checking one access token against one authorization server: a JWT's signature (keys from
//! [`JwksCache`]), `iss`, `aud` (the resource URI, RFC 8707), `exp`/`nbf` with leeway, and the
//! required scopes; or, for a token that is not a JWT and when introspection is configured, the
//! RFC 7662 answer of the issuer. Only asymmetric algorithms are accepted, and the key's own
//! `alg` (when it names one) must match the token's.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::jwks::{JwksCache, JwksError};
use crate::plan::OAuthSpec;
use crate::plan::authz::{CallerCondition, CallerTest};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not acceptable; the client should get a new one.
    #[error("{0}")]
    Invalid(String),
    /// The token is fine but lacks scopes.
    #[error("the token lacks the scope(s) {}", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// The issuer could not be asked (keys or introspection unreachable).
    #[error("{0}")]
    Unavailable(String),
}

/// Checks tokens for one `oauth` block.
pub struct Verifier {
    pub spec: Arc<OAuthSpec>,
    keys: JwksCache,
    http: reqwest::Client,
}

const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Verifier {
    pub fn new(spec: Arc<OAuthSpec>, http: reqwest::Client) -> Self {
        Self {
            keys: JwksCache::new(spec.issuer.clone(), spec.jwks.clone(), http.clone()),
            spec,
            http,
        }
    }

    /// The token's claims when it is valid for `resource` (the audience it must name).
    pub async fn verify(&self, token: &str, resource: &str) -> Result<Value, TokenError> {
        let claims = match jsonwebtoken::decode_header(token) {
            Ok(header) => self.verify_jwt(token, header, resource).await?,
            Err(_) if self.spec.introspection.is_some() => self.introspect(token, resource).await?,
            Err(e) => return Err(TokenError::Invalid(format!("not a JWT: {e}"))),
        };
        let missing: Vec<String> = self
            .spec
            .scopes
            .iter()
            .filter(|s| !has_scope(&claims, s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(TokenError::InsufficientScope(missing));
        }
        Ok(claims)
    }

    async fn verify_jwt(
        &self,
        token: &str,
        header: jsonwebtoken::Header,
        resource: &str,
    ) -> Result<Value, TokenError> {
        if !ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::Invalid(format!(
                "tokens signed with {:?} are not accepted",
                header.alg
            )));
        }
        let jwk = self
            .keys
            .key(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                JwksError::UnknownKey(_) => TokenError::Invalid(e.to_string()),
                JwksError::Fetch(_) => TokenError::Unavailable(e.to_string()),
            })?;
        if let Some(alg) = jwk.common.key_algorithm
            && alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(TokenError::Invalid(
                "the token's algorithm is not its key's".into(),
            ));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| TokenError::Invalid(format!("unusable signing key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.spec.leeway.as_secs();
        validation.validate_nbf = true;
        let issuer = issuer_text(&self.spec);
        validation.set_issuer(&[issuer.clone(), format!("{issuer}/")]);
        validation.set_audience(&[resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError::Invalid(format!("token refused: {e}")))
    }

    /// RFC 7662: the issuer says whether the token is active, and for whom.
    async fn introspect(&self, token: &str, resource: &str) -> Result<Value, TokenError> {
        let Some(i) = &self.spec.introspection else {
            return Err(TokenError::Invalid("not a JWT".into()));
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let answer: Value = self
            .http
            .post(i.url.clone())
            .basic_auth(
                form_encoded(&i.client_id),
                Some(form_encoded(i.client_secret.expose())),
            )
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Unavailable(format!("introspection failed: {e}")))?
            .json()
            .await
            .map_err(|e| {
                TokenError::Unavailable(format!("introspection answer unreadable: {e}"))
            })?;
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Invalid("the token is not active".into()));
        }
        if let Some(iss) = answer.get("iss").and_then(Value::as_str)
            && iss.trim_end_matches('/') != issuer_text(&self.spec).trim_end_matches('/')
        {
            return Err(TokenError::Invalid(
                "the token is from another issuer".into(),
            ));
        }
        if let Some(aud) = answer.get("aud")
            && !audience_names(aud, resource)
        {
            return Err(TokenError::Invalid(
                "the token is for another resource".into(),
            ));
        }
        Ok(answer)
    }
}

/// The issuer as tokens write it: the configured text, without the `/` `Url` adds to a bare
/// host.
fn issuer_text(spec: &OAuthSpec) -> String {
    let s = spec.issuer.as_str();
    if spec.issuer.path() == "/" {
        s.trim_end_matches('/').to_string()
    } else {
        s.to_string()
    }
}

/// RFC 6749 section 2.3.1: the client id and secret are form-urlencoded before they become
/// HTTP Basic credentials (authorization servers decode them, so a secret holding `%`, `+` or
/// `/` only matches when encoded).
fn form_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn audience_names(aud: &Value, resource: &str) -> bool {
    match aud {
        Value::String(s) => s == resource,
        Value::Array(items) => items.iter().any(|i| i.as_str() == Some(resource)),
        _ => false,
    }
}

fn has_scope(claims: &Value, scope: &str) -> bool {
    let condition = CallerCondition {
        negate: false,
        test: CallerTest::Scope(scope.to_string()),
        text: "".into(),
    };
    condition.holds(crate::plan::Caller {
        endpoint: "",
        api_key: None,
        claims: Some(claims),
    })
}
