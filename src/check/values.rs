//! The small value languages of route files: durations, rates, URLs, listen addresses, HTTP
//! headers, endpoint paths and log filters.
//!
//! Each parser here is pure (`&str` → value or a reason, with the byte range of the mistake when
//! it has one); the passes turn a reason into a diagnostic with [`super::errors`]. None of them
//! sees an expanded secret's text in its error: reasons name the problem, never the input.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use url::Url;

use crate::plan::Rate;

/// A mistake in a value: what is wrong, and where in the value when that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub reason: String,
    pub at: Option<Range<usize>>,
}

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid {
        reason: reason.into(),
        at: None,
    }
}

fn invalid_at(reason: impl Into<String>, at: Range<usize>) -> Invalid {
    Invalid {
        reason: reason.into(),
        at: Some(at),
    }
}

/// A command-line duration that must be longer than zero (a clap `value_parser`).
pub fn positive_duration_flag(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.reason),
    }
}

/// `500ms`, `30s`, `5m` (or `5min`), `1h`, `1d`: a whole number and a unit.
pub fn parse_duration(text: &str) -> Result<Duration, Invalid> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(invalid("a duration cannot be negative"));
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(invalid("a duration starts with a whole number"));
    }
    let (number, unit) = t.split_at(digits);
    if unit.starts_with('.') {
        return Err(invalid(
            "whole numbers only: write `1500ms` rather than `1.5s`",
        ));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| invalid("the number is too large"))?;
    let word = unit.trim_start();
    if word.len() != unit.len() || long_unit(word).is_some() {
        let short = long_unit(word).unwrap_or(word);
        return Err(invalid(format!(
            "write the unit short and right after the number: `{number}{short}`"
        )));
    }
    let secs_per = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => return Err(invalid("the unit is missing")),
        other => return Err(invalid(format!("`{other}` is not a unit of time"))),
    };
    n.checked_mul(secs_per)
        .map(Duration::from_secs)
        .ok_or_else(|| invalid("the duration is too large"))
}

/// The short unit for a unit written in words (`seconds` → `s`).
fn long_unit(word: &str) -> Option<&'static str> {
    Some(match word {
        "millisecond" | "milliseconds" | "msec" | "msecs" => "ms",
        "sec" | "secs" | "second" | "seconds" => "s",
        "mins" | "minute" | "minutes" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        "day" | "days" => "d",
        _ => return None,
    })
}

/// `100/min`, `10/s`, `1000/h`, `5/day`, or a count per duration: `100/1m`, `10/30s`.
pub fn parse_rate(text: &str) -> Result<Rate, Invalid> {
    let Some((count, per)) = text.split_once('/') else {
        return Err(invalid("a rate is COUNT/PER"));
    };
    let count = count.trim();
    if count.starts_with('-') {
        return Err(invalid("the count cannot be negative"));
    }
    let count: u32 = count
        .parse()
        .map_err(|_| invalid(format!("`{count}` is not a whole number of calls")))?;
    if count == 0 {
        return Err(invalid("the count must be at least 1"));
    }
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other if other.starts_with(|c: char| c.is_ascii_digit()) => parse_duration(other)?,
        other => return Err(invalid(format!("`{other}` is not a unit of time"))),
    };
    if per.is_zero() {
        return Err(invalid("the period must be longer than zero"));
    }
    Ok(Rate { count, per })
}

/// An http(s) URL with a host, for `http` and `sse` upstreams.
pub fn parse_http_url(text: &str) -> Result<Url, Invalid> {
    let text = text.trim();
    if text.contains(char::is_whitespace) {
        return Err(invalid("a URL cannot contain spaces (write `%20` for one)"));
    }
    let url = Url::parse(text).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            invalid("the URL has no scheme: it must start with `https://` or `http://`")
        }
        e => invalid(format!("not a URL: {e}")),
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(invalid(format!(
                "the scheme is `{other}`, but only http and https are supported"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    Ok(url)
}

/// `host:port`: an IP address (IPv6 in brackets) or `localhost`; `:port` alone means 127.0.0.1.
pub fn parse_listen(text: &str) -> Result<SocketAddr, Invalid> {
    let t = text.trim();
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let Some((host, port)) = rest.split_once("]:") else {
            return Err(invalid("an IPv6 address is written `[::1]:8210`"));
        };
        (host, port)
    } else {
        match t.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(invalid("an IPv6 address needs brackets: `[::1]:8210`"));
            }
            Some(hp) => hp,
            None if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() => {
                return Err(invalid(format!(
                    "the host is missing: write `127.0.0.1:{t}`"
                )));
            }
            None => return Err(invalid("the port is missing")),
        }
    };
    let ip = match host {
        "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other.parse().map_err(|_| {
            invalid(format!(
                "`{other}` is not an IP address (host names other than `localhost` are not resolved)"
            ))
        })?,
    };
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port must be a number from 0 to 65535"))?;
    Ok(SocketAddr::new(ip, port))
}

/// HTTP token characters (RFC 9110 §5.6.2), the characters allowed in a header name.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A header name, lower-cased.
pub fn parse_header_name(text: &str) -> Result<String, Invalid> {
    if text.is_empty() {
        return Err(invalid("a header name cannot be empty"));
    }
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| !is_tchar(c)) {
        let what = if c == ' ' {
            "a space".to_string()
        } else {
            format!("`{}`", c.escape_default())
        };
        return Err(invalid_at(
            format!("{what} is not allowed in a header name"),
            i..i + c.len_utf8(),
        ));
    }
    http::HeaderName::from_bytes(text.as_bytes())
        .map(|n| n.as_str().to_string())
        .map_err(|_| invalid("not a valid header name"))
}

/// A header value: no control characters except tab. The reason never repeats the value.
pub fn check_header_value(value: &str) -> Result<(), Invalid> {
    if http::HeaderValue::from_str(value).is_ok() {
        return Ok(());
    }
    let at = value
        .bytes()
        .position(|b| !(b == b'\t' || (b >= 0x20 && b != 0x7f)))
        .unwrap_or(0);
    Err(invalid_at(
        "a header value cannot contain control characters such as a line break",
        at..at + 1,
    ))
}

/// Headers a transport manages itself: configuring them would break the connection.
pub fn reserved_header(lower_name: &str) -> Option<&'static str> {
    match lower_name {
        "host" => Some("the transport sets `Host` from the URL"),
        "content-length" => Some("the transport sets `Content-Length` from the body"),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "te"
        | "trailer" | "upgrade" => Some("hop-by-hop headers are managed by the transport"),
        _ => None,
    }
}

/// An endpoint path, possibly with one `{upstream}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathTemplate {
    Plain(String),
    /// `before{upstream}after`: one endpoint per upstream of the profile.
    PerUpstream {
        before: String,
        after: String,
    },
}

/// Paths under this prefix belong to the admin endpoints.
pub const ADMIN_PREFIX: &str = "/_mcp2";

pub fn parse_endpoint_path(text: &str) -> Result<PathTemplate, Invalid> {
    if !text.starts_with('/') {
        return Err(invalid("an endpoint path starts with `/`"));
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|&(_, c)| c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    {
        let reason = match c {
            '?' | '#' => "a path cannot have a query or a fragment",
            _ => "a path cannot contain spaces or control characters",
        };
        return Err(invalid_at(reason, i..i + c.len_utf8()));
    }
    if text == ADMIN_PREFIX || text.starts_with("/_mcp2/") {
        return Err(invalid_at(
            "paths under `/_mcp2/` are reserved for the admin endpoints",
            0..text.len(),
        ));
    }
    let mut per_upstream = None;
    let mut i = 0;
    while let Some(open) = text[i..].find('{').map(|o| i + o) {
        let Some(close) = text[open..].find('}').map(|c| open + c) else {
            return Err(invalid_at("`{` is never closed", open..text.len()));
        };
        let name = &text[open + 1..close];
        if name != "upstream" {
            return Err(invalid_at(
                format!("`{{{name}}}` is not a placeholder; the only one is `{{upstream}}`"),
                open..close + 1,
            ));
        }
        if per_upstream.is_some() {
            return Err(invalid_at(
                "`{upstream}` may appear only once",
                open..close + 1,
            ));
        }
        per_upstream = Some((open, close + 1));
        i = close + 1;
    }
    if let Some(c) = text
        .find('}')
        .filter(|c| per_upstream.is_none_or(|(_, e)| *c != e - 1))
    {
        return Err(invalid_at("`}` without `{`", c..c + 1));
    }
    Ok(match per_upstream {
        None => PathTemplate::Plain(text.to_string()),
        Some((open, end)) => PathTemplate::PerUpstream {
            before: text[..open].to_string(),
            after: text[end..].to_string(),
        },
    })
}

/// The log levels, in increasing verbosity.
pub const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A level (`info`) or an `EnvFilter`-style list (`warn,mcp2::upstream=debug`). Stricter than
/// `EnvFilter` on purpose: a bare word must be a level, so a typo such as `inf` is an error
/// rather than a filter for a module named `inf`.
pub fn check_log_filter(text: &str) -> Result<(), Invalid> {
    let mut offset = 0;
    for directive in text.split(',') {
        let range = offset..offset + directive.len();
        offset += directive.len() + 1;
        let d = directive.trim();
        if d.is_empty() {
            return Err(invalid_at("an empty directive", range));
        }
        let level = match d.split_once('=') {
            Some((target, level)) => {
                let ok = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_:-.".contains(c));
                if !ok {
                    return Err(invalid_at(
                        format!("`{target}` is not a module path"),
                        range,
                    ));
                }
                level
            }
            None => d,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(invalid_at(format!("`{level}` is not a log level"), range));
        }
    }
    Ok(())
}

/// A browser origin as `allow-origin` takes it: `null`, or `http(s)://host` with an optional
/// `:port` or `:*`, nothing after. Returned lower-cased.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    if lower == "null" {
        return Ok(lower);
    }
    let Some((scheme, rest)) = lower.split_once("://") else {
        return Err("expected `scheme://host`".into());
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("the scheme must be http or https, not `{scheme}`"));
    }
    if rest.is_empty() || rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err("an origin is only scheme, host and port: no path".into());
    }
    let probe = rest.strip_suffix(":*").unwrap_or(rest);
    url::Url::parse(&format!("{scheme}://{probe}"))
        .map_err(|e| e.to_string())
        .and_then(|u| {
            u.host_str()
                .map(|_| ())
                .ok_or_else(|| "no host".to_string())
        })?;
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in [
            "",
            "30",
            "s",
            "-5s",
            "1.5s",
            "3 weeks",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("18446744073709551615h").is_err());
    }

    #[test]
    fn rates_take_units_or_durations() {
        let r = parse_rate("100/min").unwrap();
        assert_eq!((r.count, r.per), (100, Duration::from_secs(60)));
        assert_eq!(
            parse_rate("5/day").unwrap().per,
            Duration::from_secs(86_400)
        );
        assert_eq!(parse_rate("10/30s").unwrap().per, Duration::from_secs(30));
        for bad in ["0/s", "-1/s", "10", "10/fortnight", "10/0s", "x/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(parse_http_url("https://api.example.com/mcp").is_ok());
        assert!(parse_http_url("ftp://x/").is_err());
        assert!(parse_http_url("api.example.com/mcp").is_err());
    }

    #[test]
    fn listen_takes_ip_brackets_and_localhost() {
        assert_eq!(
            parse_listen("localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:80").unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert_eq!(
            parse_listen(":8210").unwrap(),
            "127.0.0.1:8210".parse().unwrap()
        );
        for bad in [
            "::1:80",
            "example.com:80",
            "127.0.0.1:70000",
            "8210",
            "127.0.0.1",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_names_report_the_bad_character() {
        assert_eq!(parse_header_name("X-Api-Key").unwrap(), "x-api-key");
        let e = parse_header_name("X Key").unwrap_err();
        assert_eq!(e.at, Some(1..2));
        let e = check_header_value("ab\ncd").unwrap_err();
        assert_eq!(e.at, Some(2..3));
        assert!(check_header_value("Bearer ünïcode\t").is_ok());
    }

    #[test]
    fn paths_allow_one_upstream_placeholder() {
        assert_eq!(
            parse_endpoint_path("/servers/{upstream}/mcp").unwrap(),
            PathTemplate::PerUpstream {
                before: "/servers/".into(),
                after: "/mcp".into()
            }
        );
        for bad in [
            "mcp",
            "/mcp?x=1",
            "/_mcp2/health",
            "/{name}",
            "/{upstream}/{upstream}",
            "/a}",
        ] {
            assert!(parse_endpoint_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_filters_are_levels_or_directives() {
        assert!(check_log_filter("info").is_ok());
        assert!(check_log_filter("warn,mcp2::upstream=debug").is_ok());
        assert!(check_log_filter("inf").is_err());
        assert!(check_log_filter("info,,debug").is_err());
        assert!(check_log_filter("a b=debug").is_err());
    }
}
