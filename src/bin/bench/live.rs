//! Scenario 1, publish → live.

use super::*;

/// Scenario 1: edit the draft so the output changes, publish, and poll the webhook
/// until it answers with the new output.
pub(super) async fn publish_to_live(
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
    let mut answered = Vec::with_capacity(rounds);
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
        answered.push(started.elapsed());
        revision = published["revision"]
            .as_i64()
            .ok_or_else(|| fail(format!("publish answered {published}")))?;
        let expected = json!({ "n": n, "id": 1 });
        // Every 1 ms, not in a tight loop: every call is a message with its own
        // activity record, and a tight loop would measure that load instead. On a
        // 1 ms grid (an interval, skipping the ticks a slow answer missed): a 1 ms
        // sleep after each answer polled every 2 to 2.5 ms, as tokio's timer rounds
        // up to the next millisecond, and added its own delay to every figure.
        let mut every = tokio::time::interval(Duration::from_millis(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
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
        }
        times.push(started.elapsed());
    }
    let (p50, p95, p99) = percentiles(&mut times);
    let (publish_p50, _, publish_p99) = percentiles(&mut answered);
    Ok(vec![
        figure(
            "publish → live",
            "the publish answered, p50",
            ms(publish_p50),
            "ms",
            None,
        ),
        figure(
            "publish → live",
            "the publish answered, p99",
            ms(publish_p99),
            "ms",
            None,
        ),
        figure("publish → live", "p50", ms(p50), "ms", None),
        figure("publish → live", "p95", ms(p95), "ms", None),
        figure("publish → live", "p99", ms(p99), "ms", Some("≤ 5 ms")),
    ])
}
