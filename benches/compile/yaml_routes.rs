//! The benchmark's route set in the YAML format: the same servers and profiles as the
//! `.mcproute` text, as four YAML files. Servers and profiles share files because a YAML file
//! with `servers` and no `profiles` declares a `default` profile of its own.

use std::fmt::Write as _;

const FILES: usize = 4;

/// (file name, text) of each file.
pub fn files(upstreams: usize, profiles: usize, uses: usize) -> Vec<(String, String)> {
    (0..FILES)
        .map(|f| {
            let mut text = String::new();
            if f == 0 {
                text.push_str("defaultProfile: p0\nhub: { path: /mcp, profile: p0 }\n");
            }
            text.push_str("servers:\n");
            for i in (0..upstreams).filter(|i| i % FILES == f) {
                server(&mut text, i);
            }
            text.push_str("profiles:\n");
            for p in (0..profiles).filter(|p| p % FILES == f) {
                profile(&mut text, p, upstreams, uses);
            }
            (format!("routes-{f}.yaml"), text)
        })
        .collect()
}

fn server(out: &mut String, i: usize) {
    let _ = writeln!(out, "  up{i}:\n    transport:");
    if i % 4 == 3 {
        let _ = writeln!(
            out,
            "      kind: stdio\n      command: npx\n      args: [server-{i}]"
        );
    } else {
        let kind = if i % 4 == 2 { "sse" } else { "http" };
        let _ = writeln!(
            out,
            "      kind: {kind}\n      url: \"https://up{i}.example.com/mcp\"\n      headers:\n        Authorization: \"Bearer ${{TOKEN}}\""
        );
    }
    let _ = writeln!(out, "    timeout: 30s");
}

fn profile(out: &mut String, p: usize, upstreams: usize, uses: usize) {
    let _ = writeln!(out, "  p{p}:\n    prefix: \"{{upstream}}__\"\n    servers:");
    for k in 0..uses {
        let name = format!("up{}", (p * 4 + k) % upstreams);
        match k {
            0 => {
                let _ = writeln!(
                    out,
                    "      {name}:\n        tools: {{ deny: [\"*delete*\"], allow: [\"search_*\", \"read_*\"] }}\n        rename: {{ tools: {{ search_code: code_search_{p} }} }}\n        limits: {{ calls: 100/min, per: session }}"
                );
            }
            1 => {
                let _ = writeln!(
                    out,
                    "      {name}:\n        tools: {{ deny: [\"*write*\", \"/^admin_[a-z]+$/\"] }}"
                );
            }
            _ => {
                let _ = writeln!(out, "      {name}: {{}}");
            }
        }
    }
}
