//! The JSON-RPC entry point: what a downstream message is, and what is wrong with it when it is
//! not one.
//!
//! [`parse`] turns the bytes of one client message (an HTTP `POST` body, a stdio line) into
//! rmcp's typed message, or into a [`Rejection`] carrying the JSON-RPC error code the client
//! should get: `-32700` (parse error) for bytes that are not JSON, `-32600` (invalid request)
//! for JSON that is not one JSON-RPC 2.0 message (batches included: MCP dropped them). It never
//! panics, whatever the bytes; the fuzz targets and `tests/entry_never_panics.rs` hold it to
//! that.

use rmcp::model::ClientJsonRpcMessage;
use serde_json::Value;

/// JSON-RPC 2.0 "Parse error".
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC 2.0 "Invalid Request".
pub const INVALID_REQUEST: i32 = -32600;

/// Why a message was refused, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct Rejection {
    /// [`PARSE_ERROR`] or [`INVALID_REQUEST`].
    pub code: i32,
    pub message: String,
    /// The message's `id` when it had a usable one, so the client can match the error.
    pub id: Option<Value>,
}

impl Rejection {
    /// The JSON-RPC error response for this rejection.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": self.id.clone().unwrap_or(Value::Null),
            "error": { "code": self.code, "message": self.message },
        })
    }
}

/// One client message, typed; or why it is not one.
pub fn parse(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Box<Rejection>> {
    match serde_json::from_slice::<ClientJsonRpcMessage>(bytes) {
        Ok(message) => Ok(message),
        Err(_) => Err(Box::new(classify(bytes))),
    }
}

/// What is wrong with bytes that are not a client message.
pub fn classify(bytes: &[u8]) -> Rejection {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        Err(e) => {
            return Rejection {
                code: PARSE_ERROR,
                message: format!("parse error: the message is not JSON ({e})"),
                id: None,
            };
        }
    };
    let invalid = |message: String, id: Option<Value>| Rejection {
        code: INVALID_REQUEST,
        message,
        id,
    };
    let Value::Object(map) = value else {
        let what = match value {
            Value::Array(_) => "a batch (an array); MCP takes one message per request",
            _ => "not a JSON object",
        };
        return invalid(format!("invalid request: the message is {what}"), None);
    };
    let id = map
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned();
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("invalid request: `jsonrpc` must be \"2.0\"".to_string(), id);
    }
    if let Some(bad) = map
        .get("id")
        .filter(|id| !(id.is_string() || id.is_number()))
    {
        return invalid(
            format!("invalid request: `id` must be a string or a number, not {bad}"),
            None,
        );
    }
    let problem = match (map.get("method"), map.contains_key("id")) {
        (Some(Value::String(_)), _) => match map.get("params") {
            Some(Value::Object(_)) | None => "its fields do not fit any MCP message",
            Some(_) => "`params` must be an object",
        },
        (Some(_), _) => "`method` must be a string",
        (None, true) if map.contains_key("result") || map.contains_key("error") => {
            "it is a response with fields that do not fit"
        }
        (None, _) => "it has no `method`",
    };
    invalid(format!("invalid request: {problem}"), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(bytes: &str) -> i32 {
        parse(bytes.as_bytes()).expect_err(bytes).code
    }

    #[test]
    fn good_messages_parse() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"some/extension"}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
        ] {
            assert!(parse(ok.as_bytes()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_messages_get_the_json_rpc_code_that_says_why() {
        assert_eq!(code("{bad"), PARSE_ERROR);
        assert_eq!(code(""), PARSE_ERROR);
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#""text""#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":42}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
            INVALID_REQUEST
        );
        let batch = classify(b"[1]");
        assert!(batch.message.contains("batch"), "{batch}");
        let params = classify(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"x"}"#);
        assert_eq!(params.id, Some(serde_json::json!(3)));
        assert!(params.message.contains("`params`"), "{params}");
    }
}
