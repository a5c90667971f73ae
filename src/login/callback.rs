//! The loopback redirect of a login: a listener on `127.0.0.1:<ephemeral>` that waits for the
//! browser's `GET /callback?code=…&state=…`, checks `state`, and answers the browser with a
//! short page. Other paths (a browser's `favicon.ico`) get 404 and are otherwise ignored.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

use super::LoginError;

/// A bound listener, before the browser is sent to the authorization server.
pub struct Callback {
    listener: TcpListener,
    pub redirect: Url,
}

#[derive(Debug, Deserialize)]
struct Params {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Callback {
    pub async fn bind() -> Result<Self, LoginError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(LoginError::Listen)?;
        let port = listener.local_addr().map_err(LoginError::Listen)?.port();
        let redirect = Url::parse(&format!("http://127.0.0.1:{port}/callback"))
            .map_err(|e| LoginError::Listen(std::io::Error::other(e)))?;
        Ok(Callback { listener, redirect })
    }

    /// The authorization code of the first redirect, which must carry `state`.
    pub async fn code(self, state: &str, timeout: Duration) -> Result<String, LoginError> {
        let (tx, mut rx) = mpsc::channel::<Params>(1);
        let app = Router::new()
            .route("/callback", get(redirected))
            .with_state(tx);
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app).await;
        });
        let got = tokio::time::timeout(timeout, rx.recv()).await;
        // Let the page reach the browser before the listener goes away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.abort();
        let params = match got {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => return Err(LoginError::Timeout(timeout)),
        };
        // Checked first: a redirect without this login's `state` is not the server's answer,
        // whether it carries a code or an error.
        if params.state.as_deref() != Some(state) {
            return Err(LoginError::StateMismatch);
        }
        if let Some(error) = params.error {
            return Err(LoginError::Denied {
                error,
                description: params.error_description,
            });
        }
        params.code.ok_or(LoginError::NoCode)
    }
}

async fn redirected(
    State(tx): State<mpsc::Sender<Params>>,
    Query(params): Query<Params>,
) -> (StatusCode, Html<&'static str>) {
    let ok = params.code.is_some() && params.error.is_none();
    let _ = tx.try_send(params);
    if ok {
        (
            StatusCode::OK,
            Html(
                "<!doctype html><title>mcp2</title><p>mcp2 received the authorization; you can close this tab.</p>",
            ),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            Html(
                "<!doctype html><title>mcp2</title><p>The login did not succeed; see the terminal.</p>",
            ),
        )
    }
}
