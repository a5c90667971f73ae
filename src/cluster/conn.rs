//! [`LazyRedis`]: one Redis connection shared by a replica's checks, opened on first use,
//! bounded in time, and tried again at most every [`RECONNECT_EVERY`] while Redis is away (a
//! check then gets `None` at once and applies its failure policy instead of waiting).

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::limiter::RedisError;

/// How long one Redis round trip (or connecting) may take before the caller gives up.
pub const DEADLINE: Duration = Duration::from_millis(500);
/// How long to wait between attempts to connect while Redis is unreachable.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

pub struct LazyRedis {
    client: redis::Client,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
}

impl LazyRedis {
    /// A connection to the Redis at `url` (`redis://host:port[/db]`), not opened yet.
    pub fn new(url: &str) -> Result<LazyRedis, RedisError> {
        Ok(LazyRedis {
            client: redis::Client::open(url).map_err(RedisError::Url)?,
            state: tokio::sync::Mutex::default(),
        })
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The connection (it reconnects by itself once open); `None` while Redis is unreachable.
    pub async fn get(&self) -> Option<ConnectionManager> {
        let mut state = self.state.lock().await;
        if let Some(manager) = &state.manager {
            return Some(manager.clone());
        }
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < RECONNECT_EVERY)
        {
            return None;
        }
        state.last_attempt = Some(Instant::now());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(DEADLINE)
            .set_response_timeout(DEADLINE)
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            DEADLINE,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        .ok()?
        .ok()?;
        state.manager = Some(manager.clone());
        Some(manager)
    }
}
