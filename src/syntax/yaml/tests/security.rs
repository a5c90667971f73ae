//! `listen.allowOrigins`, `hub.auth` and a server's `protocol`: the YAML spelling lowers to
//! the same AST as the route language's `allow-origin`, `auth` and `protocol`.

use super::parse;
use crate::diag::{Diagnostics, codes};
use crate::source::SourceSet;
use crate::syntax::ast;

fn mcproute(text: &str) -> ast::File {
    let mut sources = SourceSet::new();
    let id = sources.add("routes.mcproute", text);
    let mut diags = Diagnostics::new();
    let file = crate::syntax::mcproute::parse(&sources.files()[id.0 as usize], &mut diags);
    assert!(diags.is_empty(), "{diags:#?}");
    file
}

#[test]
fn origins_auth_and_protocol_mean_what_the_route_language_says() {
    let yaml = parse(
        r#"
listen:
  host: 127.0.0.1
  port: 8210
  allowOrigins: ["https://app.example.com", "http://dev.local:*"]
servers:
  notes:
    transport: { kind: stdio, command: notes-server }
    protocol: "2026-07-28"
  search:
    transport: { kind: http, url: "http://127.0.0.1:9000/mcp" }
    protocol: initialize
profiles:
  default:
    servers: [notes, search]
hub:
  path: /mcp
  auth:
    apiKey: "${HUB_KEY}"
"#,
    );
    assert!(yaml.diags.is_empty(), "{:#?}", yaml.diags);
    let routes = mcproute(
        r#"
listen 127.0.0.1:8210 allow-origin "https://app.example.com" "http://dev.local:*"
upstream notes {
  stdio "notes-server"
  protocol 2026-07-28
}
upstream search {
  http "http://127.0.0.1:9000/mcp"
  protocol initialize
}
profile default { use notes, search }
endpoint "/mcp" -> default auth key "${HUB_KEY}"
"#,
    );
    assert_eq!(yaml.file, routes);
}

#[test]
fn origins_alone_keep_the_default_address() {
    let yaml = parse("listen:\n  allowOrigins: https://app.example.com\nservers: {}\n");
    let listen = yaml.file.items.iter().find_map(|i| match i {
        ast::Item::Listen(l) => Some(l),
        _ => None,
    });
    let listen = listen.expect("a listen item");
    assert_eq!(listen.addr.node, "127.0.0.1:8210");
    assert_eq!(listen.origins.len(), 1);
    assert_eq!(listen.origins[0].node, "https://app.example.com");
}

#[test]
fn auth_takes_any_number_of_credentials_but_not_none() {
    let both = parse("servers: {}\nhub:\n  auth:\n    bearer: \"${T}\"\n    apiKey: \"${K}\"\n");
    assert!(both.diags.is_empty(), "{:#?}", both.diags);
    let hub = both.file.items.iter().find_map(|item| match item {
        ast::Item::Endpoint(e) => Some(e),
        _ => None,
    });
    let kinds: Vec<&str> = hub
        .map(|e| e.auth.iter().map(|a| a.kind.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["bearer", "key"]);
    let none = parse("servers: {}\nhub:\n  auth: {}\n");
    let diag = none.one(codes::YAML_MISSING_KEY);
    assert!(diag.message.contains("`bearer`"), "{}", diag.message);
    let unknown = parse("servers: {}\nhub:\n  auth:\n    token: \"${T}\"\n");
    assert!(!unknown.diags.is_empty());
}
