//! Run-time configuration: every setting is a flag and an environment variable, with
//! the defaults a first run needs (an SQLite file under `./data`, 127.0.0.1:3000).

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Junction: a self-hosted integration platform.
#[derive(Clone, Debug, Parser)]
#[command(name = "junction", version, about)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "JUNCTION_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Directory for Junction's own files; created if missing. The default database
    /// lives here.
    #[arg(long, env = "JUNCTION_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: sqlite://FILE or postgres://USER@HOST:PORT/DB.
    /// [default: sqlite://DATA_DIR/junction.db]
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Log filter in tracing's EnvFilter syntax, e.g. "info" or "junction=debug,info".
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// Directory holding the compiled browser bundle (set by cargo-leptos).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// This server's name in the leases it takes on integrations. Servers sharing one
    /// PostgreSQL need different names. [default: kept in DATA_DIR/replica-id]
    #[arg(long, env = "JUNCTION_REPLICA_ID")]
    pub replica_id: Option<String>,

    /// How often the reconciler looks for due retries and dead integrations, in ms.
    #[arg(long, env = "JUNCTION_RECONCILE_TICK_MS", default_value_t = 1000)]
    pub reconcile_tick_ms: u64,

    /// How long a reconciler's lease on an integration lasts unless renewed, in seconds.
    #[arg(long, env = "JUNCTION_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,

    /// First retry delay after a failed deployment, in ms.
    #[arg(long, env = "JUNCTION_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,

    /// Each further retry waits this many times longer.
    #[arg(long, env = "JUNCTION_RETRY_FACTOR", default_value_t = 2.0)]
    pub retry_factor: f64,

    /// The longest wait between retries, in seconds.
    #[arg(long, env = "JUNCTION_RETRY_CAP_SECONDS", default_value_t = 300)]
    pub retry_cap_seconds: u64,

    /// Random spread of each retry delay, as a fraction (0.2 = ±20 %).
    #[arg(long, env = "JUNCTION_RETRY_JITTER", default_value_t = 0.2)]
    pub retry_jitter: f64,

    /// Failed attempts after which the reconciler gives up until a user acts.
    #[arg(long, env = "JUNCTION_RETRY_MAX_ATTEMPTS", default_value_t = 10)]
    pub retry_max_attempts: u32,

    /// Largest webhook body accepted, in bytes (larger ones get 413); a broker's
    /// message larger than this fails without running.
    #[arg(long, env = "JUNCTION_WEBHOOK_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub webhook_body_limit: usize,

    /// How many recent messages of activity are kept per integration.
    #[arg(long, env = "JUNCTION_ACTIVITY_KEEP", default_value_t = 1000)]
    pub activity_keep: u32,

    /// Run without the reconciler: nothing is deployed or stopped (for tests that
    /// drive it themselves, or a read-only server).
    #[arg(long, env = "JUNCTION_NO_RECONCILER")]
    pub no_reconciler: bool,

    /// The address people reach Junction at, e.g. https://junction.example.com. Only
    /// its host name (and loopback names when listening on loopback) is answered for,
    /// so that another site's name pointed at this server gets nothing.
    #[arg(long, env = "JUNCTION_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The first administrator's name, created at start while no user exists (for
    /// scripts, CI and containers). Goes with --admin-password.
    #[arg(long, env = "JUNCTION_ADMIN_USER")]
    pub admin_user: Option<String>,

    /// The first administrator's password. Goes with --admin-user.
    #[arg(long, env = "JUNCTION_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Hosts, addresses or networks (CIDR) flows may reach although the egress policy
    /// refuses them by default (loopback, private, link-local, ...), comma-separated.
    #[arg(long, env = "JUNCTION_EGRESS_ALLOW", value_delimiter = ',')]
    pub egress_allow: Vec<String>,

    /// Hosts, addresses or networks (CIDR) flows may never reach, comma-separated; a
    /// deny wins over an allow.
    #[arg(long, env = "JUNCTION_EGRESS_DENY", value_delimiter = ',')]
    pub egress_deny: Vec<String>,

    /// The most of an answer an http step reads, in bytes (larger ones fail the step).
    #[arg(long, env = "JUNCTION_HTTP_ANSWER_LIMIT", default_value_t = 10 * 1024 * 1024)]
    pub http_answer_limit: usize,

    /// The most one step of a flow may render, in bytes (a log message, a condition,
    /// all the leaves of a transform); past it the step fails.
    #[arg(long, env = "JUNCTION_RENDER_OUTPUT_LIMIT", default_value_t = crate::runtime::flow::DEFAULT_RENDER_OUTPUT)]
    pub render_output_limit: usize,

    /// The most time, in milliseconds, rendering the templates of one message may take;
    /// past it the step rendering fails.
    #[arg(long, env = "JUNCTION_RENDER_DEADLINE_MS", default_value_t = 1000)]
    pub render_deadline_ms: u64,

    /// The most time, in seconds, a request may take (webhooks, bounded by their
    /// steps' timeouts, and event streams excepted); past it the answer is 503.
    #[arg(long, env = "JUNCTION_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,

    /// The most requests answered at once; more are answered 503 at once.
    #[arg(long, env = "JUNCTION_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    pub max_concurrent_requests: usize,

    /// The most event streams (`/api/v1/events`, live pages) open at once.
    #[arg(long, env = "JUNCTION_MAX_EVENT_STREAMS", default_value_t = 256)]
    pub max_event_streams: usize,

    /// How long, in seconds, a stopping server lets requests in flight finish (event
    /// streams end at once) and writes the activity still queued, before it exits.
    #[arg(long, env = "JUNCTION_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,

    /// A browser session ends after this many minutes without a request.
    #[arg(long, env = "JUNCTION_SESSION_IDLE_MINUTES", default_value_t = 480)]
    pub session_idle_minutes: u64,

    /// A browser session ends this many hours after signing in, however busy.
    #[arg(long, env = "JUNCTION_SESSION_MAX_HOURS", default_value_t = 168)]
    pub session_max_hours: u64,

    /// The key connection secrets are encrypted under: 64 hexadecimal digits. Servers
    /// sharing a database need the same key; prefer the variable to the flag (a flag is
    /// visible to every user of the machine). [default: generated into
    /// DATA_DIR/secret.key at first start]
    #[arg(long, env = "JUNCTION_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// The most connections one SQL connection's pool opens (per server).
    #[arg(long, env = "JUNCTION_CONNECTION_POOL_SIZE", default_value_t = 5)]
    pub connection_pool_size: u32,

    /// A command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// For the client commands (`login`, `integrations ...`): the Junction server to
    /// talk to [default: the one `login` signed in to].
    #[arg(long, global = true, env = "JUNCTION_SERVER")]
    pub server: Option<String>,

    /// For the client commands: answer JSON (the API's answers) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// For the client commands: where `login` keeps the server and token [default:
    /// $XDG_CONFIG_HOME/junction/client.json, or ~/.config/junction/client.json].
    /// The token may come from JUNCTION_TOKEN instead.
    #[arg(long, global = true, env = "JUNCTION_CLIENT_CONFIG")]
    pub client_config: Option<PathBuf>,
}

/// What `junction` does instead of serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Manage users, on the configured database.
    Users {
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// Manage the key connection secrets are encrypted under.
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
    /// Client: sign in to a server (`--server URL`) with a name and password (read
    /// from standard input), and keep an API token for the other client commands.
    Login {
        /// The user name [default: asked on standard input].
        #[arg(long)]
        name: Option<String>,
    },
    /// Client: integrations on a server, through its API.
    Integrations {
        #[command(subcommand)]
        action: IntegrationsCommand,
    },
}

impl Command {
    /// Whether it talks to a server's API rather than to the database.
    pub fn is_client(&self) -> bool {
        match self {
            Command::Login { .. } | Command::Integrations { .. } => true,
            Command::Users { .. } | Command::Secrets { .. } => false,
        }
    }
}

/// What the client does with integrations. `INTEGRATION` is an id or a name.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum IntegrationsCommand {
    /// Lists integrations, newest first.
    List {
        /// Only this current state (draft, active, inactive, error, deleted).
        #[arg(long)]
        state: Option<String>,
        /// Only names containing this.
        #[arg(long)]
        search: Option<String>,
    },
    /// Shows one integration.
    Show { integration: String },
    /// Creates an integration (in Draft), with the flow in FILE if given.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A JSON file with the flow's definition.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Publishes the draft (or the active version again) and runs it.
    Publish {
        integration: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Stops it.
    Stop { integration: String },
    /// Starts it again with the same version.
    Start { integration: String },
    /// Makes version N the active one, and runs it.
    Activate {
        integration: String,
        version: String,
    },
    /// Lists its versions, newest first.
    History { integration: String },
    /// Shows what changed between two versions.
    Diff {
        integration: String,
        from: String,
        to: String,
    },
    /// Writes an export (one integration, or all without INTEGRATION) to standard
    /// output or a file.
    Export {
        integration: Option<String>,
        /// Include the transition log.
        #[arg(long)]
        transitions: bool,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Imports an export file. Nothing starts unless --activate asks.
    Import {
        file: PathBuf,
        /// A connection named differently here: NAME_THERE=NAME_HERE (repeatable).
        #[arg(long = "map", value_name = "THERE=HERE")]
        map: Vec<String>,
        /// Append to this integration (an id) instead of the document's.
        #[arg(long)]
        into: Option<String>,
        /// The name, if it is new here.
        #[arg(long)]
        name: Option<String>,
        /// Then make this version the active one.
        #[arg(long)]
        activate: Option<String>,
    },
    /// Sends version N to another Junction (a `junction` connection on the server).
    Promote {
        integration: String,
        version: String,
        /// The `junction` connection.
        #[arg(long)]
        to: String,
        /// The remote then runs it.
        #[arg(long)]
        activate: bool,
        /// A connection named differently there: NAME_HERE=NAME_THERE (repeatable).
        #[arg(long = "map", value_name = "HERE=THERE")]
        map: Vec<String>,
    },
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypts every secret under a new key. With the key in DATA_DIR/secret.key,
    /// a new one is generated into that file; with JUNCTION_SECRET_KEY, the new key is
    /// read from standard input (one line), and the servers need it in that variable
    /// from then on.
    Rotate,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Adds a user; the password is read from standard input (one line).
    Add {
        name: String,
        /// viewer, editor or admin.
        #[arg(long)]
        role: String,
        /// The name shown in the header [default: the user name].
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// Sets a user's password, read from standard input (one line). Their sessions
    /// end.
    SetPassword { name: String },
}

impl Config {
    /// The database to use: the one named, or an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => format!("sqlite://{}", self.data_dir.join("junction.db").display()),
        }
    }

    /// A configuration for tests and tools: a free port, the given database, and the
    /// defaults for everything else.
    pub fn for_database(database_url: impl Into<String>, data_dir: PathBuf) -> Self {
        let mut config = Self::parse_from(["junction"]);
        config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.data_dir = data_dir;
        config.database_url = Some(database_url.into());
        config.command = None;
        config
    }

    /// The host (and port) of `--public-url`, if one is set.
    pub fn public_host(&self) -> Option<&str> {
        let url = self.public_url.as_deref()?.trim();
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.split(['/', '?', '#'])
            .next()
            .filter(|host| !host.is_empty())
    }

    /// Whether the public URL is https (the session cookie is then `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// How long browser sessions last.
    pub fn session_policy(&self) -> crate::service::SessionPolicy {
        use std::time::Duration;
        crate::service::SessionPolicy {
            idle: Duration::from_secs(self.session_idle_minutes.max(1) * 60),
            max_age: Duration::from_secs(self.session_max_hours.max(1) * 3600),
        }
    }

    /// The reconciler's settings.
    pub fn reconciler(&self, owner: String) -> crate::reconciler::ReconcilerConfig {
        use std::time::Duration;
        crate::reconciler::ReconcilerConfig {
            owner,
            tick: Duration::from_millis(self.reconcile_tick_ms.max(10)),
            lease: Duration::from_secs(self.lease_seconds.max(1)),
            retry: crate::reconciler::retry::RetryPolicy {
                base: Duration::from_millis(self.retry_base_ms),
                factor: self.retry_factor,
                cap: Duration::from_secs(self.retry_cap_seconds),
                jitter: self.retry_jitter,
                max_attempts: self.retry_max_attempts.max(1),
            },
            ..crate::reconciler::ReconcilerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_database_is_an_sqlite_file_in_the_data_directory() {
        let config = Config::parse_from(["junction", "--data-dir", "/var/lib/junction"]);
        assert_eq!(
            config.database_url(),
            "sqlite:///var/lib/junction/junction.db"
        );
    }

    #[test]
    fn a_named_database_wins_over_the_default() {
        let config = Config::parse_from(["junction", "--database-url", "postgres://h/db"]);
        assert_eq!(config.database_url(), "postgres://h/db");
    }

    #[test]
    fn users_are_managed_by_subcommands_of_the_one_binary() {
        let config = Config::parse_from(["junction", "users", "add", "alice", "--role", "editor"]);
        assert!(matches!(
            config.command,
            Some(Command::Users { action: UsersCommand::Add { ref name, ref role, .. } })
                if name == "alice" && role == "editor"
        ));
    }

    #[test]
    fn a_malformed_address_is_refused_by_name() {
        let err = Config::try_parse_from(["junction", "--addr", "localhost"]).unwrap_err();
        assert!(err.to_string().contains("--addr"), "{err}");
    }
}
