//! Where flows may reach. By default an `http` step (and every later connector) may
//! not reach this server's own network: loopback, private, shared (CGNAT), link-local
//! (cloud metadata at 169.254.169.254 among them), unique-local, multicast, broadcast
//! and unspecified addresses. `--egress-allow` opens hosts or networks, `--egress-deny`
//! closes more; a deny wins over an allow.
//!
//! The check is made on the address actually connected to: names are resolved by
//! [`EgressResolver`], which hands the connector only addresses the policy allows, so
//! a name that resolves (or rebinds) to a refused address gets nowhere; literal
//! addresses, which skip resolution, are checked before each request and on every
//! redirect hop.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// One entry of `--egress-allow` or `--egress-deny`: a host name, an address or a
/// network in CIDR form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EgressRule {
    Host(String),
    Net(IpNet),
}

impl EgressRule {
    /// Reads `api.example.com`, `10.1.2.3` or `10.0.0.0/8`; anything else is refused
    /// by name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self::Net(net.trunc()));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        let host = !text.is_empty()
            && text.len() <= 253
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        match host {
            true => Ok(Self::Host(text)),
            false => Err(format!(
                "{text:?} is neither a host name, an address nor a network (like 10.0.0.0/8)"
            )),
        }
    }

    fn matches(&self, host: Option<&str>, ip: IpAddr) -> bool {
        match self {
            EgressRule::Host(name) => host.is_some_and(|host| host == name),
            EgressRule::Net(net) => net.contains(&ip),
        }
    }
}

impl std::fmt::Display for EgressRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EgressRule::Host(name) => f.write_str(name),
            EgressRule::Net(net) => write!(f, "{net}"),
        }
    }
}

/// The policy: what is opened, what is closed, and the default for the rest.
#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    allow: Vec<EgressRule>,
    deny: Vec<EgressRule>,
    /// Connections refused (for /metrics).
    refusals: prometheus_client::metrics::counter::Counter,
}

impl EgressPolicy {
    /// From the two lists as configured; the first entry that does not read is named.
    pub fn from_lists(allow: &[String], deny: &[String]) -> Result<Self, String> {
        let read = |flag: &str, entries: &[String]| {
            entries
                .iter()
                .filter(|entry| !entry.trim().is_empty())
                .map(|entry| EgressRule::parse(entry).map_err(|err| format!("{flag}: {err}")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: read("--egress-allow", allow)?,
            deny: read("--egress-deny", deny)?,
            refusals: Default::default(),
        })
    }

    /// The same policy, counting each connection it refuses on `refusals`.
    pub fn counting_refusals(
        mut self,
        refusals: prometheus_client::metrics::counter::Counter,
    ) -> Self {
        self.refusals = refusals;
        self
    }

    /// A refusal, counted.
    fn refused(&self, why: String) -> String {
        self.refusals.inc();
        why
    }

    /// Whether a flow may connect to `ip` (reached under the name `host`, if any);
    /// a refusal names the rule.
    pub fn check(&self, host: Option<&str>, ip: IpAddr) -> Result<(), String> {
        let host = host.map(|host| host.trim_end_matches('.').to_ascii_lowercase());
        let host = host.as_deref();
        let ip = canonical(ip);
        if let Some(rule) = self.deny.iter().find(|rule| rule.matches(host, ip)) {
            return Err(format!(
                "the egress policy refuses {ip}: --egress-deny {rule}"
            ));
        }
        if self.allow.iter().any(|rule| rule.matches(host, ip)) {
            return Ok(());
        }
        match special(ip) {
            Some(kind) => Err(format!(
                "the egress policy refuses {ip}: a {kind} address, which flows may not reach \
                 unless --egress-allow opens it"
            )),
            None => Ok(()),
        }
    }

    /// Whether a connection may reach `ip`: as [`EgressPolicy::check`], except that one
    /// an administrator allowed private addresses reaches any address no
    /// `--egress-deny` names. A refusal is counted.
    pub fn check_connection(
        &self,
        host: Option<&str>,
        ip: IpAddr,
        allow_private: bool,
    ) -> Result<(), String> {
        self.check_reaching(host, ip, allow_private)
            .map_err(|why| self.refused(why))
    }

    /// [`EgressPolicy::check`], or [`EgressPolicy::check_connection`]'s rule when
    /// `allow_private`, without counting a refusal (the caller counts one per request).
    fn check_reaching(
        &self,
        host: Option<&str>,
        ip: IpAddr,
        allow_private: bool,
    ) -> Result<(), String> {
        match self.check(host, ip) {
            Err(_) if allow_private => {
                let host = host.map(|host| host.trim_end_matches('.').to_ascii_lowercase());
                let ip = canonical(ip);
                match self
                    .deny
                    .iter()
                    .find(|rule| rule.matches(host.as_deref(), ip))
                {
                    Some(rule) => Err(format!(
                        "the egress policy refuses {ip}: --egress-deny {rule}"
                    )),
                    None => Ok(()),
                }
            }
            checked => checked,
        }
    }

    /// The first address of `host` a connection (one an administrator allowed private
    /// addresses, with `allow_private`) may reach: a connector connects to this
    /// address, so that what was checked is what is reached.
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
        allow_private: bool,
    ) -> Result<IpAddr, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                self.check_name(host).map_err(|why| self.refused(why))?;
                tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|err| format!("cannot find the host {host}: {err}"))?
                    .map(|addr| addr.ip())
                    .collect()
            }
        };
        let mut refusal = None;
        for ip in found {
            match self.check_connection(Some(host), ip, allow_private) {
                Ok(()) => return Ok(ip),
                Err(why) => {
                    refusal.get_or_insert(why);
                }
            }
        }
        Err(match refusal {
            Some(why) if allow_private => why,
            Some(why) => format!(
                "{why} (an administrator may allow this connection to reach private \
                 addresses)"
            ),
            None => format!("cannot find the host {host}: it has no address"),
        })
    }

    /// A host named in a URL (before any resolution): refused when `--egress-deny`
    /// names it.
    pub fn check_name(&self, host: &str) -> Result<(), String> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self
            .deny
            .iter()
            .find(|rule| matches!(rule, EgressRule::Host(name) if *name == host))
        {
            Some(rule) => Err(format!(
                "the egress policy refuses {host}: --egress-deny {rule}"
            )),
            None => Ok(()),
        }
    }

    /// The host of a URL as a flow would reach it: literal addresses checked here,
    /// names checked for a deny (their addresses are checked when resolved).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        self.check_url_reaching(url, false)
    }

    /// [`EgressPolicy::check_url`] for a request through a connection an
    /// administrator allowed private addresses (`allow_private`).
    pub fn check_url_reaching(
        &self,
        url: &reqwest::Url,
        allow_private: bool,
    ) -> Result<(), String> {
        let Some(host) = url.host_str() else {
            return Err(format!("{url} has no host"));
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => return self.check_connection(None, ip, allow_private),
            Err(_) => self.check_name(host),
        }
        .map_err(|why| self.refused(why))
    }

    /// The flows' HTTP client: names resolved through the policy. It follows no
    /// redirect itself: [`HttpEgress::send`] does, checking each hop and deciding which
    /// headers go on.
    fn http_client(self: &Arc<Self>, allow_private: bool) -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent(concat!("junction/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(EgressResolver {
                policy: self.clone(),
                allow_private,
            }))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// What kind of address a flow may not reach by default, if it is one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if a == 0 {
        Some("unspecified")
    } else {
        None
    }
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// What an `http` step reaches through a connection: the base URL, the headers that
/// authenticate it (made from its secrets), and whether it may reach private
/// addresses.
pub struct HttpConnection {
    pub base_url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub allow_private: bool,
}

impl std::fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the headers: they hold the secrets.
        f.debug_struct("HttpConnection")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpConnection {
    pub fn open(connection: &crate::store::connections::OpenConnection) -> Result<Self, String> {
        use crate::domain::connection::{HttpAuth, Settings};
        let Settings::Http { base_url, auth } = &connection.settings else {
            return Err(format!(
                "{} is a {} connection, not an HTTP service",
                connection.name, connection.kind
            ));
        };
        let secret = |name: &str| connection.secrets.get(name).cloned().unwrap_or_default();
        let mut headers = std::collections::BTreeMap::new();
        match auth {
            HttpAuth::None => {}
            HttpAuth::Bearer => {
                headers.insert(
                    "authorization".to_owned(),
                    format!("Bearer {}", secret("token")),
                );
            }
            HttpAuth::Basic { user } => {
                use base64::Engine;
                let pair = format!("{user}:{}", secret("password"));
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.insert("authorization".to_owned(), format!("Basic {encoded}"));
            }
            HttpAuth::Header { header } => {
                headers.insert(header.clone(), secret("value"));
            }
        }
        Ok(Self {
            base_url: base_url.clone(),
            headers,
            allow_private: connection.allow_private,
        })
    }

    /// The URL of `path` (a step's `url`) under the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The headers of a request: the step's, then the connection's authentication
    /// (which a step cannot override: it never saw the secret).
    pub fn headers(
        &self,
        step: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut headers = step.clone();
        headers.extend(self.headers.clone());
        headers
    }
}

/// Another Junction server, as a `junction` connection reaches it: its address and a
/// user's API token there.
pub struct JunctionRemote {
    pub url: String,
    token: String,
    pub allow_private: bool,
}

impl std::fmt::Debug for JunctionRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("JunctionRemote")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl JunctionRemote {
    pub fn open(connection: &crate::store::connections::OpenConnection) -> Result<Self, String> {
        let crate::domain::connection::Settings::Junction { url } = &connection.settings else {
            return Err(format!(
                "{} is a {} connection, not a Junction server",
                connection.name, connection.kind
            ));
        };
        Ok(Self {
            url: url.clone(),
            token: connection.secrets.get("token").cloned().unwrap_or_default(),
            allow_private: connection.allow_private,
        })
    }

    fn headers(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([
            ("authorization".to_owned(), format!("Bearer {}", self.token)),
            ("accept".to_owned(), "application/json".to_owned()),
        ])
    }
}

/// How flows make HTTP requests: through the policy, whatever the URL.
#[derive(Clone, Debug)]
pub struct HttpEgress {
    client: reqwest::Client,
    /// For connections an administrator allowed private addresses.
    private_client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    /// The most of an answer a step reads, in bytes.
    answer_limit: usize,
}

impl HttpEgress {
    pub fn new(policy: Arc<EgressPolicy>, answer_limit: usize) -> Self {
        Self {
            client: policy.http_client(false),
            private_client: policy.http_client(true),
            policy,
            answer_limit,
        }
    }

    /// Tests an `http` connection: a GET of its base URL with its authentication.
    /// Any answer but 401 and 403 means it is reached and the credentials pass.
    pub async fn test(
        &self,
        connection: &crate::store::connections::OpenConnection,
    ) -> Result<String, String> {
        let through = HttpConnection::open(connection)?;
        let response = self
            .send_reaching(
                through.allow_private,
                reqwest::Method::GET,
                &through.base_url,
                &through.headers,
                None,
                std::time::Duration::from_secs(10),
            )
            .await?;
        let status = response.status();
        let base_url = &through.base_url;
        match status.as_u16() {
            401 | 403 => Err(format!("{base_url} refused the credentials ({status})")),
            _ => Ok(format!("connected: {base_url} answered {status}")),
        }
    }

    /// Tests a `junction` connection: who its token signs in as on the remote server.
    pub async fn test_junction(
        &self,
        connection: &crate::store::connections::OpenConnection,
    ) -> Result<String, String> {
        let remote = JunctionRemote::open(connection)?;
        let (status, answer) = self
            .call_junction(&remote, reqwest::Method::GET, "/api/v1/me", None)
            .await?;
        match status {
            200 => Ok(format!(
                "connected: {} as {} ({})",
                remote.url,
                answer["name"].as_str().unwrap_or("?"),
                answer["role"].as_str().unwrap_or("?")
            )),
            _ => Err(format!(
                "{} answered {status}: {}",
                remote.url,
                remote_message(&answer)
            )),
        }
    }

    /// Calls another Junction's API with the connection's token: the status and the
    /// JSON answer (`null` when it is not JSON), within 60 s.
    pub async fn call_junction(
        &self,
        remote: &JunctionRemote,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), String> {
        let url = format!("{}{path}", remote.url);
        let response = self
            .send_reaching(
                remote.allow_private,
                method,
                &url,
                &remote.headers(),
                body,
                std::time::Duration::from_secs(60),
            )
            .await?;
        let status = response.status().as_u16();
        let bytes = self.read_answer(response, &shown_url(&url)).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// The answer's body, read as it streams in and given up on as soon as it passes
    /// the limit: a huge answer costs the limit, not its size.
    pub async fn read_answer(
        &self,
        mut response: reqwest::Response,
        url: &str,
    ) -> Result<Vec<u8>, String> {
        let limit = self.answer_limit;
        let too_large = || format!("the answer of {url} is larger than the limit of {limit} bytes");
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| format!("reading the answer of {url}: {err}"))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Sends a request to `url` with `headers` (and `body` as JSON), following at
    /// most [`MAX_REDIRECTS`] redirects, each hop checked by the policy (a literal
    /// address here, since no resolution will see it; a name when it is resolved).
    /// A redirect to another origin carries none of the step's headers but
    /// [`HEADERS_KEPT_ACROSS_ORIGINS`]: any other may hold a secret meant for the first
    /// host. 303, and 301 or 302 after a POST, go on as a GET without the body, as
    /// browsers do; 307 and 308 repeat the request. `timeout` covers every hop.
    /// Errors are sentences that show URLs without their credentials.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        body: Option<&serde_json::Value>,
        timeout: std::time::Duration,
    ) -> Result<reqwest::Response, String> {
        self.send_reaching(false, method, url, headers, body, timeout)
            .await
    }

    /// [`HttpEgress::send`], through a connection that may (`allow_private`) reach
    /// private and loopback addresses.
    pub async fn send_reaching(
        &self,
        allow_private: bool,
        method: reqwest::Method,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        body: Option<&serde_json::Value>,
        timeout: std::time::Duration,
    ) -> Result<reqwest::Response, String> {
        let client = match allow_private {
            true => &self.private_client,
            false => &self.client,
        };
        let shown = shown_url(url);
        let mut at =
            reqwest::Url::parse(url).map_err(|err| format!("{shown} is not a URL: {err}"))?;
        self.policy
            .check_url_reaching(&at, allow_private)
            .map_err(|why| format!("cannot reach {shown}: {why}"))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let (mut method, mut body, mut same_origin) = (method, body, true);
        for _ in 0..=MAX_REDIRECTS {
            let mut request = client
                .request(method.clone(), at.clone())
                .timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
            for (name, value) in headers {
                if same_origin
                    || HEADERS_KEPT_ACROSS_ORIGINS.contains(&name.to_ascii_lowercase().as_str())
                {
                    request = request.header(name, value);
                }
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let here = shown_url(at.as_str());
            let response = request.send().await.map_err(|err| {
                if err.is_timeout() {
                    format!("{here} did not answer within {} s", timeout.as_secs())
                } else {
                    format!(
                        "cannot reach {here}: {}",
                        crate::telemetry::error_chain(&err.without_url())
                    )
                }
            })?;
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok());
            let (true, Some(location)) = (status.is_redirection(), location) else {
                return Ok(response);
            };
            let next = at.join(location).map_err(|err| {
                format!("{here} redirected to a location that is not a URL: {err}")
            })?;
            self.policy
                .check_url_reaching(&next, allow_private)
                .map_err(|why| {
                    format!("{here} redirected to {}: {why}", shown_url(next.as_str()))
                })?;
            same_origin = same_origin && next.origin() == at.origin();
            let as_get = status == reqwest::StatusCode::SEE_OTHER
                || (method == reqwest::Method::POST
                    && matches!(
                        status,
                        reqwest::StatusCode::MOVED_PERMANENTLY | reqwest::StatusCode::FOUND
                    ));
            if as_get {
                method = reqwest::Method::GET;
                body = None;
            }
            at = next;
        }
        Err(format!(
            "{shown} redirected more than {MAX_REDIRECTS} times"
        ))
    }
}

/// How many redirects one step follows.
pub const MAX_REDIRECTS: usize = 10;

/// The step headers that follow a redirect to another origin: they describe the
/// request, never who makes it. Every other header may be a credential.
pub const HEADERS_KEPT_ACROSS_ORIGINS: [&str; 4] =
    ["accept", "accept-language", "content-type", "user-agent"];

/// A URL as activity, logs and answers show it: its user name and password, and the
/// values of query parameters that look like credentials (the same ones a definition
/// masks, found by the same code), read `***`.
pub fn shown_url(url: &str) -> String {
    let masked = crate::domain::url_secrets::masked(url, "***");
    let Ok(mut parsed) = reqwest::Url::parse(&masked) else {
        return "(a URL that does not read)".to_owned();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_username("***");
        let _ = parsed.set_password(None);
    }
    parsed.to_string()
}

/// Resolves names for the flows' HTTP client, keeping only the addresses the policy
/// allows: what the connector gets is what it connects to.
#[derive(Clone, Debug)]
pub struct EgressResolver {
    pub policy: Arc<EgressPolicy>,
    /// Whether the requests are a connection's that may reach private addresses.
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for EgressResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            policy
                .check_name(&host)
                .map_err(|why| policy.refused(why))?;
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(
                    |addr| match policy.check_reaching(Some(&host), addr.ip(), allow_private) {
                        Ok(()) => true,
                        Err(why) => {
                            refusal.get_or_insert(why);
                            false
                        }
                    },
                )
                .collect();
            if allowed.is_empty() {
                let why = match refusal {
                    Some(why) => policy.refused(why),
                    None => format!("{host} has no address"),
                };
                return Err(why.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// What another Junction's error answer says, for people.
pub fn remote_message(answer: &serde_json::Value) -> String {
    answer["error"]["message"]
        .as_str()
        .map_or_else(|| "no answer in Junction's shape".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn by_default_flows_reach_the_internet_and_nothing_of_the_servers_own_network() {
        let policy = EgressPolicy::default();
        let table = [
            ("93.184.215.14", None),
            ("2606:2800:21f:cb07::1", None),
            ("127.0.0.1", Some("loopback")),
            ("127.8.9.10", Some("loopback")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("169.254.169.254", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("unique-local")),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
        ];
        for (address, refused_as) in table {
            let decided = policy.check(None, ip(address));
            match refused_as {
                None => assert_eq!(decided, Ok(()), "{address}"),
                Some(kind) => {
                    let why = decided.unwrap_err();
                    assert!(
                        why.contains(&format!("a {kind} address")),
                        "{address}: {why}"
                    );
                    assert!(why.contains("--egress-allow"), "{why}");
                }
            }
        }
    }

    #[test]
    fn an_allow_opens_and_a_deny_closes_and_wins() {
        let policy = EgressPolicy::from_lists(
            &["127.0.0.0/8".into(), "intranet.local".into()],
            &[
                "127.0.0.2".into(),
                "93.184.215.0/24".into(),
                "evil.example".into(),
            ],
        )
        .unwrap();
        assert_eq!(policy.check(None, ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check(Some("intranet.local"), ip("10.0.0.5")), Ok(()));
        assert!(policy.check(None, ip("10.0.0.5")).is_err());
        let denied = policy.check(None, ip("127.0.0.2")).unwrap_err();
        assert!(denied.contains("--egress-deny 127.0.0.2/32"), "{denied}");
        assert!(policy.check(None, ip("93.184.215.14")).is_err());
        assert!(policy.check_name("Evil.Example.").is_err());
    }

    #[test]
    fn a_url_is_shown_without_its_credentials() {
        assert_eq!(
            shown_url("https://bob:hunter2@api.example.com/x?token=abc&page=2&api_key=k"),
            "https://***@api.example.com/x?token=***&page=2&api_key=***"
        );
        assert_eq!(shown_url("http://example.com/a"), "http://example.com/a");
    }

    #[test]
    fn an_entry_that_does_not_read_is_named_with_its_flag() {
        let err = EgressPolicy::from_lists(&["10.0.0.0/33".into()], &[]).unwrap_err();
        assert!(err.starts_with("--egress-allow"), "{err}");
        let err = EgressPolicy::from_lists(&[], &["not a host!".into()]).unwrap_err();
        assert!(err.starts_with("--egress-deny"), "{err}");
    }
}
