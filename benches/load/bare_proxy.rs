//! A bare HTTP/1.1 reverse proxy on the stack mcp2 is built on (tokio, hyper server, hyper_util's
//! pooled client): every request goes to the upstream fixture unchanged, bodies streamed both
//! ways, no MCP work at all. The `floor` scenario measures it beside HAProxy: what the runtime and
//! the HTTP stack alone add on this machine, under mcp2's own figures.
//!
//! Run as `load --bare-proxy UPSTREAM_PORT`; like the fixture it binds 127.0.0.1, prints
//! `LISTENING port=P` and exits when its stdin closes.

use std::convert::Infallible;

use crate::{BenchError, child};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, hyper::Error>;

pub async fn serve(upstream_port: u16) -> Result<(), BenchError> {
    let listener = child::listen(0, "bare proxy").await?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let stdin_closed = child::stdin_closed();
    tokio::pin!(stdin_closed);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
            () = &mut stdin_closed => return Ok(()),
        };
        let _ = tcp.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                forward(client.clone(), upstream_port, request)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream_port: u16,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://127.0.0.1:{upstream_port}{path}");
    match uri.parse() {
        Ok(uri) => parts.uri = uri,
        Err(_) => return Ok(status(400)),
    }
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response.map(BodyExt::boxed)),
        Err(_) => Ok(status(502)),
    }
}

fn status(code: u16) -> Response<Body> {
    let mut response = Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or_default();
    response
}
