//! The JSON-RPC entry point (what every downstream message goes through) on any bytes: no
//! panic, and a refusal is always a parse error or an invalid request that serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp2::serve::entry::{INVALID_REQUEST, PARSE_ERROR, parse};

fuzz_target!(|bytes: &[u8]| {
    if let Err(rejection) = parse(bytes) {
        assert!(rejection.code == PARSE_ERROR || rejection.code == INVALID_REQUEST);
        let _ = rejection.to_json().to_string();
    }
});
