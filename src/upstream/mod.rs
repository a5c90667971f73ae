//! STUB of the upstream API (replaced by the real module at merge).
#![allow(dead_code, unused_variables)]

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use rmcp::model::{ServerInfo, ServerNotification};
use rmcp::service::{Peer, RoleClient};

use crate::plan::{UpstreamId, UpstreamSpec};

#[derive(Debug, Clone)]
pub enum UpstreamEvent {
    Notification {
        upstream: UpstreamId,
        notification: ServerNotification,
    },
    State {
        upstream: UpstreamId,
        state: UpstreamState,
    },
}

#[derive(Debug, Clone)]
pub enum UpstreamState {
    Connecting,
    Connected,
    Down { error: String },
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("timed out")]
    Timeout,
    #[error("down: {0}")]
    Down(String),
}

#[derive(Clone)]
pub struct Registry;

#[derive(Clone)]
pub struct UpstreamHandle;

pub struct InFlight;

#[derive(Debug, Default)]
pub struct ReconcileReport;

impl Registry {
    pub fn new(events: tokio::sync::broadcast::Sender<UpstreamEvent>) -> Registry {
        Registry
    }
    pub async fn reconcile(
        &self,
        upstreams: &IndexMap<UpstreamId, Arc<UpstreamSpec>>,
    ) -> ReconcileReport {
        ReconcileReport
    }
    pub fn get(&self, id: &str) -> Option<UpstreamHandle> {
        None
    }
    pub fn all(&self) -> Vec<UpstreamHandle> {
        vec![]
    }
    pub async fn shutdown(&self) {}
}

impl UpstreamHandle {
    pub fn id(&self) -> &UpstreamId {
        unimplemented!()
    }
    pub fn spec(&self) -> &Arc<UpstreamSpec> {
        unimplemented!()
    }
    pub fn state(&self) -> UpstreamState {
        UpstreamState::Connecting
    }
    pub fn peer(&self) -> Option<Peer<RoleClient>> {
        None
    }
    pub fn server_info(&self) -> Option<ServerInfo> {
        None
    }
    pub async fn ready(&self, timeout: Duration) -> Result<Peer<RoleClient>, UpstreamError> {
        Err(UpstreamError::Timeout)
    }
    pub fn begin_request(&self) -> InFlight {
        InFlight
    }
    pub fn pid(&self) -> Option<u32> {
        None
    }
}
