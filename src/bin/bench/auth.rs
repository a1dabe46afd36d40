//! Scenario: what authentication costs per API action. The same cheap request (who am
//! I) is timed with a bearer token, with a browser session cookie, and with nothing
//! (answered 401 once the caller is known to be nobody): the differences are what
//! finding the caller costs.

use super::*;

/// The figure the share of an action spent on its token is derived from.
pub(super) const MACHINE_COST: &str = "a bearer token's machine time, per request";

/// 16 clients asking `GET /api/v1/me` for `seconds` each way.
pub(super) async fn authentication(
    client: &reqwest::Client,
    base: &str,
    seconds: u64,
    admin: (&str, &str),
) -> Result<Vec<Figure>, Failure> {
    const CLIENTS: usize = 16;
    let bare = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let cookie = session_cookie(&bare, base, admin).await?;
    let me = format!("{base}/api/v1/me");

    let timed = |client: reqwest::Client, cookie: Option<String>, expected: u16| {
        let me = me.clone();
        load(seconds, CLIENTS, move |_, _| {
            let mut request = client.get(&me);
            if let Some(cookie) = &cookie {
                request = request.header(reqwest::header::COOKIE, cookie);
            }
            async move {
                let status = request.send().await?.status().as_u16();
                if status != expected {
                    return Err(fail(format!(
                        "GET /api/v1/me answered {status}, not {expected}"
                    )));
                }
                Ok(())
            }
        })
    };
    let (token_count, token_p99) = timed(client.clone(), None, 200).await?;
    let (session_count, session_p99) = timed(bare.clone(), Some(cookie), 200).await?;
    let (nobody_count, _) = timed(bare, None, 401).await?;

    let rate = |count: u64| count as f64 / seconds as f64;
    // With CLIENTS requests always in flight, each takes CLIENTS / rate on average.
    let mean_us = |count: u64| CLIENTS as f64 / rate(count) * 1e6;
    let nobody = mean_us(nobody_count);
    Ok(vec![
        figure(
            "authentication (16 clients)",
            "bearer token requests/s",
            rate(token_count),
            "/s",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "session cookie requests/s",
            rate(session_count),
            "/s",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "baseline: no credentials (401) requests/s",
            rate(nobody_count),
            "/s",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "a bearer token adds, per request",
            (mean_us(token_count) - nobody).max(0.0),
            "µs",
            None,
        ),
        figure(
            "authentication (16 clients)",
            MACHINE_COST,
            // Machine time per request (the inverse of throughput), not latency: what
            // an action pays for its token whatever the number of clients.
            (1e6 / rate(token_count) - 1e6 / rate(nobody_count)).max(0.0),
            "µs",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "a session cookie adds, per request",
            (mean_us(session_count) - nobody).max(0.0),
            "µs",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "p99, bearer token",
            token_p99.as_secs_f64() * 1e3,
            "ms",
            None,
        ),
        figure(
            "authentication (16 clients)",
            "p99, session cookie",
            session_p99.as_secs_f64() * 1e3,
            "ms",
            None,
        ),
    ])
}

/// Authentication's share of an action's cost, when both scenarios ran: the token's
/// machine time over an action's (the inverse of the actions' throughput).
pub(super) fn authentication_share(figures: &[Figure]) -> Option<Figure> {
    let find = |scenario: &str, name: &str| {
        figures
            .iter()
            .find(|f| f.scenario == scenario && f.name == name)
            .map(|f| f.value)
    };
    let token_us = find("authentication (16 clients)", MACHINE_COST)?;
    let actions = find("actions (64 clients)", "actions/s")?;
    Some(figure(
        "authentication (16 clients)",
        "share of an action's machine time",
        100.0 * token_us / (1e6 / actions),
        "%",
        Some("≤ 5 %"),
    ))
}

/// Signs in as a browser does and answers the session cookie (`name=value`).
async fn session_cookie(
    client: &reqwest::Client,
    base: &str,
    (name, password): (&str, &str),
) -> Result<String, Failure> {
    let response = client
        .post(format!("{base}/api/sign_in"))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[("name", name), ("password", password)])
        .send()
        .await?;
    if response.status() != 200 {
        return Err(fail(format!("signing in answered {}", response.status())));
    }
    response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookie| cookie.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| fail("signing in set no cookie"))
}
