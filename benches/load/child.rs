//! What every process the bench starts for itself does (the fixture upstream, the bare proxy):
//! bind 127.0.0.1 only, say `LISTENING port=P` on stdout once bound (the bench waits for that
//! line), and stop when stdin closes, so it never outlives the bench.

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::BenchError;

/// Binds 127.0.0.1 on `port` (0: any free one) and announces the port; `what` names the
/// process in errors.
pub async fn listen(port: u16, what: &str) -> Result<TcpListener, BenchError> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| BenchError::Io(format!("{what} bind"), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| BenchError::Io(format!("{what} address"), e))?
        .port();
    println!("LISTENING port={port}");
    Ok(listener)
}

/// Completes when stdin closes: the bench has ended, or died.
pub async fn stdin_closed() {
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}
