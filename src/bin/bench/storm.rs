//! Scenario 3, a reconcile storm: many integrations published at once.

use super::*;

/// Scenario 3: many integrations published at once; time until all are Active.
pub(super) async fn storm(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    n: usize,
    lease: Duration,
) -> Result<Vec<Figure>, Failure> {
    let (published, took) = publish_storm(store, "storm", n).await?;
    // And really running: every webhook answers with its own flow's output.
    call_stormed(client, base, n).await?;
    let renewal = renewal(store, lease).await?;
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
            Some("≤ 3 s"),
        ),
        figure(
            "reconcile storm",
            "reconciles/s",
            n as f64 / took.as_secs_f64(),
            "/s",
            None,
        ),
        figure(
            "reconcile storm",
            format!("renewing the server's leases on all {n}, median of 5"),
            ms(renewal),
            "ms",
            None,
        ),
    ])
}

/// How long the in-process server's lease renewal takes now that it holds the storm
/// (the reconciler renews every third of a lease, each time a write of every held
/// row): the median of five, renewed for `lease` as the server would.
async fn renewal(store: &Store, lease: Duration) -> Result<Duration, Failure> {
    let owner: String = sqlx::query_scalar(
        "SELECT lease_owner FROM integrations WHERE lease_owner IS NOT NULL LIMIT 1",
    )
    .fetch_one(store.pool())
    .await?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        store.renew_leases(&owner, lease).await?;
        times.push(started.elapsed());
    }
    let (median, _, _) = percentiles(&mut times);
    Ok(median)
}

/// Scenario 3 on PostgreSQL: do two servers bring a storm up sooner than one? The
/// reconcilers alone are timed: `n` integrations are published into a database no
/// server runs on, then one server (and, on a second database, two) starts on it, and
/// the clock runs from their start until all are Active. (Timing publish and reconcile
/// together, as the storm above does, measures the publishing, which one server or
/// two do not change.) `admin` is the PostgreSQL server's URL, `name` the prefix of the
/// databases made here, each dropped once measured.
pub(super) async fn storm_scaling(
    admin: &str,
    name: &str,
    data_dir: &std::path::Path,
    n: usize,
) -> Result<Vec<Figure>, Failure> {
    let mut took = Vec::new();
    for servers in [1, 2] {
        let database = format!("{name}_scale{servers}");
        execute_admin(admin, &format!("CREATE DATABASE {database}")).await?;
        let url = with_database(admin, &database);
        let store = Store::connect(&url).await?;
        let ids = create_stormed(&store, "scale", n).await?;
        publish_all(&store, &ids).await?;
        let started = Instant::now();
        let running = (0..servers)
            .map(|i| {
                let server = format!("scale{servers}-{i}");
                spawn_server(&url, data_dir, &server, &format!("bench-{server}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        all_active(&store, "scale", n).await?;
        took.push(started.elapsed());
        drop(running);
        store.pool().close().await;
        execute_admin(admin, &format!("DROP DATABASE {database} WITH (FORCE)")).await?;
    }
    let [one, two] = [took[0], took[1]];
    Ok(vec![
        figure(
            "reconcile storm",
            format!("PostgreSQL, {n} already published: one server, all Active after"),
            one.as_secs_f64(),
            "s",
            None,
        ),
        figure(
            "reconcile storm",
            "PostgreSQL, two servers: all Active after",
            two.as_secs_f64(),
            "s",
            None,
        ),
        figure(
            "reconcile storm",
            "one server's time over two servers'",
            one.as_secs_f64() / two.as_secs_f64(),
            "×",
            Some("> 1"),
        ),
    ])
}

/// Creates `n` integrations named `{prefix} {i}` (webhooks `{prefix}-{i}`), publishes
/// them all one after another as fast as the store takes them, and waits until every
/// one is Active: how long publishing took, and how long until all were Active.
async fn publish_storm(
    store: &Store,
    prefix: &str,
    n: usize,
) -> Result<(Duration, Duration), Failure> {
    let ids = create_stormed(store, prefix, n).await?;
    let started = Instant::now();
    publish_all(store, &ids).await?;
    let published = started.elapsed();
    all_active(store, prefix, n).await?;
    Ok((published, started.elapsed()))
}

/// Creates `n` integrations named `{prefix} {i}` (webhooks `{prefix}-{i}`), drafts.
async fn create_stormed(
    store: &Store,
    prefix: &str,
    n: usize,
) -> Result<Vec<IntegrationId>, Failure> {
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
    Ok(ids)
}

/// Publishes `ids` one after another, as fast as the store takes them.
async fn publish_all(store: &Store, ids: &[IntegrationId]) -> Result<(), Failure> {
    let actor = Actor::user("bench");
    for id in ids {
        let publish = Action::Publish {
            note: Default::default(),
        };
        store.perform(*id, &publish, &actor).await?;
    }
    Ok(())
}

/// Waits until the `n` integrations named `{prefix} ...` are all Active at the version
/// they should run.
async fn all_active(store: &Store, prefix: &str, n: usize) -> Result<(), Failure> {
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
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(fail(format!(
                "only {active} of {n} integrations named {prefix} ... became Active"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
