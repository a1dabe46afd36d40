//! Scenario: the SQL connector. A webhook flow whose one step INSERTs the body into a
//! PostgreSQL table through a connection, against a bare axum handler doing the same
//! INSERT with sqlx on a pool of the same size, in the same run.

use super::*;

/// The clients sending at once: more than the pools' connections, as under load.
const CLIENTS: usize = 32;

pub(super) async fn sql(
    client: &reqwest::Client,
    base: &str,
    target_server: &str,
    seconds: u64,
) -> Result<Vec<Figure>, Failure> {
    let name = format!("junction_bench_sql_{}", uuid::Uuid::new_v4().simple());
    execute_admin(target_server, &format!("CREATE DATABASE {name}")).await?;
    let target = with_database(target_server, &name);
    let measured = measure(client, base, &target, seconds).await;
    execute_admin(
        target_server,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    measured
}

async fn measure(
    client: &reqwest::Client,
    base: &str,
    target: &str,
    seconds: u64,
) -> Result<Vec<Figure>, Failure> {
    execute_admin(
        target,
        "CREATE TABLE orders_flow (id BIGINT PRIMARY KEY, total NUMERIC(12, 2), note TEXT);
         CREATE TABLE orders_bare (id BIGINT PRIMARY KEY, total NUMERIC(12, 2), note TEXT)",
    )
    .await?;
    let url = reqwest::Url::parse(target)?;
    let connection = json!({
        "name": "bench-orders", "kind": "postgres",
        "settings": { "host": url.host_str().unwrap_or("127.0.0.1"), "port": url.port().unwrap_or(5432),
                      "database": url.path().trim_start_matches('/'), "user": url.username(), "tls": "disable" },
        "secrets": { "password": url.password().unwrap_or_default() },
        "allow_private": true,
    });
    make_connection(client, base, &connection).await?;
    let definition = json!({
        "trigger": { "kind": "webhook", "path": "bench-sql" },
        "steps": [{ "kind": "sql", "connection": "bench-orders",
                    "query": "INSERT INTO orders_flow (id, total, note) VALUES ($1, $2, $3) RETURNING id",
                    "params": ["{{ body.id }}", "{{ body.total }}", "{{ body.note }}"] }]
    });
    create_published(client, base, "bench sql", definition).await?;
    let hook = format!("{base}/hooks/bench-sql");
    let deadline = Instant::now() + Duration::from_secs(30);
    // A warm-up row (id 0) once the flow answers.
    while client
        .post(&hook)
        .json(&json!({ "id": 0, "total": 1, "note": "warm-up" }))
        .send()
        .await?
        .status()
        != 200
    {
        if Instant::now() > deadline {
            return Err(fail("the sql flow never went live"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The baseline: what a hand-written service would do, on a pool of the same size.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(target)
        .await?;
    let router = axum::Router::new()
        .route(
            "/orders",
            axum::routing::post(
                |axum::extract::State(pool): axum::extract::State<sqlx::PgPool>,
                 axum::Json(body): axum::Json<Value>| async move {
                    let total = rust_decimal_total(&body["total"]);
                    let id: Result<i64, _> = sqlx::query_scalar(
                        "INSERT INTO orders_bare (id, total, note) VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(body["id"].as_i64())
                    .bind(total)
                    .bind(body["note"].as_str())
                    .fetch_one(&pool)
                    .await;
                    match id {
                        Ok(id) => (axum::http::StatusCode::OK, axum::Json(json!({ "id": id }))),
                        Err(err) => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({ "error": err.to_string() })),
                        ),
                    }
                },
            ),
        )
        .with_state(pool.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });

    let flow_client = client.clone();
    let bare_client = client.clone();
    // Every order a new id: the load runs in turns, and each turn counts from 0 again.
    let next_id = Arc::new(AtomicU64::new(1));
    let order = move || {
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        json!({ "id": id, "total": 12.5, "note": "O'Brien; DROP TABLE x" })
    };
    let bare_order = order.clone();
    let [(count, p99), (baseline, baseline_p99)] = load_in_turns(
        seconds,
        CLIENTS,
        move |_, _| {
            let body = order();
            let request = flow_client.post(hook.clone()).json(&body);
            async move {
                let answer: Value = request.send().await?.json().await?;
                if answer["rows"][0]["id"] != body["id"] {
                    return Err(fail(format!("the flow answered {answer}")));
                }
                Ok(())
            }
        },
        move |_, _| {
            let body = bare_order();
            let request = bare_client
                .post(format!("http://{addr}/orders"))
                .json(&body);
            async move {
                let answer: Value = request.send().await?.json().await?;
                if answer["id"] != body["id"] {
                    return Err(fail(format!("the baseline answered {answer}")));
                }
                Ok(())
            }
        },
    )
    .await?;
    // Every answered INSERT is a row: nothing was answered without being stored.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM orders_flow WHERE id > 0")
        .fetch_one(&pool)
        .await?;
    if stored != count as i64 {
        return Err(fail(format!("{count} answers, {stored} rows")));
    }
    pool.close().await;
    let rate = count as f64 / seconds as f64;
    let baseline_rate = baseline as f64 / seconds as f64;
    let scenario = "sql insert (32 clients)";
    Ok(vec![
        figure(scenario, "requests/s", rate, "/s", None),
        figure(scenario, "p99", ms(p99), "ms", None),
        figure(scenario, "baseline requests/s", baseline_rate, "/s", None),
        figure(scenario, "baseline p99", ms(baseline_p99), "ms", None),
        figure(
            scenario,
            "ratio to baseline",
            rate / baseline_rate,
            "×",
            Some("≥ 0.7"),
        ),
    ])
}

/// The total as NUMERIC takes it.
fn rust_decimal_total(total: &Value) -> Option<rust_decimal::Decimal> {
    total
        .as_f64()
        .and_then(|total| rust_decimal::Decimal::try_from(total).ok())
}
