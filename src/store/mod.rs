//! The database: one pool for the process, the dialect it speaks, migrations, and one
//! module per resource. SQLite and PostgreSQL are reached through sqlx's `Any` driver
//! so that every query is written once; the schema (and the invariants it enforces)
//! is written per dialect under `migrations/`.

pub mod activity;
pub mod audit;
pub mod connections;
pub mod integrations;
pub mod reconcile;
pub mod routes;
mod rows;
pub mod sessions;
pub mod tokens;
pub mod transfer;
pub mod transitions;
pub mod users;
pub mod versions;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::sync::Arc;
use std::time::Duration;

/// Which database the store talks to. Chosen at run time from the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Reads the dialect from a database URL, refusing anything else by name.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }
}

/// What can go wrong in the store, in terms the callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got {0})")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("an integration named {0:?} already exists")]
    NameTaken(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("a user named {0:?} already exists")]
    UserTaken(String),
    #[error("a token named {0:?} already exists")]
    TokenNameTaken(String),
    #[error("a connection named {0:?} already exists")]
    ConnectionTaken(String),
    /// The secret key is missing, or not the one the secrets were sealed with.
    #[error("{0}")]
    SecretKey(String),
    #[error(transparent)]
    InvalidTransition(#[from] crate::domain::lifecycle::InvalidTransition),
    #[error("the integration is at revision {current}, not {expected}")]
    RevisionMismatch { expected: i64, current: i64 },
    /// The definition sent back secrets as masks that match no stored secret.
    #[error("masked secrets with nothing stored behind them: {0:?}")]
    MaskedSecrets(Vec<crate::error::FieldError>),
    /// An import that would break the history here; nothing was written.
    #[error("the import was refused: {0:?}")]
    ImportRefused(Vec<crate::error::FieldError>),
    #[error("a stored row is not what this version of Junction expects: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The process's one connection pool and the dialect behind it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Which integration just changed, for live pages and event streams.
    changes: tokio::sync::broadcast::Sender<crate::domain::IntegrationId>,
    /// SQLite only: writers queue here, in order, for the database's one write lock.
    /// Without it a second writer gets SQLITE_BUSY and SQLite's busy handler sleeps
    /// (1, 2, 5, 10 ms, ...) before retrying: publishing 10,000 integrations while
    /// the reconciler wrote took 25 s instead of a few.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Keys the fingerprint of secrets in content hashes (shared by every server on
    /// this database).
    hash_key: Arc<Vec<u8>>,
    /// Seals and opens connection secrets; set at start once checked against the
    /// database (`Store::unlock`).
    secret_key: Option<Arc<crate::secret_key::SecretKey>>,
}

/// A transaction that writes; on SQLite it holds the write gate until it ends.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// How often SQLite's write-ahead log is copied into the database beside the writers:
/// often enough that the log stays a few megabytes in a storm of writes.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// How long start-up waits for the database before saying it cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Connects, creating an SQLite file if needed, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let options = AnyPoolOptions::new()
            .max_connections(match dialect {
                // SQLite has one writer at a time; a few readers beside it are plenty.
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(CONNECT_TIMEOUT);
        let options = match dialect {
            // sqlx pings every connection it hands out: a round trip to the
            // connection's thread that a file cannot fail, and on SQLite each statement
            // costs more in those hand-offs than in the work itself.
            Dialect::Sqlite => options
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers run beside the writer; the busy timeout makes a
                        // second writer wait its turn instead of failing at once. The
                        // checkpoints run beside the writers (`checkpoint_in_background`);
                        // the automatic one, which a commit would run while holding the
                        // write gate, is only a bound should that fall behind. Each
                        // connection's page cache is 512 KB, not SQLite's 2 MB: a
                        // connection drops its whole cache whenever another one wrote
                        // (WAL), which on a server that writes all the time is nearly
                        // every read, while eight full caches were a third of the
                        // memory a server with 10,000 running flows held.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                         PRAGMA wal_autocheckpoint = 8192; PRAGMA cache_size = -512;",
                        )
                        .await?;
                        Ok(())
                    })
                }),
            Dialect::Postgres => options,
        };
        let url_to_open = with_sqlite_create_mode(url, dialect);
        // One direct connection first: when the database cannot be reached, the pool
        // only says it timed out, while this says why (refused, unknown host, auth).
        let connect_error = |source| StoreError::Connect {
            url: redact(url),
            source,
        };
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&url_to_open))
            .await
            .map_err(|_| connect_error(sqlx::Error::PoolTimedOut))?
            .map_err(connect_error)?;
        probe.close().await.map_err(connect_error)?;
        let pool = options.connect(&url_to_open).await.map_err(connect_error)?;
        let (changes, _) = tokio::sync::broadcast::channel(4096);
        let store = Self {
            pool,
            dialect,
            changes,
            write_gate: (dialect == Dialect::Sqlite).then(Default::default),
            hash_key: Arc::default(),
            secret_key: None,
        };
        store.migrate().await?;
        store.checkpoint_in_background();
        let hash_key = store.server_key("content-hash").await?;
        Ok(Self {
            hash_key: Arc::new(hash_key),
            ..store
        })
    }

    /// The key named `name`, made (32 random bytes) by whichever server asks first.
    async fn server_key(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fresh: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&fresh)
        .execute(&self.pool)
        .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        (0..stored.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(stored.get(at..at + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| StoreError::Corrupt(format!("the server key {name} is not hex")))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Dialect::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool, for tests that attack the schema with raw SQL.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up
    /// front (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails with "database is locked" when another writer got there in between,
    /// instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let gate = self.write_gate().await;
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _gate: gate })
    }

    /// Waits for this process's turn to write (SQLite); every statement that writes
    /// outside `begin_write` holds this while it runs.
    pub(crate) async fn write_gate(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    /// SQLite only: copies the write-ahead log into the database file every
    /// `CHECKPOINT_EVERY`, on a connection of the pool, while writers go on. SQLite's
    /// automatic checkpoint runs inside the commit that fills the log past its mark,
    /// two `fsync`s of 1 to 15 ms on these machines, and that commit holds the write
    /// gate meanwhile: every few hundred writes, whoever wrote next (a publish, the
    /// reconciler bringing it live) waited for it. A passive checkpoint waits for no
    /// reader or writer. The task ends with the last clone of the store.
    fn checkpoint_in_background(&self) {
        let Some(gate) = &self.write_gate else {
            return;
        };
        let alive = Arc::downgrade(gate);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if alive.strong_count() == 0 || pool.is_closed() {
                    break;
                }
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    // The automatic checkpoint still bounds the log: worth a warning,
                    // not more.
                    if !pool.is_closed() {
                        tracing::warn!(error = %err, "cannot checkpoint the write-ahead log");
                    }
                }
            }
        });
    }

    /// A feed of the integrations that change (committed writes of this process). A
    /// receiver that falls behind is told so (`Lagged`) and should re-read everything.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<crate::domain::IntegrationId> {
        self.changes.subscribe()
    }

    /// Announces a committed change.
    pub(crate) fn changed(&self, id: crate::domain::IntegrationId) {
        // No subscriber is fine: nobody is watching.
        let _ = self.changes.send(id);
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite URLs create their file unless told otherwise: a fresh data directory
/// should just work.
fn with_sqlite_create_mode(url: &str, dialect: Dialect) -> String {
    if dialect == Dialect::Sqlite && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    }
}

/// A URL fit for logs and error messages: any password is replaced.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// `$from, $from+1, ...`: `n` numbered parameters for an `IN (...)` list. Queries built
/// with it differ with every length: they are run with `persistent(false)`, or each
/// length would stay prepared in every connection's statement cache.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` parameters numbered from `from` as [`placeholders`], but anonymous (`?`) on
/// SQLite: only for statements whose every parameter comes from this, bound in order.
/// SQLite finds a numbered parameter's name by walking the list of names, once per
/// parameter at every execution: a batch of 800 spent more in that walk than in the
/// INSERT itself.
pub(crate) fn in_order(dialect: Dialect, from: usize, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => vec!["?"; n].join(", "),
        Dialect::Postgres => placeholders(from, n),
    }
}

/// Now, as stored: milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A stored time back as a date, refusing values no clock produces.
pub(crate) fn time_from_ms(ms: i64) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("time {ms} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialect_follows_the_url_scheme() {
        assert_eq!(
            Dialect::of_url("sqlite://data/j.db").unwrap(),
            Dialect::Sqlite
        );
        assert_eq!(
            Dialect::of_url("postgres://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::of_url("postgresql://u@h/db").unwrap(),
            Dialect::Postgres
        );
    }

    #[test]
    fn an_unsupported_url_is_named_without_its_password() {
        let err = Dialect::of_url("mysql://root:hunter2@db/x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "DATABASE_URL must start with sqlite:// or postgres:// (got mysql://root:***@db/x)"
        );
    }

    #[test]
    fn sqlite_urls_create_their_file_unless_told_otherwise() {
        assert_eq!(
            with_sqlite_create_mode("sqlite://a.db", Dialect::Sqlite),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            with_sqlite_create_mode("sqlite://a.db?mode=ro", Dialect::Sqlite),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(
            with_sqlite_create_mode("postgres://h/db", Dialect::Postgres),
            "postgres://h/db"
        );
    }
}
