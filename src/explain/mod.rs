//! `explain`: how one request would be routed, and why, step by step.
//!
//! An [`Explanation`] is built from the very plan the server runs, by the very functions the
//! server calls: endpoint selection is [`crate::serve::http::select_traced`], every item
//! decision is [`RuleTable::decide_traced`](crate::plan::RuleTable::decide_traced), public
//! names route back through a [`View`](crate::gateway::View) built by
//! [`View::build`](crate::gateway::View::build), and limits are matched by
//! [`crate::gateway::limits::applies`]. Nothing here re-implements a rule.
//!
//! Three sources of upstream lists, one builder:
//! - offline (`mcp2 explain ROUTES …`): no upstream is contacted; lists show the rules, and a
//!   call is explained for the names an upstream would have to offer to be reached;
//! - live (`--live`): the upstreams are connected through a real gateway and its registry;
//! - server (`--server URL`): a running mcp2 answers `POST /_mcp2/explain` with the same code
//!   over its live plan, view and list cache.
//!
//! The server also logs the explanation of each real request at debug level (target
//! `mcp2::explain`), from [`build`].
//!
//! | file        | owns                                                      |
//! |-------------|-----------------------------------------------------------|
//! | `model.rs`  | the explanation's types (its JSON is a documented format)  |
//! | `build.rs`  | building one from a plan, a question and optional lists    |
//! | `names.rs`  | which upstream item a public name could be                 |
//! | `live.rs`   | gathering lists from a running gateway                     |
//! | `render.rs` | the human format                                           |

mod build;
mod live;
mod model;
mod names;
mod render;

pub use build::{Lists, build, choose_endpoint};
pub use live::{LoggedRequest, explain_on, log_request};
pub use model::*;
pub use render::{Style, render};
