//! Databases the connector tests point flows at: a fresh database of its own on the
//! machine's PostgreSQL or MariaDB (never a mock), dropped afterwards. The servers are
//! those `.ci/test` makes sure answer: TEST_DATABASE_URL and TEST_MYSQL_URL.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::{Value, json};
use sqlx::Connection;

/// The MariaDB (or MySQL) server the connector tests create their databases on.
pub fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// Which kind of database a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mariadb,
}

/// A database of its own for one test, on a real server.
pub struct Target {
    pub engine: Engine,
    pub name: String,
    admin: String,
}

/// Host, port and user of a server URL (`scheme://user[:password]@host:port/db`).
fn parts(url: &str) -> (String, u16, String, String) {
    let parsed = url::Url::parse(url).unwrap();
    (
        parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
        parsed.port().unwrap_or(0),
        parsed.username().to_owned(),
        parsed.password().unwrap_or_default().to_owned(),
    )
}

impl Target {
    pub async fn create(engine: Engine) -> Self {
        let name = format!("junction_target_{}", uuid::Uuid::new_v4().simple());
        let admin = match engine {
            Engine::Postgres => super::postgres_admin_url(),
            Engine::Mariadb => mysql_admin_url(),
        };
        let target = Self {
            engine,
            name,
            admin,
        };
        target
            .admin_execute(&format!("CREATE DATABASE {}", target.name))
            .await;
        target
    }

    async fn admin_execute(&self, sql: &str) {
        match self.engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
                sqlx::Executor::execute(&mut conn, sql).await.unwrap();
            }
            Engine::Mariadb => {
                let mut conn = sqlx::MySqlConnection::connect(&self.admin)
                    .await
                    .unwrap_or_else(|err| {
                        panic!(
                            "connector tests need MariaDB at {} (set TEST_MYSQL_URL): {err}",
                            self.admin
                        )
                    });
                sqlx::Executor::execute(&mut conn, sql).await.unwrap();
            }
        }
    }

    /// The URL of this database, for the test's own queries.
    pub fn url(&self) -> String {
        super::with_database(&self.admin, &self.name)
    }

    /// The connection's JSON form, named `name`, pointing at this database.
    pub fn connection(&self, name: &str) -> Value {
        let (host, port, user, password) = parts(&self.admin);
        let (kind, port) = match self.engine {
            Engine::Postgres => ("postgres", if port == 0 { 5432 } else { port }),
            Engine::Mariadb => ("mysql", if port == 0 { 3306 } else { port }),
        };
        json!({
            "name": name,
            "kind": kind,
            "settings": { "host": host, "port": port, "database": self.name, "user": user, "tls": "disable" },
            "secrets": { "password": password },
            "allow_private": true,
        })
    }

    /// Runs statements on this database (the test's own setup).
    pub async fn execute(&self, sql: &str) {
        match self.engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
            Engine::Mariadb => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url()).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// The first column of every row of `sql`, as text (in the engine's own casting).
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match self.engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Engine::Mariadb => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url()).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// A number of rows, from `SELECT count(*)`.
    pub async fn count(&self, sql: &str) -> i64 {
        match self.engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Engine::Mariadb => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url()).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let (engine, admin, name) = (self.engine, self.admin.clone(), self.name.clone());
        // Drop runs outside async; a thread with its own runtime does the clean-up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                match engine {
                    Engine::Postgres => {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::Executor::execute(&mut conn, sql.as_str()).await;
                        }
                    }
                    Engine::Mariadb => {
                        let sql = format!("DROP DATABASE IF EXISTS {name}");
                        if let Ok(mut conn) = sqlx::MySqlConnection::connect(&admin).await {
                            let _ = sqlx::Executor::execute(&mut conn, sql.as_str()).await;
                        }
                    }
                }
            });
        })
        .join();
    }
}
