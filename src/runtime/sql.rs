//! The SQL connector: pools per connection (shared by every flow that uses it, bounded),
//! reached through the egress policy; statements run with bound parameters, never
//! interpolated; rows come back as JSON with their columns' types.
//!
//! PostgreSQL is strict about parameter types, so a statement is described first (the
//! driver caches it per connection) and each JSON value is converted to the type the
//! server inferred for its placeholder, or refused naming both. MySQL and SQLite take
//! each value with its JSON type and convert it themselves.

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::{
    Arguments, Column, ConnectOptions, Connection, Executor, Row, Statement, TypeInfo, ValueRef,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::egress::EgressPolicy;
use crate::domain::connection::{ConnectionKind, Settings, TlsMode};
use crate::store::connections::OpenConnection;

/// How long a sql step waits unless its definition says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many rows a sql step may return unless its definition says otherwise.
pub const DEFAULT_MAX_ROWS: u64 = 1000;
/// How long testing a connection waits for it.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of connections to one database, and what its errors name it by.
#[derive(Debug)]
pub struct SqlPool {
    pool: Pool,
    kind: ConnectionKind,
    /// `host:port` or the file.
    place: String,
}

#[derive(Debug)]
enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

/// The pools of every connection in use, shared: two flows on one connection share its
/// pool. A pool lives while a flow built with it does; a changed connection (a new
/// revision) gets a new pool, and the old one closes with the last flow using it.
#[derive(Clone)]
pub struct Connectors {
    policy: Arc<EgressPolicy>,
    pool_size: u32,
    pools: Arc<Mutex<Pools>>,
}

/// The pools in use, by connection name and revision.
type Pools = HashMap<(String, i64), Weak<SqlPool>>;

/// What the connect options of a database connection are built from.
enum Target {
    Postgres(sqlx::postgres::PgConnectOptions),
    Mysql(sqlx::mysql::MySqlConnectOptions),
    Sqlite(sqlx::sqlite::SqliteConnectOptions),
}

impl Connectors {
    pub fn new(policy: Arc<EgressPolicy>, pool_size: u32) -> Self {
        Self {
            policy,
            pool_size: pool_size.max(1),
            pools: Arc::default(),
        }
    }

    /// The pool of `connection` (at its revision), made on first use. It connects
    /// lazily: a database that is down fails the first statement, with the cause, not
    /// the deployment.
    pub async fn pool(&self, connection: &OpenConnection) -> Result<Arc<SqlPool>, String> {
        let key = (connection.name.clone(), connection.revision);
        if let Some(pool) = self.lock().get(&key).and_then(Weak::upgrade) {
            return Ok(pool);
        }
        let target = self.target(connection).await?;
        let size = self.pool_size;
        let pool = Arc::new(SqlPool {
            pool: match target {
                Target::Postgres(o) => Pool::Postgres(pool_options(size).connect_lazy_with(o)),
                Target::Mysql(o) => Pool::Mysql(pool_options(size).connect_lazy_with(o)),
                Target::Sqlite(o) => Pool::Sqlite(pool_options(size).connect_lazy_with(o)),
            },
            kind: connection.kind,
            place: place(&connection.settings),
        });
        let mut pools = self.lock();
        pools.retain(|_, pool| pool.strong_count() > 0);
        // Another build may have made it meanwhile: use theirs, so that one pool is
        // shared.
        if let Some(existing) = pools.get(&key).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        pools.insert(key, Arc::downgrade(&pool));
        Ok(pool)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many pools are open (for tests).
    pub fn open_pools(&self) -> usize {
        self.lock()
            .values()
            .filter(|p| p.strong_count() > 0)
            .count()
    }

    /// Connects once and runs a trivial statement: "connected", or why not.
    pub async fn test(&self, connection: &OpenConnection) -> Result<String, String> {
        let target = self.target(connection).await?;
        let attempt = async {
            match target {
                Target::Postgres(o) => {
                    let mut conn = o.connect().await?;
                    let version: String = sqlx::query_scalar("SELECT version()")
                        .fetch_one(&mut conn)
                        .await?;
                    conn.close().await?;
                    Ok(version)
                }
                Target::Mysql(o) => {
                    let mut conn = o.connect().await?;
                    let version: String = sqlx::query_scalar("SELECT version()")
                        .fetch_one(&mut conn)
                        .await?;
                    conn.close().await?;
                    Ok(format!("MySQL-compatible {version}"))
                }
                Target::Sqlite(o) => {
                    let mut conn = o.connect().await?;
                    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
                        .fetch_one(&mut conn)
                        .await?;
                    conn.close().await?;
                    Ok(format!("SQLite {version}"))
                }
            }
        };
        match tokio::time::timeout(TEST_TIMEOUT, attempt).await {
            Ok(Ok(version)) => Ok(format!("connected: {}", short_version(&version))),
            Ok(Err(err)) => Err(describe(
                &err,
                connection.kind,
                &place(&connection.settings),
            )),
            Err(_) => Err(format!(
                "no answer within {} s: is the address right, and does a firewall drop the \
                 packets?",
                TEST_TIMEOUT.as_secs()
            )),
        }
    }

    /// The address the connection reaches, checked against the egress policy, and the
    /// driver's options. The address is resolved here, once, and the driver given the
    /// address itself, so that what was checked is what is connected to.
    async fn target(&self, connection: &OpenConnection) -> Result<Target, String> {
        let password = connection.secrets.get("password").map(String::as_str);
        match (&connection.settings, connection.kind) {
            (
                Settings::Database {
                    host,
                    port,
                    database,
                    user,
                    tls,
                },
                kind @ (ConnectionKind::Postgres | ConnectionKind::Mysql),
            ) => {
                let ip = self
                    .policy
                    .resolve(host, *port, connection.allow_private)
                    .await?;
                // Checking the certificate needs the name it was issued for.
                let connect_to = match tls {
                    TlsMode::VerifyFull => host.clone(),
                    TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => ip.to_string(),
                };
                Ok(match kind {
                    ConnectionKind::Postgres => {
                        use sqlx::postgres::{PgConnectOptions, PgSslMode};
                        let mut options = PgConnectOptions::new_without_pgpass()
                            .host(&connect_to)
                            .port(*port)
                            .username(user)
                            .database(database)
                            .application_name("junction")
                            .ssl_mode(match tls {
                                TlsMode::Disable => PgSslMode::Disable,
                                TlsMode::Prefer => PgSslMode::Prefer,
                                TlsMode::Require => PgSslMode::Require,
                                TlsMode::VerifyFull => PgSslMode::VerifyFull,
                            });
                        if let Some(password) = password.filter(|p| !p.is_empty()) {
                            options = options.password(password);
                        }
                        Target::Postgres(options)
                    }
                    // Only Postgres and Mysql reach here (the pattern above).
                    ConnectionKind::Mysql
                    | ConnectionKind::Sqlite
                    | ConnectionKind::Http
                    | ConnectionKind::Amqp
                    | ConnectionKind::Mqtt
                    | ConnectionKind::Nats
                    | ConnectionKind::Redis
                    | ConnectionKind::Junction => {
                        use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
                        let mut options = MySqlConnectOptions::new()
                            .host(&connect_to)
                            .port(*port)
                            .username(user)
                            .database(database)
                            .charset("utf8mb4")
                            .ssl_mode(match tls {
                                TlsMode::Disable => MySqlSslMode::Disabled,
                                TlsMode::Prefer => MySqlSslMode::Preferred,
                                TlsMode::Require => MySqlSslMode::Required,
                                TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
                            });
                        if let Some(password) = password.filter(|p| !p.is_empty()) {
                            options = options.password(password);
                        }
                        Target::Mysql(options)
                    }
                })
            }
            (Settings::Sqlite { path }, ConnectionKind::Sqlite) => Ok(Target::Sqlite(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(false)
                    .busy_timeout(Duration::from_secs(5)),
            )),
            (
                Settings::Http { .. }
                | Settings::Amqp { .. }
                | Settings::Mqtt { .. }
                | Settings::Nats { .. }
                | Settings::Redis { .. }
                | Settings::Junction { .. },
                _,
            )
            | (
                Settings::Database { .. },
                ConnectionKind::Sqlite
                | ConnectionKind::Http
                | ConnectionKind::Amqp
                | ConnectionKind::Mqtt
                | ConnectionKind::Nats
                | ConnectionKind::Redis
                | ConnectionKind::Junction,
            )
            | (Settings::Sqlite { .. }, _) => Err(format!(
                "{} is an {} connection, not a SQL database",
                connection.name, connection.kind
            )),
        }
    }
}

/// A pool of at most `size` connections, closing the idle ones.
fn pool_options<DB: sqlx::Database>(size: u32) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
}

/// The first line of a server's version, shortened.
fn short_version(version: &str) -> String {
    let line = version.lines().next().unwrap_or_default();
    match line.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// Where a connection reaches, as errors name it: `host:port`, or the file.
fn place(settings: &Settings) -> String {
    match settings {
        Settings::Database { host, port, .. }
        | Settings::Amqp { host, port, .. }
        | Settings::Mqtt { host, port, .. }
        | Settings::Redis { host, port, .. } => format!("{host}:{port}"),
        Settings::Sqlite { path } => path.clone(),
        Settings::Http { base_url, .. } => base_url.clone(),
        Settings::Nats { url, .. } | Settings::Junction { url } => url.clone(),
    }
}

/// A driver's error as a person can act on it: refused, bad password, unknown
/// database, TLS.
pub fn describe(err: &sqlx::Error, kind: ConnectionKind, place: &str) -> String {
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("refused: nothing accepts connections at {place}")
        }
        sqlx::Error::Io(io) => format!("cannot reach {place}: {io}"),
        sqlx::Error::Tls(tls) => format!("TLS with {place} failed: {tls}"),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match (kind, code.as_ref()) {
                (ConnectionKind::Postgres, "28P01" | "28000")
                | (ConnectionKind::Mysql, "1045" | "28000") => format!(
                    "the server refused the user name or password ({})",
                    db.message()
                ),
                (ConnectionKind::Postgres, "3D000") | (ConnectionKind::Mysql, "1049" | "42000")
                    if db.message().to_lowercase().contains("database") =>
                {
                    format!("unknown database: {}", db.message())
                }
                _ => format!("the database answered: {}", db.message()),
            }
        }
        sqlx::Error::PoolTimedOut => format!(
            "no connection to {place} within the pool's time: the database is slow, down, or \
             every connection is busy"
        ),
        other => format!("{other}"),
    }
}

/// What a statement did: the rows it returned and how many it changed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub rows: Vec<Map<String, Value>>,
    pub affected: u64,
    /// Whether rows were left unread at the cap (only when asked to stop there).
    pub capped: bool,
}

impl Outcome {
    /// The body a sql step hands on: `{"rows": [...], "affected": N}`.
    pub fn into_body(self) -> Value {
        serde_json::json!({
            "rows": self.rows.into_iter().map(Value::Object).collect::<Vec<_>>(),
            "affected": self.affected,
        })
    }
}

/// What to do at the row cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtCap {
    /// A step: more rows than the cap is an error.
    Fail,
    /// A poll: take the first rows, the rest come at the next poll.
    Stop,
}

impl SqlPool {
    /// Runs `query` with `params` bound, within `timeout`, reading at most `max_rows`.
    pub async fn run(
        &self,
        query: &str,
        params: &[Value],
        timeout: Duration,
        max_rows: u64,
        at_cap: AtCap,
    ) -> Result<Outcome, String> {
        let work = async {
            match &self.pool {
                Pool::Postgres(pool) => postgres::run(pool, query, params, max_rows, at_cap).await,
                Pool::Mysql(pool) => {
                    let mut args = sqlx::mysql::MySqlArguments::default();
                    for (index, value) in params.iter().enumerate() {
                        bind_loose(&mut args, value).map_err(|err| param_error(index, &err))?;
                    }
                    let mut conn = pool.acquire().await.map_err(acquire_error)?;
                    let stream = conn.fetch_many(sqlx::query_with(query, args));
                    Ok(
                        collect(stream, max_rows, at_cap, |row: &sqlx::mysql::MySqlRow| {
                            read_mysql_row(row)
                        })
                        .await?,
                    )
                }
                Pool::Sqlite(pool) => {
                    let mut args = sqlx::sqlite::SqliteArguments::default();
                    for (index, value) in params.iter().enumerate() {
                        bind_loose(&mut args, value).map_err(|err| param_error(index, &err))?;
                    }
                    let mut conn = pool.acquire().await.map_err(acquire_error)?;
                    let stream = conn.fetch_many(sqlx::query_with(query, args));
                    Ok(
                        collect(stream, max_rows, at_cap, |row: &sqlx::sqlite::SqliteRow| {
                            read_sqlite_row(row)
                        })
                        .await?,
                    )
                }
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Err(Failed::NoConnection)) => Err(self.why_no_connection().await),
            Ok(Err(Failed::Statement(why))) => Err(why),
            Ok(Ok(outcome)) => Ok(outcome),
            Err(_) => Err(format!(
                "the statement did not finish within {} s (timeout_seconds)",
                timeout.as_secs()
            )),
        }
    }

    /// Why no connection came from the pool: it retries a refused connection until
    /// its time is up and then says only that, so one direct attempt names the cause.
    async fn why_no_connection(&self) -> String {
        let attempt = async {
            match &self.pool {
                Pool::Postgres(pool) => pool.connect_options().connect().await.map(drop),
                Pool::Mysql(pool) => pool.connect_options().connect().await.map(drop),
                Pool::Sqlite(pool) => pool.connect_options().connect().await.map(drop),
            }
        };
        match tokio::time::timeout(TEST_TIMEOUT, attempt).await {
            // Reached now: every connection was busy.
            Ok(Ok(())) => format!(
                "no connection to {} came free in time: the database is slow, or every \
                 connection of the pool (--connection-pool-size) is busy",
                self.place
            ),
            Ok(Err(err)) => describe(&err, self.kind, &self.place),
            Err(_) => format!("{} does not answer", self.place),
        }
    }
}

/// Why a statement did not run.
enum Failed {
    /// The pool gave no connection in time (the cause is found out afterwards).
    NoConnection,
    /// The database's answer, or a parameter that did not fit.
    Statement(String),
}

impl From<String> for Failed {
    fn from(why: String) -> Self {
        Failed::Statement(why)
    }
}

/// A pool's error: no connection in time, or the database's words.
fn acquire_error(err: sqlx::Error) -> Failed {
    match err {
        sqlx::Error::PoolTimedOut => Failed::NoConnection,
        other => Failed::Statement(database_error(&other)),
    }
}

fn param_error(index: usize, err: &dyn std::fmt::Display) -> String {
    format!("params[{index}]: {err}")
}

/// Binds a JSON value with its own type, for databases that convert it themselves.
fn bind_loose<'q, A>(args: &mut A, value: &Value) -> Result<(), sqlx::error::BoxDynError>
where
    A: Arguments<'q>,
    Option<String>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    String: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    i64: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    f64: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    bool: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
{
    match value {
        Value::Null => args.add(None::<String>),
        Value::Bool(b) => args.add(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => args.add(i),
            None => args.add(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => args.add(s.clone()),
        // Lists and objects go as their JSON text: both databases read JSON from text.
        Value::Array(_) | Value::Object(_) => args.add(value.to_string()),
    }
}

/// Reads the results of a statement: rows up to the cap, and the count of rows changed.
async fn collect<R, S>(
    mut stream: S,
    max_rows: u64,
    at_cap: AtCap,
    read: impl Fn(&R) -> Result<Map<String, Value>, String>,
) -> Result<Outcome, String>
where
    S: futures_util::Stream<
            Item = Result<
                sqlx::Either<<R::Database as sqlx::Database>::QueryResult, R>,
                sqlx::Error,
            >,
        > + Unpin,
    R: Row,
    <R::Database as sqlx::Database>::QueryResult: RowsAffected,
{
    let mut outcome = Outcome {
        rows: Vec::new(),
        affected: 0,
        capped: false,
    };
    while let Some(item) = stream
        .try_next()
        .await
        .map_err(|err| database_error(&err))?
    {
        match item {
            sqlx::Either::Left(result) => outcome.affected += result.affected(),
            sqlx::Either::Right(row) => {
                if outcome.rows.len() as u64 >= max_rows {
                    match at_cap {
                        AtCap::Stop => {
                            outcome.capped = true;
                            break;
                        }
                        AtCap::Fail => {
                            return Err(format!(
                                "the statement returned more than {max_rows} rows (max_rows): \
                                 add a LIMIT, or raise max_rows"
                            ));
                        }
                    }
                }
                outcome.rows.push(read(&row)?);
            }
        }
    }
    Ok(outcome)
}

/// The count of rows a statement changed, whichever database ran it.
pub trait RowsAffected {
    fn affected(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::mysql::MySqlQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A statement's error: the database's own message when it has one.
fn database_error(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => format!("the database answered: {}", db.message()),
        sqlx::Error::PoolTimedOut => {
            "no database connection came free in time: the database is slow or down".to_owned()
        }
        sqlx::Error::Io(io) => format!("the connection to the database failed: {io}"),
        other => other.to_string(),
    }
}

/// A column that cannot be read as JSON: what to do about it.
fn unreadable(column: &str, type_name: &str) -> String {
    format!(
        "column {column:?} has the type {type_name}, which the sql step cannot read: cast it in \
         the query (to text, for example)"
    )
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decimal(value: rust_decimal::Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    if value.fract().is_zero()
        && let Some(whole) = value.to_i64()
    {
        return Value::from(whole);
    }
    // A JSON number is a double: the closest one.
    value
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::String(value.to_string()), Value::Number)
}

/// A time with its zone, as RFC 3339 in UTC.
fn utc(time: chrono::DateTime<chrono::Utc>) -> Value {
    Value::from(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// A time without a zone: ISO 8601 without an offset (it never had one).
fn local(time: chrono::NaiveDateTime) -> Value {
    Value::from(time.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
}

/// Each column of `row` as JSON: null, or what `decode` reads for the column's type
/// (by its name); a column it cannot read is an error naming it.
fn read_columns<R: Row>(
    row: &R,
    decode: impl Fn(&R, usize, &str) -> Result<Option<Value>, sqlx::Error>,
) -> Result<Map<String, Value>, String>
where
    usize: sqlx::ColumnIndex<R>,
{
    let mut out = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let raw = row.try_get_raw(index).map_err(|e| e.to_string())?;
        let value = match raw.is_null() {
            true => Value::Null,
            false => {
                let type_name = column.type_info().name().to_owned();
                match decode(row, index, &type_name) {
                    Ok(Some(value)) => value,
                    Ok(None) => return Err(unreadable(name, &type_name)),
                    Err(err) => return Err(format!("column {name:?}: {err}")),
                }
            }
        };
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

fn float(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

mod postgres {
    use super::*;
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo};

    pub(super) async fn run(
        pool: &sqlx::PgPool,
        query: &str,
        params: &[Value],
        max_rows: u64,
        at_cap: AtCap,
    ) -> Result<Outcome, Failed> {
        let mut conn = pool.acquire().await.map_err(acquire_error)?;
        // Described once per connection (the driver caches the statement).
        let statement = conn
            .prepare(query)
            .await
            .map_err(|err| database_error(&err))?;
        let types: Vec<PgTypeInfo> = match statement.parameters() {
            Some(sqlx::Either::Left(types)) => types.to_vec(),
            Some(sqlx::Either::Right(_)) | None => Vec::new(),
        };
        if types.len() != params.len() {
            return Err(Failed::Statement(format!(
                "the query takes {} parameters, and {} are given",
                types.len(),
                params.len()
            )));
        }
        let mut args = PgArguments::default();
        for (index, (value, kind)) in params.iter().zip(&types).enumerate() {
            bind(&mut args, value, kind).map_err(|err| param_error(index, &err))?;
        }
        let stream = conn.fetch_many(sqlx::query_with(query, args));
        Ok(collect(stream, max_rows, at_cap, read_row).await?)
    }

    /// Converts `value` to the placeholder's type, refusing what would lose meaning.
    fn bind(args: &mut PgArguments, value: &Value, kind: &PgTypeInfo) -> Result<(), String> {
        let name = kind.name();
        let wrong =
            |wanted: &str| format!("{value} is not {wanted}, which a {name} parameter takes");
        let added = match (name, value) {
            // A null of the placeholder's own type.
            ("BOOL", Value::Null) => args.add(None::<bool>),
            ("INT2", Value::Null) => args.add(None::<i16>),
            ("INT4", Value::Null) => args.add(None::<i32>),
            ("INT8", Value::Null) => args.add(None::<i64>),
            ("FLOAT4", Value::Null) => args.add(None::<f32>),
            ("FLOAT8", Value::Null) => args.add(None::<f64>),
            ("NUMERIC", Value::Null) => args.add(None::<rust_decimal::Decimal>),
            ("JSON" | "JSONB", Value::Null) => args.add(None::<sqlx::types::Json<Value>>),
            ("TIMESTAMPTZ", Value::Null) => args.add(None::<DateTime<Utc>>),
            ("TIMESTAMP", Value::Null) => args.add(None::<NaiveDateTime>),
            ("DATE", Value::Null) => args.add(None::<NaiveDate>),
            ("TIME", Value::Null) => args.add(None::<NaiveTime>),
            ("UUID", Value::Null) => args.add(None::<uuid::Uuid>),
            ("TEXT" | "VARCHAR" | "BPCHAR" | "NAME", Value::Null) => args.add(None::<String>),
            ("BOOL", Value::Bool(b)) => args.add(*b),
            ("INT2", _) => args.add(
                i16::try_from(whole(value).ok_or_else(|| wrong("a whole number"))?)
                    .map_err(|_| wrong("a number that fits in smallint"))?,
            ),
            ("INT4", _) => args.add(
                i32::try_from(whole(value).ok_or_else(|| wrong("a whole number"))?)
                    .map_err(|_| wrong("a number that fits in integer"))?,
            ),
            ("INT8", _) => args.add(whole(value).ok_or_else(|| wrong("a whole number"))?),
            ("FLOAT4", _) => args.add(number(value).ok_or_else(|| wrong("a number"))? as f32),
            ("FLOAT8", _) => args.add(number(value).ok_or_else(|| wrong("a number"))?),
            ("NUMERIC", Value::Number(n)) => args.add(
                n.to_string()
                    .parse::<rust_decimal::Decimal>()
                    .or_else(|_| rust_decimal::Decimal::try_from(n.as_f64().unwrap_or(f64::NAN)))
                    .map_err(|_| wrong("a decimal number"))?,
            ),
            ("NUMERIC", Value::String(s)) => args.add(
                s.trim()
                    .parse::<rust_decimal::Decimal>()
                    .map_err(|_| wrong("a decimal number"))?,
            ),
            ("TEXT" | "VARCHAR" | "BPCHAR" | "NAME", Value::String(s)) => args.add(s.clone()),
            // A number or a boolean where text is wanted: its JSON text.
            ("TEXT" | "VARCHAR" | "BPCHAR" | "NAME", Value::Number(_) | Value::Bool(_)) => {
                args.add(value.to_string())
            }
            ("JSON" | "JSONB", _) => args.add(sqlx::types::Json(value.clone())),
            ("TIMESTAMPTZ", Value::String(s)) => args.add(
                DateTime::parse_from_rfc3339(s.trim())
                    .map_err(|_| wrong("an RFC 3339 time with an offset"))?
                    .with_timezone(&Utc),
            ),
            ("TIMESTAMP", Value::String(s)) => args.add(
                NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f"))
                    .map_err(|_| wrong("a date and time (2026-12-04T12:00:00)"))?,
            ),
            ("DATE", Value::String(s)) => args.add(
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map_err(|_| wrong("a date (2026-12-04)"))?,
            ),
            ("TIME", Value::String(s)) => args.add(
                NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                    .map_err(|_| wrong("a time (12:00:00)"))?,
            ),
            ("UUID", Value::String(s)) => {
                args.add(uuid::Uuid::parse_str(s.trim()).map_err(|_| wrong("a UUID"))?)
            }
            ("BOOL", _) => return Err(wrong("true or false")),
            ("NUMERIC", _) => return Err(wrong("a decimal number")),
            ("TEXT" | "VARCHAR" | "BPCHAR" | "NAME", _) => return Err(wrong("text")),
            ("TIMESTAMPTZ" | "TIMESTAMP" | "DATE" | "TIME" | "UUID", _) => {
                return Err(wrong("text"));
            }
            (other, _) => {
                return Err(format!(
                    "a parameter of type {other} cannot be filled from JSON: cast it in the query \
                     ($n::text::{})",
                    other.to_lowercase()
                ));
            }
        };
        added.map_err(|err| err.to_string())
    }

    /// A whole number, from a JSON number or text holding one.
    fn whole(value: &Value) -> Option<i64> {
        match value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// A number, from a JSON number or text holding one.
    fn number(value: &Value) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
        }
    }

    pub(super) fn read_row(row: &PgRow) -> Result<Map<String, Value>, String> {
        read_columns(row, |row, index, type_name| {
            Ok(Some(match type_name {
                "BOOL" => Value::from(row.try_get::<bool, _>(index)?),
                "INT2" => Value::from(row.try_get::<i16, _>(index)?),
                "INT4" => Value::from(row.try_get::<i32, _>(index)?),
                "INT8" => Value::from(row.try_get::<i64, _>(index)?),
                "OID" => Value::from(row.try_get::<sqlx::postgres::types::Oid, _>(index)?.0),
                "FLOAT4" => float(f64::from(row.try_get::<f32, _>(index)?)),
                "FLOAT8" => float(row.try_get::<f64, _>(index)?),
                "NUMERIC" => decimal(row.try_get::<rust_decimal::Decimal, _>(index)?),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => {
                    Value::from(row.try_get::<String, _>(index)?)
                }
                "JSON" | "JSONB" => row.try_get::<sqlx::types::Json<Value>, _>(index)?.0,
                "UUID" => Value::from(row.try_get::<uuid::Uuid, _>(index)?.to_string()),
                "TIMESTAMPTZ" => utc(row.try_get::<DateTime<Utc>, _>(index)?),
                "TIMESTAMP" => local(row.try_get::<NaiveDateTime, _>(index)?),
                "DATE" => Value::from(row.try_get::<NaiveDate, _>(index)?.to_string()),
                "TIME" => Value::from(row.try_get::<NaiveTime, _>(index)?.to_string()),
                "BYTEA" => Value::from(base64(&row.try_get::<Vec<u8>, _>(index)?)),
                "INT2[]" => Value::from(row.try_get::<Vec<i16>, _>(index)?),
                "INT4[]" => Value::from(row.try_get::<Vec<i32>, _>(index)?),
                "INT8[]" => Value::from(row.try_get::<Vec<i64>, _>(index)?),
                "TEXT[]" | "VARCHAR[]" => Value::from(row.try_get::<Vec<String>, _>(index)?),
                _ => return Ok(None),
            }))
        })
    }
}

fn read_mysql_row(row: &sqlx::mysql::MySqlRow) -> Result<Map<String, Value>, String> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    read_columns(row, |row, index, type_name| {
        Ok(Some(match type_name {
            "BOOLEAN" => Value::from(row.try_get::<bool, _>(index)?),
            "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
                Value::from(row.try_get::<i64, _>(index)?)
            }
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
            | "BIGINT UNSIGNED" | "YEAR" => Value::from(row.try_get::<u64, _>(index)?),
            "FLOAT" => float(f64::from(row.try_get::<f32, _>(index)?)),
            "DOUBLE" => float(row.try_get::<f64, _>(index)?),
            "DECIMAL" => decimal(row.try_get::<rust_decimal::Decimal, _>(index)?),
            "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
            | "SET" => Value::from(row.try_get::<String, _>(index)?),
            "JSON" => row.try_get::<sqlx::types::Json<Value>, _>(index)?.0,
            "TIMESTAMP" => utc(row.try_get::<DateTime<Utc>, _>(index)?),
            "DATETIME" => local(row.try_get::<NaiveDateTime, _>(index)?),
            "DATE" => Value::from(row.try_get::<NaiveDate, _>(index)?.to_string()),
            "TIME" => Value::from(row.try_get::<NaiveTime, _>(index)?.to_string()),
            // Binary strings: text when they hold UTF-8 (MariaDB marks some text
            // columns binary), base64 otherwise.
            "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                match String::from_utf8(row.try_get::<Vec<u8>, _>(index)?) {
                    Ok(text) => Value::from(text),
                    Err(bytes) => Value::from(base64(bytes.as_bytes())),
                }
            }
            _ => return Ok(None),
        }))
    })
}

fn read_sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let raw = row.try_get_raw(index).map_err(|e| e.to_string())?;
        // SQLite types values, not columns: the value's own storage class decides.
        let storage = raw.type_info().name().to_owned();
        let get_err = |e: sqlx::Error| format!("column {name:?}: {e}");
        let value = match storage.as_str() {
            "NULL" => Value::Null,
            "INTEGER" => {
                let whole = row.try_get_unchecked::<i64, _>(index).map_err(get_err)?;
                match column.type_info().name() {
                    "BOOLEAN" => Value::from(whole != 0),
                    _ => Value::from(whole),
                }
            }
            "REAL" => float(row.try_get_unchecked::<f64, _>(index).map_err(get_err)?),
            "TEXT" => Value::from(row.try_get_unchecked::<String, _>(index).map_err(get_err)?),
            "BLOB" => Value::from(base64(
                &row.try_get_unchecked::<Vec<u8>, _>(index)
                    .map_err(get_err)?,
            )),
            other => return Err(unreadable(name, other)),
        };
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}
