//! Which client a login uses, in the MCP specification's order: the one configured
//! (`client-id`, `client-secret`); else the configured client metadata document's URL as the
//! client id, where the server advertises `client_id_metadata_document_supported`; else one
//! registered now by RFC 7591 dynamic client registration at the server's
//! `registration_endpoint`. And how it authenticates at the token endpoint.

use serde::Deserialize;
use url::Url;

use super::LoginError;
use super::discover::ServerMetadata;
use crate::upstream::display_url;
use crate::upstream::tokenfile::ClientAuth;

/// The client of one login.
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub auth: ClientAuth,
    /// Whether it was registered now (so the token file keeps its secret).
    pub registered: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Registered {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// The configured client, or a newly registered one.
pub async fn client(
    http: &reqwest::Client,
    metadata: &ServerMetadata,
    configured: Option<(String, Option<String>)>,
    metadata_url: Option<&Url>,
    redirect: &Url,
) -> Result<Client, LoginError> {
    if let Some((id, secret)) = configured {
        let auth = match secret {
            Some(_) => secret_auth(metadata),
            None => ClientAuth::None,
        };
        return Ok(Client {
            id,
            secret,
            auth,
            registered: false,
        });
    }
    if let Some(url) = metadata_url
        && metadata.client_id_metadata_document_supported == Some(true)
    {
        return Ok(Client {
            id: url.to_string(),
            secret: None,
            auth: ClientAuth::None,
            registered: false,
        });
    }
    let Some(endpoint) = &metadata.registration_endpoint else {
        return Err(LoginError::NoRegistration);
    };
    let method = preferred_method(metadata);
    let body = serde_json::json!({
        "client_name": "mcp2",
        "redirect_uris": [redirect.as_str()],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    let shown = display_url(endpoint);
    let response = http
        .post(endpoint.as_str())
        .json(&body)
        .send()
        .await
        .map_err(|e| LoginError::Registration {
            endpoint: shown.clone(),
            reason: e.to_string(),
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(LoginError::Registration {
            endpoint: shown,
            reason: format!("HTTP {}", status.as_u16()),
        });
    }
    // The body holds the client's secret: never quoted in an error.
    let registered: Registered = response
        .json()
        .await
        .map_err(|_| LoginError::Registration {
            endpoint: shown.clone(),
            reason: "the answer is not an RFC 7591 client information response".into(),
        })?;
    let auth = match (
        &registered.client_secret,
        registered.token_endpoint_auth_method.as_deref(),
    ) {
        (None, _) | (_, Some("none")) => ClientAuth::None,
        (Some(_), Some("client_secret_post")) => ClientAuth::Post,
        (Some(_), Some("client_secret_basic")) => ClientAuth::Basic,
        (Some(_), _) => secret_auth(metadata),
    };
    Ok(Client {
        id: registered.client_id,
        secret: registered.client_secret,
        auth,
        registered: true,
    })
}

/// The method to register with: what the server supports, basic first (RFC 8414's default).
fn preferred_method(metadata: &ServerMetadata) -> &'static str {
    let Some(supported) = &metadata.token_endpoint_auth_methods_supported else {
        return "client_secret_basic";
    };
    ["client_secret_basic", "client_secret_post", "none"]
        .into_iter()
        .find(|m| supported.iter().any(|s| s == m))
        .unwrap_or("client_secret_basic")
}

/// How a client with a secret authenticates: HTTP Basic unless the server supports only the form.
fn secret_auth(metadata: &ServerMetadata) -> ClientAuth {
    match &metadata.token_endpoint_auth_methods_supported {
        Some(s)
            if !s.iter().any(|m| m == "client_secret_basic")
                && s.iter().any(|m| m == "client_secret_post") =>
        {
            ClientAuth::Post
        }
        _ => ClientAuth::Basic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(cimd: Option<bool>) -> ServerMetadata {
        let url = |p: &str| Url::parse(&format!("http://as.example{p}")).expect("url");
        ServerMetadata {
            authorization_endpoint: url("/authorize"),
            token_endpoint: url("/token"),
            registration_endpoint: None,
            token_endpoint_auth_methods_supported: Some(vec!["client_secret_post".into()]),
            code_challenge_methods_supported: None,
            scopes_supported: None,
            client_id_metadata_document_supported: cimd,
        }
    }

    #[tokio::test]
    async fn a_configured_client_comes_first_then_a_metadata_document_the_server_supports() {
        let http = reqwest::Client::new();
        let doc = Url::parse("https://mcp2.example/client.json").expect("url");
        let redirect = Url::parse("http://127.0.0.1:1/callback").expect("url");
        let configured = Some(("web".to_string(), Some("s".to_string())));
        let c = client(
            &http,
            &metadata(Some(true)),
            configured,
            Some(&doc),
            &redirect,
        )
        .await
        .expect("configured");
        assert_eq!((c.id.as_str(), c.auth), ("web", ClientAuth::Post));
        let c = client(&http, &metadata(Some(true)), None, Some(&doc), &redirect)
            .await
            .expect("document");
        assert_eq!((c.id.as_str(), c.auth), (doc.as_str(), ClientAuth::None));
        let refused = client(&http, &metadata(None), None, Some(&doc), &redirect).await;
        assert!(matches!(refused, Err(LoginError::NoRegistration)));
    }
}
