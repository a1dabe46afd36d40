//! The test harness: a real Junction server on a free port with a database of its own,
//! on SQLite (a temporary file) or PostgreSQL (a uniquely named database, dropped
//! afterwards), and a macro that runs each case on both.
#![allow(dead_code, clippy::unwrap_used)]

pub mod brokers;
pub mod fixtures;
pub mod process;
pub mod proxy;
pub mod runtime;
pub mod targets;

use std::net::SocketAddr;

use junction::config::Config;
use junction::domain::access::Role;
use junction::domain::user::UserName;
use junction::runtime::builtin::BuiltinRuntime;
use junction::service::{Principal, Service};
use junction::startup::Application;
use junction::store::Store;
use reqwest::header::{ACCEPT, HeaderValue, REFERER};
use serde_json::Value;
use std::sync::Arc;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed case (`case: TestApp`, an `async fn case(app: TestApp)` of the
/// test file) once on SQLite and once on PostgreSQL, as `case::on_sqlite` and
/// `case::on_postgres`. The cases are plain functions, so rustfmt formats them.
/// `TestApp` has no reconciler running (tests play its part); `LiveApp` has one, as a
/// real server does.
#[macro_export]
macro_rules! on_both_databases {
    ($( $name:ident: $kind:ident ),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$name($crate::common::$kind::spawn($crate::common::Backend::Sqlite).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    super::$name($crate::common::$kind::spawn($crate::common::Backend::Postgres).await).await;
                }
            }
        )*
    };
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub fn backend(&self) -> Backend {
        if self.postgres_name.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// A database another test server already uses (a second replica): not dropped
    /// by this handle.
    pub fn shared(url: String) -> Self {
        Self {
            url,
            _dir: None,
            postgres_name: None,
        }
    }

    /// No database (what a stopped server leaves behind once its database moved on).
    fn none() -> Self {
        Self {
            url: String::new(),
            _dir: None,
            postgres_name: None,
        }
    }

    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("junction.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("junction_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = connect_admin(&admin).await;
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
                Self {
                    url: with_database(&admin, &name),
                    _dir: None,
                    postgres_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside async; a thread with its own runtime does the clean-up.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = connect_admin(&admin).await;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::Executor::execute(&mut conn, sql.as_str()).await;
            });
        })
        .join();
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "PostgreSQL tests need a server at {url} (set TEST_DATABASE_URL); \
             connecting failed: {err}"
            )
        })
}

/// The same server URL with another database name.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The administrator every test server starts with, and the password of the users
/// tests add.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "the admin's password";
pub const USER_PASSWORD: &str = "a user's password";
/// The key test servers encrypt connection secrets under.
pub const TEST_SECRET_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A new API token of `who`'s.
pub async fn token_for(service: &Service, who: &Principal) -> String {
    let name = format!("tests {}", uuid::Uuid::new_v4().simple());
    service.create_token(who, &name, None).await.unwrap().token
}

/// A client sending this bearer token on every request (none when empty), never
/// following redirects (tests look at them).
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if !token.is_empty() {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A running server and a client to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub service: Service,
    pub runtime: Arc<BuiltinRuntime>,
    /// Signed in as the administrator `admin` (a bearer token on every request).
    pub client: reqwest::Client,
    /// Nobody signed in.
    pub anonymous: reqwest::Client,
    /// The administrator's token.
    pub token: String,
    pub database: TestDatabase,
    pub data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A test server with its reconciler running, retrying quickly.
pub struct LiveApp(pub TestApp);

impl std::ops::Deref for LiveApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.0
    }
}

/// A test server that no user has been created on yet (first run).
pub struct EmptyApp(pub TestApp);

impl EmptyApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self(TestApp::spawn_with(backend, no_first_admin).await)
    }
}

/// A fresh database and nothing started on it: for tests that start `junction`
/// processes of their own.
pub struct FreshDatabase(pub TestDatabase);

impl FreshDatabase {
    pub async fn spawn(backend: Backend) -> Self {
        Self(TestDatabase::create(backend).await)
    }
}

/// Starts without creating the administrator.
pub fn no_first_admin(config: &mut Config) {
    config.admin_user = None;
    config.admin_password = None;
}

/// A live test server with the egress policy as it ships: nothing of loopback open.
pub struct ClosedApp(pub TestApp);

impl std::ops::Deref for ClosedApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl ClosedApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self(
            TestApp::spawn_with(backend, |config| {
                live(config);
                config.egress_allow.clear();
            })
            .await,
        )
    }
}

impl LiveApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self(TestApp::spawn_with(backend, live).await)
    }
}

/// The settings of a live test server: a fast tick and quick retries.
pub fn live(config: &mut Config) {
    config.no_reconciler = false;
    config.reconcile_tick_ms = 50;
    config.retry_base_ms = 20;
    config.retry_jitter = 0.0;
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create(backend).await;
        let data_dir = tempfile::tempdir().unwrap();
        Self::start(database, data_dir, configure).await
    }

    /// Starts a server on an existing database and data directory.
    pub async fn start(
        database: TestDatabase,
        data_dir: tempfile::TempDir,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database(database.url.clone(), data_dir.path().to_owned());
        config.no_reconciler = true;
        config.admin_user = Some(ADMIN.to_owned());
        config.admin_password = Some(ADMIN_PASSWORD.to_owned());
        // The systems tests point flows at listen on loopback, which the egress
        // policy refuses by default (tests/egress.rs tests it closed).
        config.egress_allow = vec!["127.0.0.0/8".into(), "::1".into()];
        // One key for every test server, so that replicas on one database agree.
        config.secret_key = Some(TEST_SECRET_KEY.to_owned());
        configure(&mut config);
        let app = Application::build(&config).await.unwrap();
        let addr = app.addr();
        let store = app.store().clone();
        let service = app.service().clone();
        let runtime = app.runtime().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        // Signed in as the configured administrator, if there is one.
        let admin = match config.admin_user.as_deref().map(UserName::parse) {
            Some(Ok(name)) => store.user(&name).await.unwrap().map(|stored| stored.user),
            Some(Err(_)) | None => None,
        };
        let token = match admin {
            Some(admin) => token_for(&service, &Principal::signed_in(&admin, None)).await,
            None => String::new(),
        };
        Self {
            addr,
            store,
            service,
            runtime,
            client: client_with_token(&token),
            anonymous: client_with_token(""),
            token,
            database,
            data_dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// A user with this role, and a client signed in as them (a token of theirs).
    pub async fn client_as(&self, name: &str, role: Role) -> reqwest::Client {
        let request = junction::service::UserRequest {
            name,
            display_name: "",
            password: USER_PASSWORD,
            role: role.as_str(),
        };
        let admin = Principal::new(ADMIN, Role::Admin);
        self.service.add_user(&admin, &request).await.unwrap();
        client_with_token(&token_for(&self.service, &Principal::new(name, role)).await)
    }

    /// Stops the server as Ctrl-C does and hands back its database and data directory.
    pub async fn shut_down(mut self) -> (TestDatabase, tempfile::TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        // Everything the server ran stops with it.
        let database = std::mem::replace(&mut self.database, TestDatabase::none());
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        (database, data_dir)
    }

    /// Calls the JSON API: status, headers and the JSON answer (null when there is none).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.api_with(method, path, body, &[]).await
    }

    pub async fn api_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// Creates an integration named `name` with `definition` through the API (201);
    /// answers its id.
    pub async fn create(&self, name: &str, definition: Value) -> String {
        let body = serde_json::json!({ "name": name, "definition": definition });
        let (status, _, created) = self.api("POST", "/api/v1/integrations", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Creates an integration named `name` with `definition` through the API,
    /// publishes it and waits until it runs (a live server's reconciler brings it
    /// up); answers its id.
    pub async fn running(&self, name: &str, definition: Value) -> String {
        let id = self.create(name, definition).await;
        self.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
            .await;
        self.eventually("the integration is Active", || async {
            let (_, _, now) = self
                .api("GET", &format!("/api/v1/integrations/{id}"), None)
                .await;
            now["current_state"] == "active" && now["pending"] == false
        })
        .await;
        id
    }

    /// Calls a webhook: the status and the JSON answer (null when there is none).
    pub async fn hook(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(&format!("/hooks/{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The newest 200 entries of an integration's activity.
    pub async fn activity(&self, id: &str) -> Vec<Value> {
        let (_, _, page) = self
            .api(
                "GET",
                &format!("/api/v1/integrations/{id}/activity?per_page=200"),
                None,
            )
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Every entry of an integration's activity, page by page.
    pub async fn all_activity(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        for page in 1.. {
            let (_, _, answer) = self
                .api(
                    "GET",
                    &format!("/api/v1/integrations/{id}/activity?page={page}&per_page=200"),
                    None,
                )
                .await;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            all.extend(items);
        }
        all
    }

    /// Polls until `check` holds, for at most 20 s; panics with `what` otherwise.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("timed out waiting until {what}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Calls a server function as the browser does after hydration.
    pub async fn call(&self, function: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(&format!("/api/{function}")))
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|err| {
            panic!("{function} answered {status} with non-JSON {text:?}: {err}")
        });
        (status, body)
    }

    /// Posts a form as a browser without JavaScript does, from the page at `from`.
    pub async fn post_plain_form(
        &self,
        function: &str,
        from: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/{function}")))
            .header(
                ACCEPT,
                HeaderValue::from_static("text/html,application/xhtml+xml"),
            )
            .header(REFERER, self.url(from))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_page(&self, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
