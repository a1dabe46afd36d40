//! Scenario 3, a reconcile storm: many integrations published at once.

use super::*;

/// Scenario 3: many integrations published at once; time until all are Active. With
/// `pair` (PostgreSQL: the database's URL and the data directory), the same again with
/// a second server of its own beside the in-process one, to compare.
pub(super) async fn storm(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    n: usize,
    pair: Option<(&str, &std::path::Path)>,
) -> Result<Vec<Figure>, Failure> {
    let (published, took) = publish_storm(store, "storm", n).await?;
    // And really running: every webhook answers with its own flow's output.
    call_stormed(client, base, n).await?;
    let mut figures = vec![
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
            Some("≤ 3 s"),
        ),
        figure(
            "reconcile storm",
            "reconciles/s",
            n as f64 / took.as_secs_f64(),
            "/s",
            None,
        ),
    ];
    if let Some((database_url, data_dir)) = pair {
        let _second = spawn_ready(database_url, data_dir, "second", "bench-second").await?;
        let (_, two) = publish_storm(store, "pair", n).await?;
        figures.extend([
            figure(
                "reconcile storm",
                "two servers: all Active after",
                two.as_secs_f64(),
                "s",
                None,
            ),
            figure(
                "reconcile storm",
                "one server's time over two servers'",
                took.as_secs_f64() / two.as_secs_f64(),
                "×",
                Some("> 1"),
            ),
        ]);
    }
    Ok(figures)
}

/// Creates `n` integrations named `{prefix} {i}` (webhooks `{prefix}-{i}`), publishes
/// them all one after another as fast as the store takes them, and waits until every
/// one is Active: how long publishing took, and how long until all were Active.
async fn publish_storm(
    store: &Store,
    prefix: &str,
    n: usize,
) -> Result<(Duration, Duration), Failure> {
    let actor = Actor::user("bench");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let new = NewIntegration::parse(&format!("{prefix} {i}"), "")?;
        let definition = Definition::parse(&flow(&format!("{prefix}-{i}"), i))
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
            "SELECT count(*) FROM integrations WHERE name LIKE $1
               AND current_state = 'active' AND target_state = 'active'
               AND current_version = target_version",
        )
        .bind(format!("{prefix} %"))
        .fetch_one(store.pool())
        .await?;
        if usize::try_from(active).unwrap_or(0) >= n {
            break;
        }
        if Instant::now() > deadline {
            return Err(fail(format!(
                "only {active} of {n} integrations named {prefix} ... became Active"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((published, started.elapsed()))
}

/// Calls every stormed integration's webhook, 64 at a time: each must answer with its
/// own flow's output.
pub(super) async fn call_stormed(
    client: &reqwest::Client,
    base: &str,
    n: usize,
) -> Result<(), Failure> {
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
