//! The server: configuration from flags and environment, then `startup::serve`, or a
//! command (`junction users ...` on the database, `junction integrations ...` against a
//! server's API) instead.

use clap::Parser;
use std::process::ExitCode;

use junction::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match config.command.clone() {
        None => junction::startup::serve(config).await,
        Some(command) if command.is_client() => junction::client::run(&config, &command).await,
        Some(command) => junction::cli::run(&config, &command).await,
    }
}
