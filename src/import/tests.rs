use super::*;

fn notes_at(imported: &Imported, path: &str) -> Vec<Note> {
    imported
        .notes
        .iter()
        .filter(|n| n.path == path)
        .cloned()
        .collect()
}

#[test]
fn vs_code_servers_key_and_type_inference() {
    let imported = import(
        r#"{ "servers": { "a": { "url": "https://x.example/mcp" },
                          "b": { "url": "https://x.example/sse/" } },
             "inputs": [] }"#,
    )
    .unwrap();
    assert_eq!(
        imported.servers[0].transport,
        ClientTransport::Http {
            url: "https://x.example/mcp".into()
        }
    );
    assert_eq!(
        imported.servers[1].transport,
        ClientTransport::Sse {
            url: "https://x.example/sse/".into()
        }
    );
    assert_eq!(notes_at(&imported, "inputs")[0].severity, Severity::Warning);
}

#[test]
fn unknown_fields_are_reported_with_their_path() {
    let imported =
        import(r#"{ "mcpServers": { "my db": { "command": "db", "alwaysAllow": [] } } }"#).unwrap();
    let unknown = notes_at(&imported, r#"mcpServers["my db"].alwaysAllow"#);
    assert_eq!(unknown.len(), 1, "{:?}", imported.notes);
    assert_eq!(imported.servers[0].name, "my_db");
}

#[test]
fn a_secret_never_reaches_the_routes() {
    let imported = import(
        r#"{ "mcpServers": { "gh": { "url": "https://api.example/mcp",
             "headers": { "Authorization": "Bearer ghp_aaaaaaaaaaaaaaaaaaaaaaaa1" } } } }"#,
    )
    .unwrap();
    let printed = crate::syntax::print::print(&emit::ast(&imported.servers));
    assert!(!printed.contains("ghp_"), "{printed}");
    assert!(printed.contains("Bearer ${GH_AUTHORIZATION}"), "{printed}");
    assert_eq!(imported.variables[0].0, "GH_AUTHORIZATION");
    assert!(imported.notes.iter().all(|n| !n.message.contains("ghp_")));
}

#[test]
fn broken_servers_are_errors_and_not_json_is_refused() {
    let imported = import(
        r#"{ "mcpServers": { "x": { "type": "websocket", "url": "ws://h" },
                                               "y": { "args": [] } } }"#,
    )
    .unwrap();
    assert!(imported.has_errors());
    assert!(imported.servers.is_empty());
    assert!(matches!(import("{"), Err(ImportError::Json(_))));
    assert!(matches!(import(r#"{"x": 1}"#), Err(ImportError::NoServers)));
}
