//! `junction users ...`: commands run on the configured database instead of serving,
//! adapters over the same application layer as the web UI and the API. Passwords come
//! from standard input, never from the command line (where `ps` and shell history
//! would keep them).

use std::io::BufRead;
use std::process::ExitCode;

use crate::config::{Command, Config, SecretsCommand, UsersCommand};
use crate::error::AppError;
use crate::reconciler::Waker;
use crate::service::{Principal, Service, UserRequest};
use crate::store::Store;

/// Runs a command and says what happened in one line (or one per problem).
pub async fn run(config: &Config, command: &Command) -> ExitCode {
    match execute(config, command).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("junction: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(config: &Config, command: &Command) -> Result<String, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|err| format!("cannot create {}: {err}", config.data_dir.display()))?;
    let store = Store::connect(&config.database_url())
        .await
        .map_err(|err| crate::telemetry::error_chain(&err))?;
    // No reconciler runs here: nothing is woken.
    let service = Service::new(store.clone(), Waker::default(), config.session_policy());
    let operator = Principal::operator();
    let done = match command {
        Command::Users { action } => match action {
            UsersCommand::Add {
                name,
                role,
                display_name,
            } => {
                let password = read_password()?;
                let request = UserRequest {
                    name,
                    display_name,
                    password: &password,
                    role,
                };
                service
                    .add_user(&operator, &request)
                    .await
                    .map(|user| format!("added {} ({})", user.name, user.role))
            }
            UsersCommand::SetPassword { name } => {
                let password = read_password()?;
                service
                    .set_password(&operator, name, &password)
                    .await
                    .map(|()| format!("set the password of {name}"))
            }
        },
        // main.rs sends these to `client`: they need a server, not the database.
        Command::Login { .. } | Command::Integrations { .. } => {
            store.close().await;
            return Err("this command talks to a server: see junction --help".into());
        }
        Command::Secrets { action } => match action {
            SecretsCommand::Rotate => {
                let rotated = rotate(&store, config).await;
                store.close().await;
                return rotated;
            }
        },
    };
    store.close().await;
    done.map_err(|err| describe(&err))
}

/// Re-encrypts every connection secret under a new key, and puts the new key where
/// the old one came from: the key file (written beside it first, moved over it once
/// the database holds the new ciphertexts), or, for a key from the environment, from
/// standard input, which the operator then sets in JUNCTION_SECRET_KEY.
async fn rotate(store: &Store, config: &Config) -> Result<String, String> {
    use crate::secret_key::{KeySource, SecretKey, new_key_bytes, write_key_file};
    let (store, source) = crate::startup::unlock_secrets(store.clone(), config).await?;
    match source {
        KeySource::Environment => {
            let text = read_password()?;
            let new = SecretKey::parse(&text).map_err(|why| format!("the new key: {why}"))?;
            let count = store
                .rotate_secret_key(&new)
                .await
                .map_err(|err| crate::telemetry::error_chain(&err))?;
            Ok(format!(
                "re-encrypted the secrets of {count} connection(s): set JUNCTION_SECRET_KEY to \
                 the new key before starting the servers again"
            ))
        }
        KeySource::File { path, .. } => {
            let bytes = new_key_bytes();
            let next = path.with_extension("key.next");
            write_key_file(&next, &bytes)?;
            let count = store
                .rotate_secret_key(&SecretKey::from(&bytes))
                .await
                .map_err(|err| crate::telemetry::error_chain(&err))?;
            std::fs::rename(&next, &path).map_err(|err| {
                format!(
                    "the secrets are encrypted under the key in {}, which could not replace {}: \
                     {err}; move it there by hand",
                    next.display(),
                    path.display()
                )
            })?;
            Ok(format!(
                "re-encrypted the secrets of {count} connection(s) under a new key, now in {}: \
                 restart the servers that share this database",
                path.display()
            ))
        }
    }
}

/// The password a command needs: typed at the terminal without echo (with a prompt),
/// or, when standard input is not a terminal (a script, a pipe), its first line.
fn read_password() -> Result<String, String> {
    read_secret("Password: ")
        .map_err(|err| format!("cannot read the password from standard input: {err}"))
}

/// A secret from the person at the terminal, not shown as it is typed, after `prompt`
/// on the terminal; from a script or a pipe, the first line of standard input, without
/// its line ending (and without a prompt, which would only clutter its output).
pub(crate) fn read_secret(prompt: &str) -> std::io::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt);
    }
    read_line()
}

/// The next line of standard input, without its line ending.
pub(crate) fn read_line() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn describe(err: &AppError) -> String {
    match err {
        AppError::ValidationFailed { fields } => fields
            .iter()
            .map(|field| format!("{}: {}", field.path, field.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
