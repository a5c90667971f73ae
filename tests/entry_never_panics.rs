//! The JSON-RPC entry point ([`mcp2::serve::entry::parse`], which every downstream message
//! goes through) never panics and always says why it refuses, whatever the bytes: random
//! bytes, real messages mutated byte by byte, and JSON built from JSON-RPC's own field names
//! with wrong types. The fuzz target `fuzz/fuzz_targets/jsonrpc.rs` is the unbounded version
//! for developers; this one is bounded (256 cases per property, well under a second).

use mcp2::serve::entry::{INVALID_REQUEST, PARSE_ERROR, Rejection, parse};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Real client messages to mutate.
const SEEDS: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    r#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":7}}}"#,
    r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///x"}}"#,
    r#"{"jsonrpc":"2.0","id":3,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"ok"}}}"#,
    r#"{"jsonrpc":"2.0","id":4,"error":{"code":-1,"message":"no"}}"#,
];

/// What must hold for any input: a refusal is one of the two codes, a parse error only for
/// bytes that are not JSON, an `id` only when the input had a usable one, and it serializes.
fn check(bytes: &[u8]) {
    let Err(rejection) = parse(bytes) else {
        return;
    };
    let Rejection { code, id, .. } = rejection.as_ref();
    let json = serde_json::from_slice::<Value>(bytes).ok();
    match json {
        None => assert_eq!(*code, PARSE_ERROR, "{rejection}"),
        Some(ref value) => {
            assert_eq!(*code, INVALID_REQUEST, "{rejection}");
            if let Some(id) = id {
                assert_eq!(Some(id), value.get("id"), "{rejection}");
                assert!(id.is_string() || id.is_number());
            }
        }
    }
    let answer = rejection.to_json();
    assert_eq!(answer["jsonrpc"], "2.0");
    assert_eq!(answer["error"]["code"], json!(code));
}

/// A seed with a few bytes deleted, replaced or inserted.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..SEEDS.len(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = SEEDS[seed].as_bytes().to_vec();
            for (at, kind, byte) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => {
                        bytes.remove(i);
                    }
                    1 => bytes[i] = byte,
                    _ => bytes.insert(i, byte),
                }
            }
            bytes
        })
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z/._-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with JSON-RPC's field names, each present or not, each of any type (or a
/// plausible value), sometimes wrapped in a batch.
fn jsonrpc_shaped() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        Just(json!("initialize")),
        Just(json!("tools/call")),
        Just(json!("tools/list")),
        Just(json!("ping")),
        Just(json!("notifications/initialized")),
        Just(json!("notifications/cancelled")),
        "[a-z]{1,8}/[a-z]{1,8}".prop_map(Value::from),
        any_json(),
    ];
    let field = |values: BoxedStrategy<Value>| prop::option::of(values);
    (
        field(prop_oneof![Just(json!("2.0")), any_json()].boxed()),
        field(prop_oneof![any::<i64>().prop_map(Value::from), any_json()].boxed()),
        field(method.boxed()),
        field(any_json().boxed()),
        field(any_json().boxed()),
        field(any_json().boxed()),
        any::<bool>(),
    )
        .prop_map(|(jsonrpc, id, method, params, result, error, batch)| {
            let mut map = serde_json::Map::new();
            for (key, value) in [
                ("jsonrpc", jsonrpc),
                ("id", id),
                ("method", method),
                ("params", params),
                ("result", result),
                ("error", error),
            ] {
                if let Some(value) = value {
                    map.insert(key.to_string(), value);
                }
            }
            let message = Value::Object(map);
            if batch { json!([message]) } else { message }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }

    #[test]
    fn mutated_messages(bytes in mutated()) {
        check(&bytes);
    }

    #[test]
    fn json_rpc_shaped_values(value in jsonrpc_shaped()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        check(&bytes);
        // A batch is never a message.
        if value.is_array() {
            prop_assert!(parse(&bytes).is_err());
        }
    }
}

#[test]
fn the_seeds_are_messages() {
    for seed in SEEDS {
        assert!(parse(seed.as_bytes()).is_ok(), "{seed}");
    }
}
