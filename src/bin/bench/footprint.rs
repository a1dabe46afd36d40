//! Scenario 6, footprint: a server's memory in a process of its own, and the browser bundle's sizes.

use super::*;

/// Scenario 6, memory: a server in a process of its own on the benchmark's database
/// takes over every active integration (all the storm's among them); its resident
/// memory is read once it has been idle for a while, then every stormed webhook is
/// called through it to check that it really runs them.
pub(super) async fn server_memory(
    database_url: &str,
    empty_database_url: &str,
    data_dir: &std::path::Path,
    stormed: usize,
) -> Result<Vec<Figure>, Failure> {
    let store = Store::connect(database_url).await?;
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM integrations WHERE target_state = 'active'")
            .fetch_one(store.pool())
            .await?;
    let replica = "bench-footprint";
    let mut child = spawn_server(database_url, data_dir, "footprint", replica)?;
    let pid = child.0.id();
    let port = child.1;
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait()? {
            return Err(fail(format!("the measured server exited: {status}")));
        }
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM integrations
             WHERE lease_owner = $1 AND current_state = 'active' AND target_state = 'active'",
        )
        .bind(replica)
        .fetch_one(store.pool())
        .await?;
        if running >= active {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(fail(format!(
                "the measured server took over only {running} of {active} integrations"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = started.elapsed();
    // Idle: nothing calls it; its reconciler ticks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = resident_mb(pid)?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    call_stormed(&client, &base, stormed).await?;
    let after_calls = resident_mb(pid)?;
    drop(child);
    store.close().await;
    let empty = empty_server_mb(empty_database_url, data_dir).await?;
    let per_integration = (idle - empty) * 1024.0 / active.max(1) as f64;
    Ok(vec![
        figure(
            "footprint",
            format!("server takes over {active} active integrations in"),
            took_over.as_secs_f64(),
            "s",
            None,
        ),
        figure("footprint", "server RSS, idle", idle, "MB", None),
        figure(
            "footprint",
            "baseline: an empty server's RSS, idle",
            empty,
            "MB",
            None,
        ),
        figure(
            "footprint",
            "RSS per running integration beyond the empty server",
            per_integration,
            "KB",
            Some("≤ 3 KB"),
        ),
        figure(
            "footprint",
            format!("server RSS after {stormed} webhook calls"),
            after_calls,
            "MB",
            None,
        ),
    ])
}

/// The baseline for memory: a server of its own on an empty database, idle for as
/// long as the measured one.
async fn empty_server_mb(database_url: &str, data_dir: &std::path::Path) -> Result<f64, Failure> {
    let server = spawn_ready(database_url, data_dir, "empty", "bench-empty").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    resident_mb(server.0.id())
}

/// A server of its own (as [`spawn_server`]) once it answers.
async fn spawn_ready(
    database_url: &str,
    data_dir: &std::path::Path,
    name: &str,
    replica: &str,
) -> Result<Server, Failure> {
    let server = spawn_server(database_url, data_dir, name, replica)?;
    let up = format!("http://127.0.0.1:{}/api/openapi.json", server.1);
    let client = reqwest::Client::new();
    let started = Instant::now();
    while !matches!(client.get(&up).send().await, Ok(answer) if answer.status() == 200) {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(fail(format!(
                "the server {name} did not answer within 60 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(server)
}

/// `bench serve` as a process of its own on `database_url`, with a data directory
/// under `data_dir` named `name`, listening on a free port (the second field).
pub(super) fn spawn_server(
    database_url: &str,
    data_dir: &std::path::Path,
    name: &str,
    replica: &str,
) -> Result<Server, Failure> {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let child_dir = data_dir.join(name);
    // Servers sharing a database need the key its connection secrets are sealed under
    // (the sql and amqp scenarios made connections): the measured one gets a copy.
    std::fs::create_dir_all(&child_dir)?;
    let key = data_dir.join("secret.key");
    if key.exists() {
        std::fs::copy(&key, child_dir.join("secret.key"))?;
    }
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&child_dir)
        .args(["--database-url", database_url])
        .args(["--replica-id", replica])
        .args(["--log", "warn"])
        .spawn()?;
    Ok(Server(child, port))
}

/// A measured server and its port; killed when dropped, whatever went wrong.
pub(super) struct Server(std::process::Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process's resident memory, in MB.
pub(super) fn resident_mb(pid: u32) -> Result<f64, Failure> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| fail(format!("no VmRSS in /proc/{pid}/status")))
}

/// Scenario 6, bundle: the release WASM and JS, raw, gzip and brotli. With the bundle
/// split (`cargo leptos build --split`), the WASM every page loads first, then what a
/// browser opening a lazily loaded page directly loads in all, then every file.
pub(super) fn bundle_sizes(bundle: &std::path::Path) -> Result<Vec<Figure>, Failure> {
    let mut figures = Vec::new();
    let mut entry_brotli = None;
    for (kind, file, target) in [
        ("WASM", "junction.wasm", Some("≤ 250 KB")),
        ("JS", "junction.js", None),
    ] {
        let Ok(bytes) = std::fs::read(bundle.join(file)) else {
            println!(
                "(no {file} in {}: build the release bundle first, e.g. with .ci/serve)",
                bundle.display()
            );
            continue;
        };
        let (gzip, brotli) = (gzip_size(&bytes)?, brotli_size(&bytes)?);
        if kind == "WASM" {
            entry_brotli = Some(brotli);
        }
        figures.push(figure(
            "footprint",
            format!("{kind} raw"),
            kib(bytes.len()),
            "KB",
            None,
        ));
        figures.push(figure(
            "footprint",
            format!("{kind} gzip"),
            kib(gzip),
            "KB",
            None,
        ));
        figures.push(figure(
            "footprint",
            format!("{kind} brotli"),
            kib(brotli),
            "KB",
            target,
        ));
    }
    // The split-off parts: per lazily loaded page, the files it needs.
    let (Some(entry_brotli), Ok(manifest)) = (
        entry_brotli,
        std::fs::read(bundle.join("__wasm_split_manifest.json")),
    ) else {
        return Ok(figures);
    };
    let manifest: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&manifest)
            .map_err(|err| fail(format!("__wasm_split_manifest.json: {err}")))?;
    let mut brotli_of = std::collections::BTreeMap::new();
    for chunk in manifest.values().flatten() {
        if !brotli_of.contains_key(chunk) {
            let bytes = std::fs::read(bundle.join(format!("{chunk}.wasm")))?;
            brotli_of.insert(chunk.clone(), brotli_size(&bytes)?);
        }
    }
    for (split_point, chunks) in &manifest {
        // `__edit_route_view_<hash>`: the page's route, `edit_route`.
        let page = split_point
            .trim_start_matches('_')
            .rsplit_once("_view_")
            .map_or(split_point.as_str(), |(page, _)| page);
        let total = entry_brotli + chunks.iter().map(|chunk| brotli_of[chunk]).sum::<usize>();
        figures.push(figure(
            "footprint",
            format!("WASM brotli, opening {page} first"),
            kib(total),
            "KB",
            None,
        ));
    }
    figures.push(figure(
        "footprint",
        "WASM brotli, every file",
        kib(entry_brotli + brotli_of.values().sum::<usize>()),
        "KB",
        None,
    ));
    Ok(figures)
}

pub(super) fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Compressed sizes as a server would precompress: gzip at its best, brotli at
/// quality 11.
pub(super) fn gzip_size(bytes: &[u8]) -> Result<usize, Failure> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

pub(super) fn brotli_size(bytes: &[u8]) -> Result<usize, Failure> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out.len())
}
