//! Running several mcp2 replicas behind one load balancer (design §7).
//!
//! What replicas share, and how, without a cluster protocol of their own:
//! - [`seal`]: session ids sealed under a shared key carry the session, so any replica serves
//!   any session (`serve::sessions` plugs them into rmcp);
//! - [`limiter`]: rate limits counted in Redis, so a limit holds across all replicas together;
//! - [`bus`]: list changes published on a Redis channel, so every replica drops the stale
//!   lists of an upstream that changed on one of them;
//! - [`ended`]: a session ended (`DELETE`) on one replica is ended on every replica;
//! - [`conn`]: the lazily opened, time-bounded Redis connection the checks share.
//!
//! All of it is optional: without a session key and a Redis URL a replica behaves like a
//! single process.

pub mod bus;
pub mod conn;
pub mod ended;
pub mod limiter;
pub mod seal;
