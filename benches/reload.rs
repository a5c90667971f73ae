//! How long a reload takes on a 200-upstream plan: from "the file changed" to "the new plan is
//! serving" (compile off to the side, reconcile the upstream registry, swap), with every upstream
//! unchanged and one rule edited — the common operator change.
//!
//! The upstreams are Streamable HTTP upstreams on a closed 127.0.0.1 port: they stay down and
//! back off, which is what keeps this benchmark about the reload and not about 200 servers. The
//! file watch adds its quiet period (`reload::watch::DEBOUNCE`) on top of these figures.
//!
//! `cargo bench --bench reload`

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mcp2::check::{ProcessEnv, compile};
use mcp2::gateway::{CachePolicy, Gateway};
use mcp2::reload::{Reloader, Trigger};
use mcp2::source::SourceSet;

const UPSTREAMS: usize = 200;
const PROFILES: usize = 50;
const ROUNDS: usize = 30;

fn routes(rule: usize) -> String {
    let mut text = String::from("default-profile p0\n");
    for i in 0..UPSTREAMS {
        let _ = writeln!(
            text,
            "upstream up{i} {{\n  http \"http://127.0.0.1:9/mcp\"\n  header X-Api-Key = \"key-{i}\"\n}}"
        );
    }
    for p in 0..PROFILES {
        let ups: Vec<String> = (0..8)
            .map(|k| format!("up{}", (p * 4 + k) % UPSTREAMS))
            .collect();
        let _ = writeln!(
            text,
            "profile p{p} {{\n  use {}\n  prefix \"{{upstream}}__\"\n  deny tool {}/delete_*\n  allow tool {}/read_*\n  rename tool {}/search -> search_{p}_{rule}\n}}\nendpoint \"/mcp/p{p}\" -> p{p}",
            ups.join(", "),
            ups[0],
            ups[1],
            ups[2]
        );
    }
    text
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("routes.mcproute");
        std::fs::write(&file, routes(0)).expect("write routes");
        let sources = SourceSet::load(dir.path()).expect("load");
        let plan = compile(&sources, &ProcessEnv).plan.expect("the generated routes check clean");
        let listen: SocketAddr = plan.listen;
        let gateway = Gateway::start(plan, CachePolicy::default()).await;
        let reloader = Reloader::new(gateway.clone(), dir.path().to_path_buf(), Box::new(ProcessEnv), listen);
        let mut times = Vec::with_capacity(ROUNDS);
        for round in 1..=ROUNDS {
            std::fs::write(&file, routes(round)).expect("rewrite routes");
            let start = Instant::now();
            let outcome = reloader.reload(Trigger::Http).await;
            times.push(start.elapsed());
            assert!(outcome.applied(), "reload {round} was rejected: {outcome:?}");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "reload of a {UPSTREAMS}-upstream, {PROFILES}-profile plan (rule change, upstreams kept), {ROUNDS} rounds: \
             min {:.2} ms, median {:.2} ms, max {:.2} ms (+ the watch's {} ms quiet period for file triggers)",
            ms(times[0]),
            ms(times[ROUNDS / 2]),
            ms(times[ROUNDS - 1]),
            mcp2::reload::watch::DEBOUNCE.as_millis()
        );
        gateway.shutdown().await;
    });
}
