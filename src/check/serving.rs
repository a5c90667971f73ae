//! Pass 2b (continued): the serving settings, `limits { … }` and `cluster { … }`.
//!
//! Sizes (`4MiB`, `4MB`, `512KiB`, `1000000`) and durations are parsed here; the session key is
//! expanded from its `${VAR}` and must be 32 bytes (base64 or hex); the Redis URL is expanded
//! and parsed as the Redis client will; the policy is `allow` or `deny`. Absent blocks take
//! [`ServeSettings::default`] and no cluster. Returns `None` only when a setting is wrong (the
//! error is reported).

use super::Cx;
use super::declare::Decls;
use super::env::expand;
use super::upstreams::positive_duration;
use crate::cluster::seal::SessionKey;
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::{ClusterSettings, RedisUnavailable, Secret, ServeSettings};
use crate::syntax::ast;

/// `limits { max-body …  header-timeout …  idle-timeout … }`.
pub(super) fn limits(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Option<ServeSettings> {
    let defaults = ServeSettings::default();
    let Some(ast::Limits {
        max_body,
        header_timeout,
        idle_timeout,
        span: _,
    }) = decls.limits
    else {
        return Some(defaults);
    };
    let errors_before = cx.error_count();
    let max_body =
        max_body
            .as_ref()
            .map_or(Some(defaults.max_body), |s| match parse_size(&s.node) {
                Ok(n) => Some(n),
                Err(reason) => {
                    cx.push(
                    Diag::error(codes::BAD_SIZE, "invalid size for `max-body`")
                        .at(s.span, reason)
                        .help("write a whole number and a unit: `4MiB`, `512KiB`, `4MB`, or bytes"),
                );
                    None
                }
            });
    let header_timeout = positive_duration(header_timeout.as_ref(), defaults.header_timeout, cx);
    let idle_timeout = positive_duration(idle_timeout.as_ref(), defaults.idle_timeout, cx);
    match (max_body, header_timeout, idle_timeout) {
        (Some(max_body), Some(header_timeout), Some(idle_timeout))
            if cx.error_count() == errors_before =>
        {
            Some(ServeSettings {
                max_body,
                header_timeout,
                idle_timeout,
            })
        }
        _ => None,
    }
}

/// `cluster { session-key …  redis …  on-redis-unavailable … }`; `Some(None)` without a block.
pub(super) fn cluster(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Option<Option<ClusterSettings>> {
    let Some(ast::Cluster {
        session_key,
        redis,
        on_redis_unavailable,
        span: _,
    }) = decls.cluster
    else {
        return Some(None);
    };
    let errors_before = cx.error_count();
    let session_key = session_key.as_ref().and_then(|k| key(k, cx));
    let redis = redis.as_ref().and_then(|u| redis_url(u, cx));
    let policy = match on_redis_unavailable {
        None => RedisUnavailable::default(),
        Some(p) => match p.node.as_str() {
            "allow" => RedisUnavailable::Allow,
            "deny" => RedisUnavailable::Deny,
            other => {
                let mut d =
                    Diag::error(codes::BAD_CLUSTER, "unknown `on-redis-unavailable` policy")
                        .at(p.span, "expected `allow` or `deny`");
                d = match did_you_mean(other, ["allow", "deny"]) {
                    Some(w) => d.help(format!("did you mean `{w}`?")),
                    None => d.help(
                        "`allow` admits calls (counted as a warning) while Redis is down; `deny` refuses them",
                    ),
                };
                cx.push(d);
                RedisUnavailable::default()
            }
        },
    };
    (cx.error_count() == errors_before).then_some(Some(ClusterSettings {
        session_key,
        redis,
        on_redis_unavailable: policy,
    }))
}

/// The session key: from a variable (a key in a file is readable by whoever reads the
/// routes), 32 bytes once expanded. An empty expansion (`${KEY:-}`) means no key.
fn key(k: &ast::Str, cx: &mut Cx<'_>) -> Option<Secret> {
    let expanded = expand(cx, k, "the session key")?;
    if expanded.vars.is_empty() {
        cx.push(
            Diag::error(
                codes::BAD_CLUSTER,
                "the session key is written in the routes",
            )
            .at(k.span, "a literal key")
            .help("keep it in the environment: `session-key \"${MCP2_SESSION_KEY}\"`"),
        );
        return None;
    }
    if expanded.value.trim().is_empty() {
        return None;
    }
    if let Err(e) = SessionKey::parse(expanded.value.trim()) {
        let vars: Vec<String> = expanded.vars.iter().map(|v| format!("${{{v}}}")).collect();
        cx.push(
            Diag::error(codes::BAD_CLUSTER, "invalid session key")
                .at(k.span, format!("after expanding {}", vars.join(", ")))
                .help(e.to_string()),
        );
        return None;
    }
    Some(expanded.into_secret())
}

/// The Redis URL, expanded (a password may come from a variable) and parsed by the client.
fn redis_url(u: &ast::Str, cx: &mut Cx<'_>) -> Option<Secret> {
    let expanded = expand(cx, u, "the Redis URL")?;
    if redis::Client::open(expanded.value.as_str()).is_err() {
        cx.push(
            Diag::error(codes::BAD_CLUSTER, "invalid Redis URL")
                .at(u.span, "not a URL the Redis client accepts")
                .help("write `redis://HOST:PORT` (or `rediss://` for TLS), such as `redis://127.0.0.1:6379`"),
        );
        return None;
    }
    Some(expanded.into_secret())
}

/// `4MiB`, `512KiB`, `1GiB` (powers of 1024), `4MB`, `500kB` (powers of 1000), `1000000` or
/// `1000000B`; units are case-insensitive. Zero is refused.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("a size starts with a whole number".into());
    }
    let (number, unit) = t.split_at(digits);
    let n: u64 = number.parse().map_err(|_| "the number is too large")?;
    let factor: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "k" | "m" | "g" => {
            return Err(format!(
                "`{unit}` is ambiguous: write `{number}{}iB` (×1024) or `{number}{}B` (×1000)",
                unit.to_ascii_uppercase(),
                unit.to_ascii_uppercase()
            ));
        }
        other => return Err(format!("unknown unit `{other}`")),
    };
    let bytes = n.checked_mul(factor).ok_or("the size is too large")?;
    if bytes == 0 {
        return Err("a size of zero would refuse every request".into());
    }
    usize::try_from(bytes).map_err(|_| "the size is too large".into())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_binary_and_decimal_units() {
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("4mib"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("4mb"), Ok(4_000_000));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1000B"), Ok(1000));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_size("0").unwrap_err().contains("zero"));
        assert!(parse_size("4m").unwrap_err().contains("ambiguous"));
        assert!(
            parse_size("4 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-4MiB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(parse_size("18446744073709551615GiB").is_err());
    }
}
