//! The server: telemetry, then configuration, then start-up.

use clap::Parser;
use std::process::ExitCode;

use junction::config::Config;
use junction::startup::{Application, shutdown_signal};
use junction::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(err) = telemetry::init(&config.log_filter) {
        eprintln!("junction: {err}");
        return ExitCode::FAILURE;
    }
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(err) => {
            // One line that says what is wrong, for the person who started it.
            eprintln!("junction: {}", telemetry::error_chain(&err));
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        database = %junction::store::redact(&config.database_url()),
        "Junction is listening on http://{}",
        app.addr()
    );
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("junction: the server stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
