//! The server: configuration from flags and environment, then `startup::serve`.

use clap::Parser;
use std::process::ExitCode;

use junction::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    junction::startup::serve(Config::parse()).await
}
