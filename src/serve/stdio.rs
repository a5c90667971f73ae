//! The stdio downstream's framing: stdin lines to the session, the session's lines to stdout,
//! and a JSON-RPC parse error (`-32700`, see `entry`) for every line that is not JSON.
//!
//! rmcp's own stdio transport drops a line it cannot read without a word, so the client waits
//! forever for an answer; here such a line gets its error at once and serving goes on. Lines
//! longer than [`MAX_LINE`] get an invalid-request error and are skipped. Output lines (the
//! session's and the errors) are written whole, never interleaved.

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::entry::{INVALID_REQUEST, Rejection, classify};

/// Longest client message accepted on stdin.
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Buffer between the framing tasks and the session.
const PIPE: usize = 64 * 1024;

/// Starts the framing between `input`/`output` (stdin/stdout) and the returned pair, which the
/// session reads from and writes to.
pub fn frame<R, W>(input: R, output: W) -> (DuplexStream, DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (session_in, to_session) = tokio::io::duplex(PIPE);
    let (from_session, session_out) = tokio::io::duplex(PIPE);
    let (errors, rejected) = mpsc::channel::<Rejection>(64);
    tokio::spawn(read_input(input, to_session, errors));
    tokio::spawn(write_output(from_session, rejected, output));
    (session_in, session_out)
}

async fn read_input(
    input: impl AsyncRead + Unpin,
    mut to_session: DuplexStream,
    errors: mpsc::Sender<Rejection>,
) {
    let mut lines = FramedRead::new(input, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let rejection = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => {
                if serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok() {
                    let mut bytes = line.into_bytes();
                    bytes.push(b'\n');
                    if to_session.write_all(&bytes).await.is_err() {
                        break;
                    }
                    continue;
                }
                classify(line.as_bytes())
            }
            Err(LinesCodecError::MaxLineLengthExceeded) => Rejection {
                code: INVALID_REQUEST,
                message: format!("invalid request: a message longer than {MAX_LINE} bytes"),
                id: None,
            },
            Err(LinesCodecError::Io(_)) => break,
        };
        tracing::info!(%rejection, "a stdin line that is not a message; answered with an error");
        if errors.send(rejection).await.is_err() {
            break;
        }
    }
    // Dropping `to_session` is the session's EOF: the client left.
}

async fn write_output(
    from_session: DuplexStream,
    mut rejected: mpsc::Receiver<Rejection>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut lines = FramedRead::new(from_session, LinesCodec::new());
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            line = lines.next() => match line {
                Some(Ok(line)) => line,
                _ => break,
            },
            rejection = rejected.recv(), if errors_open => match rejection {
                Some(rejection) => rejection.to_json().to_string(),
                None => {
                    errors_open = false;
                    continue;
                }
            },
        };
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if output.write_all(&bytes).await.is_err() || output.flush().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[tokio::test]
    async fn bad_lines_get_errors_good_lines_pass_through() {
        let (mut client_in, stdin) = tokio::io::duplex(1024);
        let (stdout, client_out) = tokio::io::duplex(1024);
        let (session_in, mut session_out) = frame(stdin, stdout);
        client_in
            .write_all(b"{bad\n\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
            .await
            .unwrap();
        let mut from_client = BufReader::new(session_in).lines();
        let passed = from_client.next_line().await.unwrap().unwrap();
        assert_eq!(passed, r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        let mut to_client = BufReader::new(client_out).lines();
        let error = to_client.next_line().await.unwrap().unwrap();
        assert!(error.contains("-32700"), "{error}");
        session_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n")
            .await
            .unwrap();
        let answer = to_client.next_line().await.unwrap().unwrap();
        assert!(answer.contains("\"result\""), "{answer}");
    }
}
