//! The top-level `limits:` (body size and timeouts of HTTP serving) and `cluster:` (what
//! replicas share) mappings. Values stay as written; the checker reads them.

use super::super::keys::Place;
use super::super::read::Reader;
use super::super::tree::Pair;
use crate::syntax::ast;

/// `limits: { maxBody: 4MiB, headerTimeout: 10s, idleTimeout: 30m }`.
pub(super) fn limits(r: &mut Reader, pair: &Pair) -> ast::Limits {
    let mut limits = ast::Limits {
        span: pair.span().into(),
        ..ast::Limits::default()
    };
    let Some(f) = r.fields(&pair.value, Place::ServeLimits) else {
        return limits;
    };
    limits.max_body = f
        .value("maxBody")
        .and_then(|n| r.string(n, "a size such as `4MiB`"));
    limits.header_timeout = f
        .value("headerTimeout")
        .and_then(|n| r.string(n, "a duration such as `10s`"));
    limits.idle_timeout = f
        .value("idleTimeout")
        .and_then(|n| r.string(n, "a duration such as `30m`"));
    limits
}

/// `cluster: { sessionKey: "${MCP2_SESSION_KEY}", redis: "redis://…", onRedisUnavailable: allow }`.
pub(super) fn cluster(r: &mut Reader, pair: &Pair) -> ast::Cluster {
    let mut cluster = ast::Cluster {
        span: pair.span().into(),
        ..ast::Cluster::default()
    };
    let Some(f) = r.fields(&pair.value, Place::Cluster) else {
        return cluster;
    };
    cluster.session_key = f
        .value("sessionKey")
        .and_then(|n| r.string(n, "a key, normally `\"${MCP2_SESSION_KEY}\"`"));
    cluster.redis = f
        .value("redis")
        .and_then(|n| r.string(n, "a URL such as `redis://127.0.0.1:6379`"));
    cluster.on_redis_unavailable = f
        .value("onRedisUnavailable")
        .and_then(|n| r.string(n, "`allow` or `deny`"));
    cluster
}
