//! Which protocol era one upstream connection speaks (`protocol auto|initialize|2026-07-28`).
//!
//! - `initialize`: the handshake of revisions up to 2025-11-25; one session per connection.
//! - `2026-07-28`: `server/discover`, then every request carries its own protocol metadata.
//! - `auto` (the default): `initialize` first; a server that refuses it the way a server of
//!   only the 2026-07-28 revision does (JSON-RPC "unsupported protocol version", "method not
//!   found" or "invalid request", or HTTP 400/404/405 for Streamable HTTP) is connected to again
//!   with `server/discover`. Legacy HTTP+SSE is a 2024-11-05 transport and never moves.
//!
//! Why `initialize` first, on every transport. A server that speaks both eras answers both;
//! what it does *after* depends on the era it was spoken to in, and the older one loses
//! nothing: the Python `mcp` 2.3 SDK, spoken to in 2026-07-28, refuses every server→client
//! request (`NoBackChannelError`: sampling, elicitation and roots vanish unless the server was
//! written to return `InputRequiredResult` instead), cannot dispatch `logging/setLevel` or
//! `resources/subscribe`, and derives its capabilities accordingly. That is why rmcp's own
//! discover-first fallback broke 6 conformance scenarios through mcp2 (sampling, the three
//! elicitations, resources subscribe and unsubscribe): the conformance fixture is such a
//! dual-era server, and in 2026-07-28 it has none of those left to translate.
//! A gateway serves clients of both eras and translates between them (see
//! `gateway/README.md`, *Eras*), so it should speak to each upstream in the era that keeps the
//! most of it: the handshake era wherever the server still offers it, 2026-07-28 where that is
//! all it speaks. Probing `initialize` first also costs nothing for the servers that exist
//! today; only a 2026-only server pays one refused round trip (over stdio: one extra start).
//! A server whose author wants the 2026 era spoken to it is named `protocol 2026-07-28`.

use rmcp::ClientLifecycleMode;
use rmcp::model::{ErrorCode, ProtocolVersion};
use rmcp::service::{ClientInitializeError, Peer, RoleClient};
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::plan::{ProtocolMode, TransportSpec, UpstreamSpec};

/// How one connection attempt starts its MCP lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Initialize,
    Discover,
}

impl Lifecycle {
    /// What to try first for `spec`.
    pub(crate) fn first(spec: &UpstreamSpec) -> Lifecycle {
        match spec.protocol {
            ProtocolMode::Modern => Lifecycle::Discover,
            ProtocolMode::Auto | ProtocolMode::Initialize => Lifecycle::Initialize,
        }
    }

    /// The rmcp lifecycle mode.
    pub(crate) fn mode(self) -> ClientLifecycleMode {
        match self {
            Lifecycle::Initialize => ClientLifecycleMode::Initialize,
            Lifecycle::Discover => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        }
    }
}

/// Whether a refused `initialize` may be followed by `server/discover` for `spec`.
pub(crate) fn may_discover(spec: &UpstreamSpec) -> bool {
    spec.protocol == ProtocolMode::Auto && !matches!(spec.transport, TransportSpec::Sse { .. })
}

/// Whether `initialize` failed the way a server of only the 2026-07-28 revision fails it.
pub(crate) fn refused_initialize(error: &ClientInitializeError) -> bool {
    match error {
        ClientInitializeError::JsonRpcError(e) => refusal_code(e.code),
        ClientInitializeError::TransportError { error, .. } => {
            let cause: &(dyn std::error::Error + 'static) = error.error.as_ref();
            match cause.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
                Some(StreamableHttpError::HttpStatus(s)) => refusal_status(s.status),
                Some(StreamableHttpError::Client(r)) => {
                    r.status().is_some_and(|s| refusal_status(s.as_u16()))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn refusal_code(code: ErrorCode) -> bool {
    code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        || code == ErrorCode::METHOD_NOT_FOUND
        || code == ErrorCode::INVALID_REQUEST
}

fn refusal_status(status: u16) -> bool {
    matches!(status, 400 | 404 | 405)
}

/// Whether the connection behind `peer` speaks 2026-07-28 (no `initialize` session): its
/// server→client requests arrive as `InputRequiredResult` rounds, its notifications on
/// `subscriptions/listen` streams.
pub fn is_modern(peer: &Peer<RoleClient>) -> bool {
    peer.peer_info()
        .is_some_and(|info| !info.protocol_version.has_initialize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ErrorData;

    #[test]
    fn a_2026_only_answer_to_initialize_is_a_refusal() {
        let unsupported = ClientInitializeError::JsonRpcError(ErrorData::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            "no initialize here",
            None,
        ));
        assert!(refused_initialize(&unsupported));
        let auth = ClientInitializeError::JsonRpcError(ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            "database down",
            None,
        ));
        assert!(!refused_initialize(&auth));
        assert!(!refused_initialize(&ClientInitializeError::Cancelled));
    }
}
