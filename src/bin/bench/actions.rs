//! Scenario 2, actions through the JSON API, against a bare write handler.

use super::*;

/// Scenario 2: 64 clients stopping and starting 64 integrations through the JSON API,
/// against a bare handler doing one UPDATE and one INSERT in a transaction.
pub(super) async fn actions(
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
            Some("≥ 5,000/s"),
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
            Some("≥ 0.9"),
        ),
    ])
}

/// The baseline for actions: a bare axum handler doing one single-row UPDATE and one
/// INSERT in a transaction, on a pool like Junction's (an SQLite file in WAL mode).
pub(super) async fn baseline_writes(seconds: u64) -> Result<f64, Failure> {
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
