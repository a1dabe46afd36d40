//! Scenario 3, a reconcile storm: many integrations published at once.

use super::*;

/// Scenario 3: many integrations published at once; time until all are Active.
pub(super) async fn storm(
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
