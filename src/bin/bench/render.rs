//! Scenario 4, render: the list page and a long history's first page.

use super::*;

/// Scenario 4: server time of the list page and of a long history's first page.
pub(super) async fn render(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    versions: usize,
) -> Result<Vec<Figure>, Failure> {
    let list = time_page(client, &format!("{base}/"), "storm ").await?;
    let id = long_history(store, versions).await?;
    let history = time_page(
        client,
        &format!("{base}/integrations/{id}/history"),
        &format!("v{versions}"),
    )
    .await?;
    Ok(vec![
        figure("render /", "median", ms(list.0), "ms", Some("≤ 20 ms")),
        figure("render /", "p99", ms(list.1), "ms", None),
        figure(
            "render history (long)",
            "median",
            ms(history.0),
            "ms",
            Some("≤ 20 ms"),
        ),
        figure("render history (long)", "p99", ms(history.1), "ms", None),
    ])
}

pub(super) async fn time_page(
    client: &reqwest::Client,
    url: &str,
    must_contain: &str,
) -> Result<(Duration, Duration), Failure> {
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        let response = client.get(url).send().await?;
        let status = response.status();
        let html = response.text().await?;
        times.push(started.elapsed());
        if status != 200 || !html.contains(must_contain) {
            return Err(fail(format!(
                "{url} answered {status} without {must_contain:?}"
            )));
        }
    }
    let (p50, _, p99) = percentiles(&mut times);
    Ok((p50, p99))
}

/// An integration with `n` published versions, written in one transaction (each
/// version inserted as a draft and then published, as the schema requires).
pub(super) async fn long_history(store: &Store, n: usize) -> Result<IntegrationId, Failure> {
    let new = NewIntegration::parse("bench history", "")?;
    let definition =
        Definition::parse(&flow("bench-history", 1)).map_err(|e| fail(format!("{e:?}")))?;
    let id = store
        .create_integration(&new, Some(&definition), &Actor::user("bench"))
        .await?
        .id;
    let mut tx = store.begin_write().await?;
    for number in 1..=n {
        let text = Definition::parse(&flow("bench-history", number))
            .map_err(|e| fail(format!("{e:?}")))?
            .canonical_json();
        let number = i64::try_from(number)?;
        if number > 1 {
            sqlx::query("INSERT INTO versions (integration_id, number, definition, created_at, updated_at) VALUES ($1, $2, $3, 0, 0)")
                .bind(id.to_string()).bind(number).bind(&text).execute(&mut **tx).await?;
        }
        sqlx::query("UPDATE versions SET definition = $3, published_at = 1, published_by = 'bench', content_hash = $4 WHERE integration_id = $1 AND number = $2")
            .bind(id.to_string()).bind(number).bind(&text)
            // No secrets in these flows: the key is never used.
            .bind(junction::store::versions::content_hash(&[], &text))
            .execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(id)
}
