//! The settings pass-through adds to the route language, through the real `mcp2` binary:
//! `session shared|per-client` (YAML `session: shared|perClient`).

mod util;

use util::Dir;

const PER_CLIENT: &str = "upstream files {\n  stdio \"mcp-files\"\n  session per-client\n}\nprofile default { use files }\n";

#[test]
fn session_modes_check_and_yaml_converts_to_the_route_spelling() {
    let dir = Dir::new("session_modes");
    dir.create("routes.mcproute", PER_CLIENT);
    dir.command()
        .args(["check", "routes.mcproute"])
        .run()
        .assert_exit(0);
    dir.create(
        "config.yaml",
        "servers:\n  files:\n    transport: { kind: stdio, command: mcp-files }\n    session: perClient\nprofiles:\n  default:\n    servers:\n      files: {}\n",
    );
    let converted = dir.command().args(["convert", "config.yaml"]).run();
    converted.assert_exit(0);
    assert!(
        converted.stdout.contains("session per-client"),
        "{}",
        converted.stdout
    );
}

#[test]
fn an_unknown_session_mode_is_an_error_with_a_suggestion() {
    let dir = Dir::new("session_mode_typo");
    dir.create(
        "routes.mcproute",
        &PER_CLIENT.replace("per-client", "perclient"),
    );
    let out = dir
        .command()
        .args(["check", "routes.mcproute", "--format", "json"])
        .run();
    out.assert_exit(1);
    let v = out.json();
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "mcp2::check::bad_session_mode", "{v}");
    assert_eq!(d["primary"]["line"], 3, "{v}");
    assert!(d["help"].as_str().unwrap().contains("`per-client`"), "{v}");
}
