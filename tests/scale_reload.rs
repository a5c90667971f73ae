//! Scale-out (issue 12): a routes change reaches every replica. Replicas share no reload
//! message: each watches its own copy of the routes — in Kubernetes the same ConfigMap, mounted
//! as a volume the kubelet updates by swapping a symlinked directory. Here three replicas watch
//! one directory laid out exactly like such a volume, and the test swaps it the way the kubelet
//! does; every replica serves the new routes within a second. (`POST /_mcp2/reload` reloads the
//! one replica that receives it; with watching on, there is nothing else to do.)

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::client::{Client, connect, tool_names};
use support::cluster::Upstream;
use support::process::{Mcp2, Routes};

fn routes(upstream: u16, rules: &str) -> String {
    format!(
        "upstream scale {{\n  http \"http://127.0.0.1:{upstream}/mcp\"\n}}\n\
         profile default {{\n  use scale\n  {rules}\n}}\nendpoint \"/mcp\" -> default\n"
    )
}

/// Publishes `text` as the volume's content the kubelet's way: a new timestamped directory, a
/// `..data_tmp` symlink to it renamed over `..data`, the old directory removed.
fn publish(volume: &Path, version: u32, text: &str) {
    let dir = format!("..2026_11_26_{version}");
    std::fs::create_dir(volume.join(&dir)).expect("a version directory");
    std::fs::write(volume.join(&dir).join("routes.mcproute"), text).expect("the routes");
    let tmp = volume.join("..data_tmp");
    std::os::unix::fs::symlink(&dir, &tmp).expect("..data_tmp");
    std::fs::rename(&tmp, volume.join("..data")).expect("swap ..data");
    if version > 1 {
        let old = volume.join(format!("..2026_11_26_{}", version - 1));
        std::fs::remove_dir_all(old).expect("remove the old version");
    } else {
        std::os::unix::fs::symlink("..data/routes.mcproute", volume.join("routes.mcproute"))
            .expect("the file's symlink");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_update_reloads_every_replica_within_a_second() {
    let upstream = Upstream::start().await;
    let volume = Routes::new("");
    std::fs::remove_file(volume.path().join("routes.mcproute")).expect("an empty volume");
    publish(volume.path(), 1, &routes(upstream.port, ""));

    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Mcp2::serve(&volume, &[], &[]).await);
    }
    let mut clients: Vec<Client> = Vec::new();
    for r in &replicas {
        clients.push(connect(&r.url("/mcp")).await);
    }
    for c in &clients {
        let tools = tool_names(c).await;
        assert!(tools.contains(&"echo".to_string()), "{tools:?}");
    }

    publish(
        volume.path(),
        2,
        &routes(upstream.port, "rename tool scale/echo -> shout"),
    );
    let swapped = Instant::now();
    let mut slowest = Duration::ZERO;
    for (i, c) in clients.iter().enumerate() {
        loop {
            let tools = tool_names(c).await;
            if tools.contains(&"shout".to_string()) {
                assert!(!tools.contains(&"echo".to_string()), "{tools:?}");
                break;
            }
            assert!(
                swapped.elapsed() < Duration::from_secs(1),
                "replica {i} still serves the old routes a second after the update: {}",
                replicas[i].stderr_tail(5)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        slowest = slowest.max(swapped.elapsed());
    }
    eprintln!("every replica serves the new routes {slowest:?} after the volume swap");
    for r in &replicas {
        assert_eq!(
            r.count_in_stderr("routes reloaded"),
            1,
            "one reload per replica for one update: {}",
            r.stderr_tail(8)
        );
    }
}
