//! Results relayed from an upstream, translated to the downstream session's protocol era.
//!
//! An upstream on a handshake-era protocol (2025-11-25 and before) sends results without
//! `resultType`; a downstream session on 2026-07-28 requires it on every result, and the Python
//! SDK refuses a result without it. The spec reads an absent `resultType` as `"complete"`, so
//! that is what the gateway writes; rmcp strips `"complete"` again for downstream peers on an
//! older version, so one translation serves both eras. Results whose `resultType` carries
//! meaning (`input_required`, `task`) pass through untouched.

use rmcp::model::{
    CallToolResponse, CompleteResult, GetPromptResponse, ReadResourceResponse, ResultType,
};

pub fn call_tool(mut response: CallToolResponse) -> CallToolResponse {
    if let CallToolResponse::Complete(result) = &mut response {
        result.result_type.get_or_insert(ResultType::COMPLETE);
    }
    response
}

pub fn get_prompt(mut response: GetPromptResponse) -> GetPromptResponse {
    if let GetPromptResponse::Complete(result) = &mut response {
        result.result_type.get_or_insert(ResultType::COMPLETE);
    }
    response
}

pub fn read_resource(mut response: ReadResourceResponse) -> ReadResourceResponse {
    if let ReadResourceResponse::Complete(result) = &mut response {
        result.result_type.get_or_insert(ResultType::COMPLETE);
    }
    response
}

pub fn complete(mut result: CompleteResult) -> CompleteResult {
    result.result_type.get_or_insert(ResultType::COMPLETE);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::CallToolResult;

    #[test]
    fn a_result_without_result_type_becomes_complete() {
        let mut legacy = CallToolResult::success(vec![]);
        legacy.result_type = None;
        let CallToolResponse::Complete(relayed) = call_tool(legacy.into()) else {
            panic!("still a complete result");
        };
        let json = serde_json::to_value(relayed).unwrap();
        assert_eq!(json["resultType"], "complete");
    }
}
