//! A `junction` process of its own (the binary the tests built), for what only a real
//! process shows: being killed with SIGKILL and started again on the same database.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A running `junction` process, signed in as the administrator it was started with.
pub struct Junction {
    child: std::process::Child,
    pub base: String,
    /// Signed in as the administrator (a token of theirs).
    pub client: reqwest::Client,
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The command that runs `junction` on `database` with its files in `data_dir`,
/// listening on `port`, with a fast reconciler and loopback open to flows, and the
/// test administrator. The secret key is the tests' own unless the caller changes it.
pub fn command(database: &str, data_dir: &Path, port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .args(["--reconcile-tick-ms", "100", "--retry-base-ms", "100"])
        .args(["--egress-allow", "127.0.0.0/8"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("DATABASE_URL", database)
        .env("JUNCTION_SECRET_KEY", super::TEST_SECRET_KEY)
        .env("JUNCTION_ADMIN_USER", super::ADMIN)
        .env("JUNCTION_ADMIN_PASSWORD", super::ADMIN_PASSWORD);
    command
}

impl Junction {
    /// Starts one on `database` with its files in `data_dir` (see [`command`]); waits
    /// until it answers and makes a token.
    pub async fn start(database: &str, data_dir: &Path) -> Self {
        Self::start_with(database, data_dir, |_| {}).await
    }

    /// The same, with `configure` changing the command first (its log, its key).
    pub async fn start_with(
        database: &str,
        data_dir: &Path,
        configure: impl FnOnce(&mut std::process::Command),
    ) -> Self {
        let port = free_port();
        let mut command = command(database, data_dir, port);
        configure(&mut command);
        let child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let anonymous = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while anonymous
            .get(format!("{base}/api/v1/me"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let made: Value = anonymous
            .post(format!("{base}/api/v1/tokens"))
            .basic_auth(super::ADMIN, Some(super::ADMIN_PASSWORD))
            .json(&json!({ "name": format!("test-{port}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let client = super::client_with_token(made["token"].as_str().unwrap());
        Self {
            child,
            base,
            client,
        }
    }

    /// Sends a signal (`-TERM`, `-STOP`, ...) without waiting.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// How it exited, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Stops it with SIGTERM and waits for it to exit.
    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap();
    }

    /// Calls the JSON API: the status and the JSON answer (null when there is none).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_with(method, path, body, &[]).await
    }

    pub async fn api_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// SIGKILL: no shutdown, nothing finished or handed back.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Junction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
