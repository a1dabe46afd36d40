//! Scenario 8, runaway: how a quick webhook answers while other clients keep calling
//! a flow whose template runs away (it would render 100 MB per message and is
//! stopped at the output cap), against the same webhook alone, in turns.

use super::*;

/// Scenario 8: 8 clients on a quick webhook, alone and with 8 more calling the
/// runaway one, a second of each in turn: the quick one's p50 and p99 in both.
pub(super) async fn runaway(
    client: &reqwest::Client,
    base: &str,
    seconds: u64,
) -> Result<Vec<Figure>, Failure> {
    create_published(
        client,
        base,
        "bench quick",
        json!({
            "trigger": { "kind": "webhook", "path": "bench-quick" },
            "steps": [{ "kind": "transform", "template": { "id": "{{ body.id }}" } }]
        }),
    )
    .await?;
    create_published(
        client,
        base,
        "bench runaway",
        json!({
            "trigger": { "kind": "webhook", "path": "bench-runaway" },
            "steps": [{ "kind": "log", "message": "{% for i in range(10000) %}{{ body.text }}{% endfor %}" }]
        }),
    )
    .await?;
    let quick_url = format!("{base}/hooks/bench-quick");
    let runaway_url = format!("{base}/hooks/bench-runaway");
    let text = "x".repeat(10_000);
    wait_for_hook(client, &quick_url, &json!({ "id": 0 }), 200).await?;
    wait_for_hook(client, &runaway_url, &json!({ "text": text }), 502).await?;
    let quick = {
        let client = client.clone();
        move |worker: usize, i: usize| {
            let request = client
                .post(quick_url.clone())
                .json(&json!({ "id": worker * 1_000_000 + i }));
            async move {
                let status = request.send().await?.status();
                if status != 200 {
                    return Err(fail(format!("the quick webhook answered {status}")));
                }
                Ok(())
            }
        }
    };
    let stopped = {
        let client = client.clone();
        move |_: usize, _: usize| {
            let request = client
                .post(runaway_url.clone())
                .json(&json!({ "text": text }));
            async move {
                let status = request.send().await?.status();
                if status != 502 {
                    return Err(fail(format!("the runaway webhook answered {status}")));
                }
                Ok(())
            }
        }
    };
    let (mut alone, mut beside) = (Vec::new(), Vec::new());
    let mut runaways = 0;
    for _ in 0..seconds {
        alone.extend(load_for(Duration::from_secs(1), 8, quick.clone()).await?);
        let running_away = tokio::spawn(load_for(Duration::from_secs(1), 8, stopped.clone()));
        beside.extend(load_for(Duration::from_secs(1), 8, quick.clone()).await?);
        runaways += running_away.await??.len();
    }
    let (alone_p50, _, alone_p99) = percentiles(&mut alone);
    let (beside_p50, _, beside_p99) = percentiles(&mut beside);
    let scenario = "runaway (8 + 8 clients)";
    Ok(vec![
        figure(
            scenario,
            "quick webhook p50, alone",
            ms(alone_p50),
            "ms",
            None,
        ),
        figure(
            scenario,
            "quick webhook p99, alone",
            ms(alone_p99),
            "ms",
            None,
        ),
        figure(
            scenario,
            "quick webhook p50, beside runaways",
            ms(beside_p50),
            "ms",
            None,
        ),
        figure(
            scenario,
            "quick webhook p99, beside runaways",
            ms(beside_p99),
            "ms",
            None,
        ),
        figure(
            scenario,
            "runaway messages stopped at the cap",
            runaways as f64 / seconds as f64,
            "/s",
            None,
        ),
    ])
}

/// Calls `url` with `body` until it answers `status` (the flow went live), for at
/// most 30 s.
async fn wait_for_hook(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    status: u16,
) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.post(url).json(body).send().await?.status() != status {
        if Instant::now() > deadline {
            return Err(fail(format!("{url} never answered {status}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
