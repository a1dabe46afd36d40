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

    // The token and the baseline in one-second turns, so that both see the machine
    // at the same speed: the difference is a few microseconds of a request's tens,
    // well inside what the machine drifts from one ten-second run to the next.
    let [(token_count, token_p99), (nobody_count, _)] = load_in_turns(
        seconds,
        CLIENTS,
        asking(client.clone(), &me, None, 200),
        asking(bare.clone(), &me, None, 401),
    )
    .await?;
    let session = asking(bare, &me, Some(cookie), 200);
    let (session_count, session_p99) = load(seconds, CLIENTS, session).await?;

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
            mean_us(token_count) - nobody,
            "µs",
            None,
        ),
        figure(
            "authentication (16 clients)",
            MACHINE_COST,
            // Machine time per request (the inverse of throughput), not latency: what
            // an action pays for its token whatever the number of clients. Shown as
            // measured: below zero, the cost is smaller than the run's noise.
            1e6 / rate(token_count) - 1e6 / rate(nobody_count),
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
        // A cost below the noise (measured below zero) is no share.
        100.0 * token_us.max(0.0) / (1e6 / actions),
        "%",
        Some("≤ 5 %"),
    ))
}

/// One client's call of `GET url` (with `cookie`, if any), which must answer `expected`.
fn asking(
    client: reqwest::Client,
    url: &str,
    cookie: Option<String>,
    expected: u16,
) -> impl Fn(usize, usize) -> futures_util::future::BoxFuture<'static, Result<(), Failure>>
+ Clone
+ Send
+ 'static {
    let url = url.to_owned();
    move |_, _| {
        let mut request = client.get(&url);
        if let Some(cookie) = &cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        Box::pin(async move {
            let status = request.send().await?.status().as_u16();
            if status != expected {
                return Err(fail(format!(
                    "GET /api/v1/me answered {status}, not {expected}"
                )));
            }
            Ok(())
        })
    }
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
