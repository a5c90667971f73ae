//! The client side against a scripted server over an in-memory pipe: what reaches the events
//! channel, and where server→client requests go.

use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};

use super::*;

struct Script {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    write: WriteHalf<DuplexStream>,
}

impl Script {
    async fn recv(&mut self) -> Value {
        let line = self
            .lines
            .next_line()
            .await
            .unwrap()
            .expect("client closed");
        serde_json::from_str(&line).unwrap()
    }

    async fn send(&mut self, message: Value) {
        let mut line = serde_json::to_vec(&message).unwrap();
        line.push(b'\n');
        self.write.write_all(&line).await.unwrap();
    }

    async fn ask(&mut self, message: Value) -> Value {
        self.send(message).await;
        self.recv().await
    }
}

/// Records each request it is given and refuses it with a recognisable message.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl ServerRequestHandler for Recorder {
    fn handle(
        &self,
        call: ServerRequestCall,
    ) -> BoxFuture<'static, Result<ClientResult, ErrorData>> {
        let seen = format!("{} from {}", request_method(&call.request), call.upstream);
        self.0.lock().unwrap().push(seen.clone());
        Box::pin(async move { Err(ErrorData::internal_error(format!("routed {seen}"), None)) })
    }
}

async fn connect() -> (
    rmcp::service::RunningService<RoleClient, UpstreamClient>,
    Script,
    broadcast::Receiver<UpstreamEvent>,
    HandlerSlot,
) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (events, rx) = broadcast::channel(16);
    let default: Arc<dyn ServerRequestHandler> = Arc::new(NotSupported);
    let handler: HandlerSlot = Arc::new(RwLock::new(default));
    let service = UpstreamClient {
        upstream: UpstreamId::new("fake"),
        instance: 1,
        events,
        handler: handler.clone(),
        info: client_config(&ClientCapabilities::default()),
    };
    let client = tokio::spawn(rmcp::serve_client(service, tokio::io::split(client_io)));
    let (read, write) = tokio::io::split(server_io);
    let mut script = Script {
        lines: BufReader::new(read).lines(),
        write,
    };
    let init = script.recv().await;
    assert_eq!(init["method"], "initialize");
    script
        .send(json!({"jsonrpc": "2.0", "id": init["id"], "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "serverInfo": {"name": "scripted", "version": "0"}
        }}))
        .await;
    assert_eq!(script.recv().await["method"], "notifications/initialized");
    let running = client.await.unwrap().expect("handshake");
    (running, script, rx, handler)
}

#[tokio::test]
async fn notifications_reach_the_events_channel_with_their_meta() {
    let (_running, mut script, mut events, _) = connect().await;
    script
        .send(
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": "t-1", "progress": 1, "_meta": {"trace": "abc"}
            }}),
        )
        .await;
    script
        .send(
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
            "params": {"_meta": {"trace": "def"}}}),
        )
        .await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        match events.recv().await.unwrap() {
            UpstreamEvent::Notification {
                upstream,
                notification,
                ..
            } => {
                assert_eq!(upstream.as_str(), "fake");
                seen.push(serde_json::to_value(&notification).unwrap());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // rmcp runs each notification in its own task: compare as a set.
    let progress = seen
        .iter()
        .find(|n| n["method"] == "notifications/progress")
        .expect("progress forwarded");
    assert_eq!(progress["params"]["progressToken"], "t-1");
    assert_eq!(progress["params"]["_meta"]["trace"], "abc");
    assert!(
        seen.iter()
            .any(|n| n["method"] == "notifications/tools/list_changed")
    );
}

#[tokio::test]
async fn server_requests_are_refused_by_default_and_routed_through_the_hook() {
    let (_running, mut script, _events, handler) = connect().await;
    let pong = script
        .ask(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}))
        .await;
    assert_eq!(pong["id"], 7);
    assert!(pong["result"].is_object(), "{pong}");

    let sampling = json!({"jsonrpc": "2.0", "id": 8, "method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
        "maxTokens": 5
    }});
    let refused = script.ask(sampling).await;
    assert_eq!(refused["id"], 8);
    assert_eq!(refused["error"]["code"], -32601);
    let message = refused["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "sampling/createMessage is not supported by this gateway yet"
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    *handler.write().unwrap() = Arc::new(Recorder(seen.clone()));
    let routed = script
        .ask(json!({"jsonrpc": "2.0", "id": 9, "method": "roots/list"}))
        .await;
    assert_eq!(routed["error"]["message"], "routed roots/list from fake");
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["roots/list from fake".to_string()]
    );
}
