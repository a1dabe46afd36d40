//! Scenario: export and import of a long history, against writing and reading the
//! same rows bare.

use super::*;

/// How many published versions the history has.
const VERSIONS: usize = 200;
/// How many exports and imports are timed.
const ROUNDS: usize = 10;

/// Exports an integration with [`VERSIONS`] published versions and imports it as a
/// new integration, [`ROUNDS`] times each, through the JSON API; the baselines read
/// the same rows and serialize them, and insert the same rows in one transaction.
pub(super) async fn transfer(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
) -> Result<Vec<Figure>, Failure> {
    let created = create(client, base, "bench transfer", flow("bench-transfer", 0)).await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| fail("no id"))?
        .to_owned();
    let mut revision = created["revision"].as_i64().unwrap_or(1);
    for n in 0..VERSIONS {
        if n > 0 {
            let saved = client
                .put(format!("{base}/api/v1/integrations/{id}/draft"))
                .header("if-match", format!("\"{revision}\""))
                .json(&json!({ "definition": flow("bench-transfer", n) }))
                .send()
                .await?;
            if saved.status() != 200 {
                return Err(fail(format!("saving a draft answered {}", saved.status())));
            }
        }
        let published = client
            .post(format!("{base}/api/v1/integrations/{id}/publish"))
            .json(&json!({ "note": format!("version {n}") }))
            .send()
            .await?;
        if published.status() != 202 {
            return Err(fail(format!("publishing answered {}", published.status())));
        }
        let now: Value = published.json().await?;
        revision = now["revision"].as_i64().unwrap_or(revision);
    }

    let mut export_times = Vec::new();
    let mut document = Value::Null;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let text = client
            .get(format!("{base}/api/v1/integrations/{id}/export"))
            .send()
            .await?
            .bytes()
            .await?;
        export_times.push(started.elapsed());
        bytes = text.len();
        document = serde_json::from_slice(&text)?;
    }
    let exported = document["integrations"][0]["versions"]
        .as_array()
        .map_or(0, Vec::len);
    if exported != VERSIONS {
        return Err(fail(format!(
            "the export holds {exported} versions, not {VERSIONS}"
        )));
    }

    let mut import_times = Vec::new();
    for round in 0..ROUNDS {
        let mut copy = document.clone();
        copy["integrations"][0]["id"] = json!(uuid::Uuid::new_v4().to_string());
        copy["integrations"][0]["name"] = json!(format!("bench transfer copy {round}"));
        let started = Instant::now();
        let answer = client
            .post(format!("{base}/api/v1/import"))
            .json(&json!({ "document": copy }))
            .send()
            .await?;
        import_times.push(started.elapsed());
        let status = answer.status();
        let answer: Value = answer.json().await?;
        let added = answer["integrations"][0]["added"]
            .as_array()
            .map_or(0, Vec::len);
        if status != 201 || added != VERSIONS {
            return Err(fail(format!(
                "an import answered {status} and added {added}: {answer}"
            )));
        }
    }

    let (read_times, write_times) = baselines(store, &id).await?;
    let median = |times: &mut Vec<Duration>| percentiles(times).0;
    let (export, import) = (median(&mut export_times), median(&mut import_times));
    let (read, write) = (
        median(&mut read_times.clone()),
        median(&mut write_times.clone()),
    );
    let scenario = "export and import (200 versions)";
    Ok(vec![
        figure(scenario, "export p50", ms(export), "ms", None),
        figure(scenario, "export size", bytes as f64 / 1024.0, "KiB", None),
        figure(
            scenario,
            "baseline: read and serialize the rows, p50",
            ms(read),
            "ms",
            None,
        ),
        figure(
            scenario,
            "export ratio to baseline",
            ms(export) / ms(read).max(0.001),
            "×",
            None,
        ),
        figure(scenario, "import p50", ms(import), "ms", None),
        figure(
            scenario,
            "versions imported/s",
            VERSIONS as f64 / import.as_secs_f64().max(0.000_001),
            "/s",
            None,
        ),
        figure(
            scenario,
            "baseline: insert the rows in one transaction, p50",
            ms(write),
            "ms",
            None,
        ),
        figure(
            scenario,
            "import ratio to baseline",
            ms(import) / ms(write).max(0.001),
            "×",
            None,
        ),
    ])
}

/// The least an export and an import could cost: reading the version rows and
/// serializing them as JSON; inserting as many rows in one transaction.
async fn baselines(store: &Store, id: &str) -> Result<(Vec<Duration>, Vec<Duration>), Failure> {
    sqlx::query(
        "CREATE TABLE bench_transfer_copy (integration_id TEXT NOT NULL, number BIGINT NOT NULL,
            definition TEXT NOT NULL, published_at BIGINT, published_by TEXT, note TEXT,
            content_hash TEXT, PRIMARY KEY (integration_id, number))",
    )
    .execute(store.pool())
    .await?;
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let rows = sqlx::query(
            "SELECT number, definition, published_at, published_by, note, content_hash
             FROM versions WHERE integration_id = $1 ORDER BY number",
        )
        .bind(id)
        .fetch_all(store.pool())
        .await?;
        let mut read = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row;
            let definition: String = row.try_get("definition")?;
            read.push(json!({
                "number": row.try_get::<i64, _>("number")?,
                "definition": serde_json::from_str::<Value>(&definition)?,
                "published_at": row.try_get::<Option<i64>, _>("published_at")?,
                "published_by": row.try_get::<Option<String>, _>("published_by")?,
                "note": row.try_get::<Option<String>, _>("note")?,
                "content_hash": row.try_get::<Option<String>, _>("content_hash")?,
            }));
        }
        let text = serde_json::to_vec(&read)?;
        reads.push(started.elapsed());
        if read.len() != VERSIONS || text.is_empty() {
            return Err(fail("the baseline read the wrong rows"));
        }

        let copy = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let mut tx = store.begin_write().await?;
        for version in &read {
            sqlx::query(
                "INSERT INTO bench_transfer_copy
                    (integration_id, number, definition, published_at, published_by, note, content_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&copy)
            .bind(version["number"].as_i64())
            .bind(version["definition"].to_string())
            .bind(version["published_at"].as_i64())
            .bind(version["published_by"].as_str())
            .bind(version["note"].as_str())
            .bind(version["content_hash"].as_str())
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        writes.push(started.elapsed());
    }
    Ok((reads, writes))
}
