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
}

impl Config {
    /// The database to use: the one named, or an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("junction.db").display()),
        }
    }

    /// A configuration for tests and tools: a free port, the given database.
    pub fn for_database(database_url: impl Into<String>, data_dir: PathBuf) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url: Some(database_url.into()),
            log_filter: "info".into(),
            site_root: PathBuf::from("target/site"),
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
    fn a_malformed_address_is_refused_by_name() {
        let err = Config::try_parse_from(["junction", "--addr", "localhost"]).unwrap_err();
        assert!(err.to_string().contains("--addr"), "{err}");
    }
}
