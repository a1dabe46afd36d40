//! Shared by the scenarios: the flows and integrations they create, load loops, percentiles.

use super::*;

pub(super) fn flow(path: &str, n: usize) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "transform", "template": { "n": n, "id": "{{ body.id }}" } }]
    })
}

pub(super) async fn create(
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

/// Makes a connection through the API (as its JSON form).
pub(super) async fn make_connection(
    client: &reqwest::Client,
    base: &str,
    connection: &Value,
) -> Result<(), Failure> {
    let made = client
        .post(format!("{base}/api/v1/connections"))
        .json(connection)
        .send()
        .await?;
    if made.status() != 201 {
        return Err(fail(format!(
            "cannot make the connection: {}",
            made.text().await?
        )));
    }
    Ok(())
}

/// Creates an integration through the API and publishes it; answers its id.
pub(super) async fn create_published(
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

/// Runs `call(client, iteration)` in `clients` loops for `seconds`: how many calls
/// completed, and their p99 latency.
pub(super) async fn load<F, Fut>(
    seconds: u64,
    clients: usize,
    call: F,
) -> Result<(u64, Duration), Failure>
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
pub(super) async fn load_in_turns<F, Fut, G, Gut>(
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
pub(super) async fn load_for<F, Fut>(
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

pub(super) async fn wait_until(
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

pub(super) fn percentiles(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    if times.is_empty() {
        return Default::default();
    }
    times.sort();
    let last = times.len() - 1;
    let at = |q: f64| times[((last as f64) * q).round() as usize];
    (at(0.50), at(0.95), at(0.99))
}

pub(super) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
