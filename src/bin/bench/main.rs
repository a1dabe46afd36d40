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

mod actions;
mod amqp;
mod auth;
mod footprint;
mod live;
mod render;
mod runaway;
mod runtime;
mod sql;
mod storm;
mod support;
mod transfer;

use actions::*;
use amqp::*;
use auth::*;
use footprint::*;
use live::*;
use render::*;
use runaway::*;
use runtime::*;
use sql::*;
use storm::*;
use support::*;
use transfer::*;

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
    /// The PostgreSQL server the sql scenario writes to (a database of its own is
    /// created there and dropped afterwards), and, on an SQLite run, where the storm
    /// compares one server with two.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    sql_target: String,
    /// The RabbitMQ server (guest/guest) the amqp scenario uses.
    #[arg(long, env = "TEST_AMQP_ADDRESS", default_value = "127.0.0.1:5672")]
    amqp_address: String,
    /// The in-process server's reconciler tick, in ms: the server's own default
    /// unless told otherwise (a shorter tick runs the full pass, which checks every
    /// running integration, more often).
    #[arg(long, default_value_t = 1000)]
    reconcile_tick_ms: u64,
    /// Run only these scenarios (comma-separated: live, actions, auth, storm,
    /// render, runtime, runaway, sql, amqp, transfer, footprint). Render and footprint need the storm's integrations, so
    /// they bring the storm with them.
    #[arg(long, value_delimiter = ',', value_parser = SCENARIOS)]
    only: Vec<String>,
}

const SCENARIOS: [&str; 11] = [
    "live",
    "actions",
    "auth",
    "storm",
    "render",
    "runtime",
    "runaway",
    "sql",
    "amqp",
    "transfer",
    "footprint",
];

/// The administrator the benchmark signs in as: every API call carries a token of
/// theirs, as a real script's would.
const ADMIN: (&str, &str) = ("bench", "the benchmark's password");

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
    config.reconcile_tick_ms = args.reconcile_tick_ms;
    config.admin_user = Some(ADMIN.0.into());
    config.admin_password = Some(ADMIN.1.into());
    // The key connection secrets are sealed under: generated into the data directory.
    config.secret_key = None;
    let app = Application::build(&config).await?;
    let token = bench_token(app.service()).await?;
    let base = format!("http://{}", app.addr());
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .default_headers(headers)
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
    if args.runs("auth") {
        figures.extend(authentication(&client, &base, args.seconds, ADMIN).await?);
        figures.extend(authentication_share(&figures));
    }
    if args.runs("storm") {
        let lease = Duration::from_secs(config.lease_seconds);
        figures.extend(storm(&client, &base, &store, args.integrations, lease).await?);
        // Servers share the work on PostgreSQL: one, then two, bring a storm up. On
        // an SQLite run, on the PostgreSQL server the sql scenario uses.
        let (admin, name) = match &cleanup {
            Some((admin, name)) => (admin.clone(), name.clone()),
            None => (
                args.sql_target.clone(),
                format!("junction_bench_{}", uuid::Uuid::new_v4().simple()),
            ),
        };
        let n = args.integrations;
        figures.extend(storm_scaling(&admin, &name, data_dir.path(), n).await?);
    }
    if args.runs("render") {
        figures.extend(render(&client, &base, &store, args.versions).await?);
    }
    if args.runs("runtime") {
        figures.extend(runtime(&client, &base, args.seconds).await?);
    }
    if args.runs("runaway") {
        figures.extend(runaway(&client, &base, args.seconds).await?);
    }
    if args.runs("sql") {
        figures.extend(sql(&client, &base, &args.sql_target, args.seconds).await?);
    }
    if args.runs("amqp") {
        figures.extend(amqp(&client, &base, &args.amqp_address).await?);
    }
    if args.runs("transfer") {
        figures.extend(transfer(&client, &base, &store).await?);
    }
    // The in-process server stops (handing back its leases) so that a server of its
    // own can take every integration over and be measured.
    let _ = stop.send(());
    server.await??;
    if args.runs("footprint") {
        // The memory baseline: a server on a database of the same kind with nothing in it.
        let empty = match &cleanup {
            None => format!("sqlite://{}", data_dir.path().join("empty.db").display()),
            Some((admin, name)) => {
                execute_admin(admin, &format!("CREATE DATABASE {name}_empty")).await?;
                with_database(admin, &format!("{name}_empty"))
            }
        };
        figures.extend(
            server_memory(
                &config.database_url(),
                &empty,
                data_dir.path(),
                args.integrations,
            )
            .await?,
        );
        figures.extend(bundle_sizes(&args.bundle)?);
    }

    print_table(&figures);
    write_json(&args.out, database, cores, &figures)?;
    println!("\nFigures written to {}", args.out.display());
    if let Some((admin, name)) = cleanup {
        for database in [name.clone(), format!("{name}_empty")] {
            execute_admin(
                &admin,
                &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
            )
            .await?;
        }
    }
    Ok(())
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

/// A token of the benchmark's administrator.
async fn bench_token(service: &junction::service::Service) -> Result<String, Failure> {
    use junction::domain::access::Role;
    let admin = junction::service::Principal::new(ADMIN.0, Role::Admin);
    let made = service
        .create_token(&admin, "bench", None)
        .await
        .map_err(|err| fail(format!("cannot make the benchmark's token: {err}")))?;
    Ok(made.token)
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
