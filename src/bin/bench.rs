//! The benchmark: starts Junction in this process on a fresh database, runs each
//! scenario, checks its results (a fast wrong run reports nothing), and prints a table
//! and a JSON file of the figures. Throughput is reported next to a baseline measured
//! in the same run, because these machines are shared and noisy.
//!
//! `cargo run --release --features bench --bin bench -- --help`

use clap::Parser;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use junction::config::Config;
use junction::domain::definition::Definition;
use junction::domain::lifecycle::Action;
use junction::domain::lifecycle::State;
use junction::domain::{Actor, IntegrationId, IntegrationSummary, NewIntegration};
use junction::startup::Application;
use junction::store::Store;

/// Measures how fast Junction deploys, acts, reconciles, renders and runs.
#[derive(Parser, Debug)]
struct Args {
    /// Run on this PostgreSQL server instead of a temporary SQLite file (a database
    /// named junction_bench_* is created there and dropped afterwards).
    #[arg(long)]
    postgres: Option<String>,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "bench-results/latest.json")]
    out: PathBuf,
    /// How many integrations the storm, render and footprint scenarios use.
    #[arg(long, default_value_t = 10_000)]
    integrations: usize,
    /// How many versions the history page scenario uses.
    #[arg(long, default_value_t = 10_000)]
    versions: usize,
    /// How long each load scenario runs, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// How many publish → live round trips to time.
    #[arg(long, default_value_t = 200)]
    publishes: usize,
    /// Where the release browser bundle is (for its sizes).
    #[arg(long, default_value = "target/site/pkg")]
    bundle: PathBuf,
    /// Run only these scenarios (comma-separated: live, actions, storm, render,
    /// runtime, footprint). Render and footprint need the storm's integrations, so
    /// they bring the storm with them.
    #[arg(long, value_delimiter = ',', value_parser = SCENARIOS)]
    only: Vec<String>,
}

const SCENARIOS: [&str; 6] = ["live", "actions", "storm", "render", "runtime", "footprint"];

impl Args {
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|only| only == scenario)
            || (scenario == "storm" && self.runs_any(&["render", "footprint"]))
    }

    fn runs_any(&self, scenarios: &[&str]) -> bool {
        self.only
            .iter()
            .any(|only| scenarios.contains(&only.as_str()))
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn fail(message: impl Into<String>) -> Failure {
    message.into().into()
}

#[tokio::main]
async fn main() -> ExitCode {
    // The footprint scenario measures a server in a process of its own: this binary,
    // started again as `bench serve ...`, runs exactly what `junction` runs.
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let config = Config::parse_from(std::env::args().skip(1));
        return junction::startup::serve(config).await;
    }
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// One figure of the report.
struct Figure {
    scenario: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    target: Option<&'static str>,
}

fn figure(
    scenario: &'static str,
    name: impl Into<String>,
    value: f64,
    unit: &'static str,
    target: Option<&'static str>,
) -> Figure {
    Figure {
        scenario,
        name: name.into(),
        value,
        unit,
        target,
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let data_dir = tempfile::tempdir()?;
    let (database_url, cleanup) = match &args.postgres {
        None => (
            format!("sqlite://{}", data_dir.path().join("bench.db").display()),
            None,
        ),
        Some(admin) => {
            let name = format!("junction_bench_{}", uuid::Uuid::new_v4().simple());
            execute_admin(admin, &format!("CREATE DATABASE {name}")).await?;
            (with_database(admin, &name), Some((admin.clone(), name)))
        }
    };
    let mut config = Config::for_database(database_url, data_dir.path().to_owned());
    config.log_filter = "warn".into();
    config.reconcile_tick_ms = 100;
    let app = Application::build(&config).await?;
    let base = format!("http://{}", app.addr());
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let database = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("Junction benchmark on {database}, {cores} cores\n");

    let mut figures = Vec::new();
    if args.runs("live") {
        figures.extend(publish_to_live(&client, &base, args.publishes).await?);
    }
    if args.runs("actions") {
        figures.extend(actions(&client, &base, &store, args.seconds).await?);
    }
    if args.runs("storm") {
        figures.extend(storm(&client, &base, &store, args.integrations).await?);
    }
    if args.runs("render") {
        figures.extend(render(&client, &base, &store, args.versions).await?);
    }
    if args.runs("runtime") {
        figures.extend(runtime(&client, &base, args.seconds).await?);
    }
    // The in-process server stops (handing back its leases) so that a server of its
    // own can take every integration over and be measured.
    let _ = stop.send(());
    server.await??;
    if args.runs("footprint") {
        figures.extend(
            server_memory(&config.database_url(), data_dir.path(), args.integrations).await?,
        );
        figures.extend(bundle_sizes(&args.bundle)?);
    }

    print_table(&figures);
    write_json(&args.out, database, cores, &figures)?;
    println!("\nFigures written to {}", args.out.display());
    if let Some((admin, name)) = cleanup {
        execute_admin(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await?;
    }
    Ok(())
}

fn flow(path: &str, n: usize) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "transform", "template": { "n": n, "id": "{{ body.id }}" } }]
    })
}

async fn create(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    definition: Value,
) -> Result<Value, Failure> {
    let response = client
        .post(format!("{base}/api/v1/integrations"))
        .json(&json!({ "name": name, "definition": definition }))
        .send()
        .await?;
    if response.status() != 201 {
        return Err(fail(format!(
            "creating {name} answered {}",
            response.status()
        )));
    }
    Ok(response.json().await?)
}

/// Creates an integration through the API and publishes it; answers its id.
async fn create_published(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    definition: Value,
) -> Result<String, Failure> {
    let created = create(client, base, name, definition).await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| fail("no id"))?
        .to_owned();
    client
        .post(format!("{base}/api/v1/integrations/{id}/publish"))
        .send()
        .await?;
    Ok(id)
}

/// Scenario 1: edit the draft so the output changes, publish, and poll the webhook
/// until it answers with the new output.
async fn publish_to_live(
    client: &reqwest::Client,
    base: &str,
    rounds: usize,
) -> Result<Vec<Figure>, Failure> {
    let created = create(client, base, "bench live", flow("bench-live", 0)).await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| fail("no id"))?
        .to_owned();
    let mut revision = created["revision"].as_i64().unwrap_or(1);
    let mut times = Vec::with_capacity(rounds);
    for n in 1..=rounds {
        let saved = client
            .put(format!("{base}/api/v1/integrations/{id}/draft"))
            .header("if-match", format!("\"{revision}\""))
            .json(&json!({ "definition": flow("bench-live", n) }))
            .send()
            .await?;
        if !saved.status().is_success() {
            return Err(fail(format!(
                "saving the draft answered {}",
                saved.status()
            )));
        }
        let started = Instant::now();
        let published: Value = client
            .post(format!("{base}/api/v1/integrations/{id}/publish"))
            .send()
            .await?
            .json()
            .await?;
        revision = published["revision"]
            .as_i64()
            .ok_or_else(|| fail(format!("publish answered {published}")))?;
        let expected = json!({ "n": n, "id": 1 });
        loop {
            let answer = client
                .post(format!("{base}/hooks/bench-live"))
                .json(&json!({ "id": 1 }))
                .send()
                .await?;
            if answer.status() == 200 && answer.json::<Value>().await? == expected {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(fail(format!("v{n} did not go live within 30 s")));
            }
            // Every call is a message with its own activity record: polling in a tight
            // loop would load the server with writes and measure that load instead.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed());
    }
    let (p50, p95, p99) = percentiles(&mut times);
    Ok(vec![
        figure("publish → live", "p50", ms(p50), "ms", None),
        figure("publish → live", "p95", ms(p95), "ms", None),
        figure("publish → live", "p99", ms(p99), "ms", Some("≤ 100 ms")),
    ])
}

/// Scenario 2: 64 clients stopping and starting 64 integrations through the JSON API,
/// against a bare handler doing one UPDATE and one INSERT in a transaction.
async fn actions(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    seconds: u64,
) -> Result<Vec<Figure>, Failure> {
    let mut ids = Vec::new();
    for n in 0..64 {
        ids.push(
            create_published(
                client,
                base,
                &format!("bench action {n}"),
                flow(&format!("bench-action-{n}"), n),
            )
            .await?,
        );
    }
    wait_until(store, "the 64 integrations are Active", 64, |s| {
        s.name.starts_with("bench action") && s.current_state == State::Active && !s.pending()
    })
    .await?;
    let refused = Arc::new(AtomicU64::new(0));
    let ids = Arc::new(ids);
    let (count, p99) = {
        let client = client.clone();
        let base = base.to_owned();
        let refused = refused.clone();
        load(seconds, 64, move |worker, i| {
            let verb = if i % 2 == 0 { "stop" } else { "start" };
            let request = client.post(format!("{base}/api/v1/integrations/{}/{verb}", ids[worker]));
            let refused = refused.clone();
            async move {
                match request.send().await?.status().as_u16() {
                    202 => {}
                    // Start before the reconciler has stopped it: refused, as it should be.
                    409 => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => return Err(fail(format!("an action answered {other}"))),
                }
                Ok(())
            }
        })
        .await?
    };
    let baseline = baseline_writes(seconds).await?;
    let rate = count as f64 / seconds as f64;
    Ok(vec![
        figure(
            "actions (64 clients)",
            "actions/s",
            rate,
            "/s",
            Some("≥ 3,000/s"),
        ),
        figure("actions (64 clients)", "p99", ms(p99), "ms", None),
        figure(
            "actions (64 clients)",
            "refused (409) share",
            100.0 * refused.load(Ordering::Relaxed) as f64 / count.max(1) as f64,
            "%",
            None,
        ),
        figure(
            "actions (64 clients)",
            "baseline writes/s",
            baseline,
            "/s",
            None,
        ),
        figure(
            "actions (64 clients)",
            "ratio to baseline",
            rate / baseline,
            "×",
            Some("≥ 0.5"),
        ),
    ])
}

/// The baseline for actions: a bare axum handler doing one single-row UPDATE and one
/// INSERT in a transaction, on a pool like Junction's (an SQLite file in WAL mode).
async fn baseline_writes(seconds: u64) -> Result<f64, Failure> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("baseline.db").display()
    ))
    .await?;
    sqlx::query("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .execute(store.pool())
        .await?;
    sqlx::query(
        "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, counter INTEGER, at INTEGER)",
    )
    .execute(store.pool())
    .await?;
    for id in 0..64_i64 {
        sqlx::query("INSERT INTO counter (id, n) VALUES ($1, 0)")
            .bind(id)
            .execute(store.pool())
            .await?;
    }
    let handler_store = store.clone();
    let router = axum::Router::new().route(
        "/write/{id}",
        axum::routing::post(move |axum::extract::Path(id): axum::extract::Path<i64>| {
            let store = handler_store.clone();
            async move {
                let result: Result<(), junction::store::StoreError> = async {
                    let mut tx = store.begin_write().await?;
                    sqlx::query("UPDATE counter SET n = n + 1 WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("INSERT INTO log (counter, at) VALUES ($1, 0)")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                if result.is_ok() {
                    axum::http::StatusCode::ACCEPTED
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let (count, _) = load(seconds, 64, move |worker, _| {
        let request = client.post(format!("http://{addr}/write/{worker}"));
        async move {
            let status = request.send().await?.status();
            if status != 202 {
                return Err(fail(format!("the baseline answered {status}")));
            }
            Ok(())
        }
    })
    .await?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log")
        .fetch_one(store.pool())
        .await?;
    if u64::try_from(rows).unwrap_or(0) != count {
        return Err(fail(format!(
            "the baseline wrote {rows} rows for {count} answers"
        )));
    }
    Ok(count as f64 / seconds as f64)
}

/// Scenario 3: many integrations published at once; time until all are Active.
async fn storm(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    n: usize,
) -> Result<Vec<Figure>, Failure> {
    let actor = Actor::user("bench");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let new = NewIntegration::parse(&format!("storm {i}"), "")?;
        let definition = Definition::parse(&flow(&format!("storm-{i}"), i))
            .map_err(|e| fail(format!("{e:?}")))?;
        ids.push(
            store
                .create_integration(&new, Some(&definition), &actor)
                .await?
                .id,
        );
    }
    let started = Instant::now();
    for id in &ids {
        store
            .perform(
                *id,
                &Action::Publish {
                    note: Default::default(),
                },
                &actor,
            )
            .await?;
    }
    let published = started.elapsed();
    // Counted in SQL: listing 10,000 integrations ten times a second would compete with
    // the reconciler it measures.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM integrations WHERE name LIKE 'storm %'
               AND current_state = 'active' AND target_state = 'active'
               AND current_version = target_version",
        )
        .fetch_one(store.pool())
        .await?;
        if usize::try_from(active).unwrap_or(0) >= n {
            break;
        }
        if Instant::now() > deadline {
            return Err(fail(format!(
                "only {active} of {n} stormed integrations became Active"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    // And really running: every webhook answers with its own flow's output.
    call_stormed(client, base, n).await?;
    Ok(vec![
        figure(
            "reconcile storm",
            format!("{n} published in"),
            published.as_secs_f64(),
            "s",
            None,
        ),
        figure(
            "reconcile storm",
            "all Active after",
            took.as_secs_f64(),
            "s",
            Some("≤ 10 s"),
        ),
        figure(
            "reconcile storm",
            "reconciles/s",
            n as f64 / took.as_secs_f64(),
            "/s",
            None,
        ),
    ])
}

/// Calls every stormed integration's webhook, 64 at a time: each must answer with its
/// own flow's output.
async fn call_stormed(client: &reqwest::Client, base: &str, n: usize) -> Result<(), Failure> {
    for start in (0..n).step_by(64) {
        let checks = (start..n.min(start + 64)).map(|i| {
            let request = client
                .post(format!("{base}/hooks/storm-{i}"))
                .json(&json!({ "id": i }));
            async move {
                let answer: Value = request.send().await?.json().await?;
                if answer != json!({ "n": i, "id": i }) {
                    return Err(fail(format!("storm-{i} answered {answer}")));
                }
                Ok::<_, Failure>(())
            }
        });
        for check in futures_util::future::join_all(checks).await {
            check?;
        }
    }
    Ok(())
}

/// Scenario 4: server time of the list page and of a long history's first page.
async fn render(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    versions: usize,
) -> Result<Vec<Figure>, Failure> {
    let list = time_page(client, &format!("{base}/"), "storm ").await?;
    let id = long_history(store, versions).await?;
    let history = time_page(
        client,
        &format!("{base}/integrations/{id}/history"),
        &format!("v{versions}"),
    )
    .await?;
    Ok(vec![
        figure("render /", "median", ms(list.0), "ms", Some("≤ 20 ms")),
        figure("render /", "p99", ms(list.1), "ms", None),
        figure(
            "render history (long)",
            "median",
            ms(history.0),
            "ms",
            Some("≤ 20 ms"),
        ),
        figure("render history (long)", "p99", ms(history.1), "ms", None),
    ])
}

async fn time_page(
    client: &reqwest::Client,
    url: &str,
    must_contain: &str,
) -> Result<(Duration, Duration), Failure> {
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        let response = client.get(url).send().await?;
        let status = response.status();
        let html = response.text().await?;
        times.push(started.elapsed());
        if status != 200 || !html.contains(must_contain) {
            return Err(fail(format!(
                "{url} answered {status} without {must_contain:?}"
            )));
        }
    }
    let (p50, _, p99) = percentiles(&mut times);
    Ok((p50, p99))
}

/// An integration with `n` published versions, written in one transaction (each
/// version inserted as a draft and then published, as the schema requires).
async fn long_history(store: &Store, n: usize) -> Result<IntegrationId, Failure> {
    let new = NewIntegration::parse("bench history", "")?;
    let definition =
        Definition::parse(&flow("bench-history", 1)).map_err(|e| fail(format!("{e:?}")))?;
    let id = store
        .create_integration(&new, Some(&definition), &Actor::user("bench"))
        .await?
        .id;
    let mut tx = store.begin_write().await?;
    for number in 1..=n {
        let text = Definition::parse(&flow("bench-history", number))
            .map_err(|e| fail(format!("{e:?}")))?
            .canonical_json();
        let number = i64::try_from(number)?;
        if number > 1 {
            sqlx::query("INSERT INTO versions (integration_id, number, definition, created_at, updated_at) VALUES ($1, $2, $3, 0, 0)")
                .bind(id.to_string()).bind(number).bind(&text).execute(&mut **tx).await?;
        }
        sqlx::query("UPDATE versions SET definition = $3, published_at = 1, published_by = 'bench', content_hash = $4 WHERE integration_id = $1 AND number = $2")
            .bind(id.to_string()).bind(number).bind(&text)
            .bind(junction::store::versions::content_hash(&text))
            .execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Scenario 5: a webhook flow (filter, transform, log) under 64 clients, against a
/// bare handler that parses and returns the same JSON.
async fn runtime(
    client: &reqwest::Client,
    base: &str,
    seconds: u64,
) -> Result<Vec<Figure>, Failure> {
    let definition = json!({
        "trigger": { "kind": "webhook", "path": "bench-runtime" },
        "steps": [
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "transform", "template": { "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}" } },
            { "kind": "log", "message": "order {{ body.id }} totals {{ body.total }}" }
        ]
    });
    create_published(client, base, "bench runtime", definition).await?;
    let url = format!("{base}/hooks/bench-runtime");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .post(&url)
        .json(&json!({ "id": 1, "qty": 1, "price": 1 }))
        .send()
        .await?
        .status()
        != 200
    {
        if Instant::now() > deadline {
            return Err(fail("the runtime flow never went live"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let router = axum::Router::new().route(
        "/echo",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move { axum::Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    let flow_client = client.clone();
    let echo_client = client.clone();
    let [(count, p99), (baseline, baseline_p99)] = load_in_turns(
        seconds,
        64,
        move |worker, i| {
            let id = worker * 1_000_000 + i;
            let request = flow_client
                .post(url.clone())
                .json(&json!({ "id": id, "qty": 2, "price": 3 }));
            async move {
                let answer: Value = request.send().await?.json().await?;
                if answer != json!({ "id": id, "total": 6 }) {
                    return Err(fail(format!("the flow answered {answer}")));
                }
                Ok(())
            }
        },
        move |worker, i| {
            let id = worker * 1_000_000 + i;
            let request = echo_client
                .post(format!("http://{addr}/echo"))
                .json(&json!({ "id": id, "total": 6 }));
            async move {
                let answer: Value = request.send().await?.json().await?;
                if answer["id"] != json!(id) {
                    return Err(fail("the baseline echoed something else"));
                }
                Ok(())
            }
        },
    )
    .await?;
    let rate = count as f64 / seconds as f64;
    let baseline_rate = baseline as f64 / seconds as f64;
    Ok(vec![
        figure("runtime (64 clients)", "requests/s", rate, "/s", None),
        figure("runtime (64 clients)", "p99", ms(p99), "ms", None),
        figure(
            "runtime (64 clients)",
            "baseline requests/s",
            baseline_rate,
            "/s",
            None,
        ),
        figure(
            "runtime (64 clients)",
            "baseline p99",
            ms(baseline_p99),
            "ms",
            None,
        ),
        figure(
            "runtime (64 clients)",
            "ratio to baseline",
            rate / baseline_rate,
            "×",
            Some("≥ 0.5"),
        ),
    ])
}

/// Scenario 6, memory: a server in a process of its own on the benchmark's database
/// takes over every active integration (all the storm's among them); its resident
/// memory is read once it has been idle for a while, then every stormed webhook is
/// called through it to check that it really runs them.
async fn server_memory(
    database_url: &str,
    data_dir: &std::path::Path,
    stormed: usize,
) -> Result<Vec<Figure>, Failure> {
    let store = Store::connect(database_url).await?;
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM integrations WHERE target_state = 'active'")
            .fetch_one(store.pool())
            .await?;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let replica = "bench-footprint";
    let child_dir = data_dir.join("footprint");
    let mut child = Server(
        std::process::Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&child_dir)
            .args(["--database-url", database_url])
            .args(["--replica-id", replica])
            .args(["--log", "warn"])
            .spawn()?,
    );
    let pid = child.0.id();
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
    Ok(vec![
        figure(
            "footprint",
            format!("server takes over {active} active integrations in"),
            took_over.as_secs_f64(),
            "s",
            None,
        ),
        figure("footprint", "server RSS, idle", idle, "MB", Some("≤ 64 MB")),
        figure(
            "footprint",
            format!("server RSS after {stormed} webhook calls"),
            after_calls,
            "MB",
            None,
        ),
    ])
}

/// The measured server; killed when dropped, whatever went wrong.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process's resident memory, in MB.
fn resident_mb(pid: u32) -> Result<f64, Failure> {
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
fn bundle_sizes(bundle: &std::path::Path) -> Result<Vec<Figure>, Failure> {
    let mut figures = Vec::new();
    let mut entry_brotli = None;
    for (kind, file, target) in [
        ("WASM", "junction.wasm", Some("≤ 300 KB")),
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

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Compressed sizes as a server would precompress: gzip at its best, brotli at
/// quality 11.
fn gzip_size(bytes: &[u8]) -> Result<usize, Failure> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

fn brotli_size(bytes: &[u8]) -> Result<usize, Failure> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out.len())
}

/// Runs `call(client, iteration)` in `clients` loops for `seconds`: how many calls
/// completed, and their p99 latency.
async fn load<F, Fut>(seconds: u64, clients: usize, call: F) -> Result<(u64, Duration), Failure>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Failure>> + Send,
{
    let mut times = load_for(Duration::from_secs(seconds), clients, call).await?;
    let (_, _, p99) = percentiles(&mut times);
    Ok((times.len() as u64, p99))
}

/// Loads `ours` and `baseline` in turns, a second each, `seconds` seconds in all for
/// each, so that the shared machine's speed, which drifts by a third from one minute
/// to the next, weighs on both alike: calls completed and p99 of each.
async fn load_in_turns<F, Fut, G, Gut>(
    seconds: u64,
    clients: usize,
    ours: F,
    baseline: G,
) -> Result<[(u64, Duration); 2], Failure>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Failure>> + Send,
    G: Fn(usize, usize) -> Gut + Clone + Send + 'static,
    Gut: std::future::Future<Output = Result<(), Failure>> + Send,
{
    let (mut our_times, mut baseline_times) = (Vec::new(), Vec::new());
    for _ in 0..seconds {
        our_times.extend(load_for(Duration::from_secs(1), clients, ours.clone()).await?);
        baseline_times.extend(load_for(Duration::from_secs(1), clients, baseline.clone()).await?);
    }
    Ok([our_times, baseline_times].map(|mut times| {
        let (_, _, p99) = percentiles(&mut times);
        (times.len() as u64, p99)
    }))
}

/// Runs `call(client, iteration)` in `clients` loops for `duration`: how long each
/// call that completed took.
async fn load_for<F, Fut>(
    duration: Duration,
    clients: usize,
    call: F,
) -> Result<Vec<Duration>, Failure>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Failure>> + Send,
{
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for worker in 0..clients {
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let started = Instant::now();
                call(worker, i).await?;
                times.push(started.elapsed());
                i += 1;
            }
            Ok::<_, Failure>(times)
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await??);
    }
    Ok(all)
}

async fn wait_until(
    store: &Store,
    what: &str,
    count: usize,
    done: impl Fn(&IntegrationSummary) -> bool,
) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let all = store.list_integrations().await?;
        if all.iter().filter(|s| done(s)).count() >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(fail(format!("timed out waiting until {what}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    if times.is_empty() {
        return Default::default();
    }
    times.sort();
    let last = times.len() - 1;
    let at = |q: f64| times[((last as f64) * q).round() as usize];
    (at(0.50), at(0.95), at(0.99))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print_table(figures: &[Figure]) {
    println!("| scenario | figure | value | target |");
    println!("|---|---|---:|---|");
    for f in figures {
        let value = if f.value >= 100.0 {
            format!("{:.0} {}", f.value, f.unit)
        } else {
            format!("{:.2} {}", f.value, f.unit)
        };
        println!(
            "| {} | {} | {} | {} |",
            f.scenario,
            f.name,
            value,
            f.target.unwrap_or("")
        );
    }
}

fn write_json(
    path: &std::path::Path,
    database: &str,
    cores: usize,
    figures: &[Figure],
) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let document = json!({
        "database": database,
        "cores": cores,
        "at": chrono::Utc::now().to_rfc3339(),
        "figures": figures.iter().map(|f| json!({
            "scenario": f.scenario, "name": f.name, "value": f.value, "unit": f.unit, "target": f.target,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(path, serde_json::to_string_pretty(&document)?)?;
    Ok(())
}

async fn execute_admin(url: &str, sql: &str) -> Result<(), Failure> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(url).await?;
    conn.execute(sql).await?;
    Ok(())
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = base[after_scheme..]
        .find('/')
        .map_or(base, |slash| &base[..after_scheme + slash]);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}
