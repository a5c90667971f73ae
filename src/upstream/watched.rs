//! [`Watched`]: a transport wrapper that reports the moment the upstream's stream ends.
//!
//! rmcp's service loop notices a closed transport too, but it then drains in-flight handlers for
//! up to 5 s before its task ends. The supervisor must mark the upstream down at once, so the
//! transport itself fires a token when `receive` yields nothing more.

use std::borrow::Cow;

use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio_util::sync::CancellationToken;

pub(crate) struct Watched<T> {
    inner: T,
    closed: CancellationToken,
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, closed: CancellationToken) -> Self {
        Watched { inner, closed }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Watched<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await;
        if message.is_none() {
            self.closed.cancel();
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
