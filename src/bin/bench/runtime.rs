//! Scenario 5, runtime: a webhook flow under load, against a bare handler.

use super::*;

/// Scenario 5: a webhook flow (filter, transform, log) under 64 clients, against a
/// bare handler that parses and returns the same JSON.
pub(super) async fn runtime(
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
            Some("≥ 0.8"),
        ),
    ])
}
