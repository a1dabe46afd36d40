//! `junction login` and `junction integrations ...`: a command-line client of a
//! server's JSON API (the same binary, no database). Tables for people, `--json` for
//! scripts, and exit codes scripts can act on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the server refused (the message says why: not allowed now, not found, invalid) |
//! | 2 | the command itself is wrong (usage, a file that cannot be read, no server) |
//! | 3 | not signed in: no token, or one the server does not accept |
//! | 4 | the server could not be reached, or failed |

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{Command, Config, IntegrationsCommand};

/// Why a command did not do what it was asked, with the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    fn unreachable(message: impl Into<String>) -> Self {
        Self {
            code: 4,
            message: message.into(),
        }
    }

    /// A refusal in the API's error shape: 401 is "sign in", 5xx the server's fault,
    /// the rest the request's.
    fn answered(status: u16, body: &Value) -> Self {
        let mut message = body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the server answered {status}"), str::to_owned);
        if let Some(fields) = body["error"]["details"]["fields"].as_array()
            && fields.len() > 1
        {
            message = fields
                .iter()
                .map(|field| {
                    format!(
                        "  {}: {}",
                        field["path"].as_str().unwrap_or_default(),
                        field["message"].as_str().unwrap_or_default()
                    )
                })
                .fold("refused:".to_owned(), |all, line| format!("{all}\n{line}"));
        }
        let code = match status {
            401 => 3,
            500.. => 4,
            _ => 1,
        };
        Self { code, message }
    }
}

/// Runs a client command: what it answers on standard output, problems on standard
/// error.
pub async fn run(config: &Config, command: &Command) -> ExitCode {
    match execute(config, command).await {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("junction: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn execute(config: &Config, command: &Command) -> Result<String, Failure> {
    let saved_path = config_path(config)?;
    let saved = read_saved(&saved_path);
    let server = config
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|saved| saved.server.clone()))
        .map(|server| server.trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            Failure::usage(
                "which server? Pass --server URL (or sign in once: junction --server URL login)",
            )
        })?;
    match command {
        Command::Login { name } => login(&server, name.as_deref(), &saved_path).await,
        Command::Integrations { action } => {
            let token = std::env::var("JUNCTION_TOKEN")
                .ok()
                .filter(|token| !token.trim().is_empty())
                .or_else(|| {
                    saved
                        .filter(|saved| saved.server == server)
                        .map(|saved| saved.token)
                })
                .ok_or_else(|| Failure {
                    code: 3,
                    message: format!(
                        "not signed in to {server}: run `junction --server {server} login`, or set JUNCTION_TOKEN"
                    ),
                })?;
            let api = Api {
                client: reqwest::Client::new(),
                server,
                token,
            };
            integrations(&api, action, config.json).await
        }
        Command::Users { .. } | Command::Secrets { .. } => Err(Failure::usage(
            "this command runs on the database, not against a server",
        )),
    }
}

/// What `login` keeps: the server and a token there.
#[derive(Serialize, Deserialize)]
struct Saved {
    server: String,
    token: String,
}

fn config_path(config: &Config) -> Result<PathBuf, Failure> {
    if let Some(path) = &config.client_config {
        return Ok(path.clone());
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .ok_or_else(|| Failure::usage("no HOME: pass --client-config FILE"))?;
    Ok(base.join("junction").join("client.json"))
}

fn read_saved(path: &Path) -> Option<Saved> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

async fn login(server: &str, name: Option<&str>, path: &Path) -> Result<String, Failure> {
    let unreadable =
        |err: std::io::Error| Failure::usage(format!("cannot read standard input: {err}"));
    let name = match name {
        Some(name) => name.to_owned(),
        None => {
            eprint!("Name: ");
            let _ = std::io::stderr().flush();
            crate::cli::read_line().map_err(unreadable)?
        }
    };
    // Not echoed at a terminal; from a script, the next line of standard input.
    let password = crate::cli::read_secret("Password: ").map_err(unreadable)?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "a terminal".to_owned());
    let token_name = format!(
        "junction cli on {host} {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
    );
    let response = reqwest::Client::new()
        .post(format!("{server}/api/v1/tokens"))
        .basic_auth(&name, Some(&password))
        .json(&json!({ "name": token_name.chars().take(100).collect::<String>(), "expires_in_days": 90 }))
        .send()
        .await
        .map_err(|err| Failure::unreachable(format!("cannot reach {server}: {}", crate::telemetry::error_chain(&err))))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 201 {
        return Err(Failure::answered(status, &body));
    }
    let token = body["token"]
        .as_str()
        .ok_or_else(|| Failure::unreachable("the server answered no token"))?;
    write_saved(
        path,
        &Saved {
            server: server.to_owned(),
            token: token.to_owned(),
        },
    )?;
    Ok(format!(
        "signed in to {server} as {name}; the token (valid 90 days) is kept in {}",
        path.display()
    ))
}

/// Writes the token where only its owner can read it.
fn write_saved(path: &Path, saved: &Saved) -> Result<(), Failure> {
    let cannot =
        |err: std::io::Error| Failure::usage(format!("cannot write {}: {err}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(cannot)?;
    }
    let text = serde_json::to_string_pretty(&json!(saved)).unwrap_or_default();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)
}

/// A server's API with a token.
struct Api {
    client: reqwest::Client,
    server: String,
    token: String,
}

impl Api {
    /// Calls the API: the JSON answer of a 2xx, or the failure it says.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}/api/v1{path}", self.server);
        let mut request = self.client.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|err| {
            Failure::unreachable(format!(
                "cannot reach {}: {}",
                self.server,
                crate::telemetry::error_chain(&err.without_url())
            ))
        })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|err| Failure::unreachable(format!("reading the answer: {err}")))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(body),
            _ => Err(Failure::answered(status, &body)),
        }
    }

    /// The id of an integration named by id or by name (whatever the case).
    async fn id_of(&self, integration: &str) -> Result<String, Failure> {
        if crate::domain::IntegrationId::parse(integration).is_ok() {
            return Ok(integration.trim().to_owned());
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", integration)
            .append_pair("per_page", "200")
            .finish();
        let page = self
            .call(Method::GET, &format!("/integrations?{query}"), None)
            .await?;
        let wanted = integration.trim().to_lowercase();
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|item| {
                item["name"]
                    .as_str()
                    .is_some_and(|name| name.to_lowercase() == wanted)
            })
            .and_then(|item| item["id"].as_str().map(str::to_owned))
            .ok_or_else(|| Failure {
                code: 1,
                message: format!("no integration is named {integration:?}"),
            })
    }
}

async fn integrations(
    api: &Api,
    action: &IntegrationsCommand,
    as_json: bool,
) -> Result<String, Failure> {
    let show = |value: &Value, human: String| match as_json {
        true => serde_json::to_string_pretty(value).unwrap_or_default(),
        false => human,
    };
    match action {
        IntegrationsCommand::List {
            state: wanted,
            search,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("per_page", "200");
            if let Some(wanted) = wanted {
                query.append_pair("state", wanted);
            }
            if let Some(search) = search {
                query.append_pair("q", search);
            }
            let page = api
                .call(
                    Method::GET,
                    &format!("/integrations?{}", query.finish()),
                    None,
                )
                .await?;
            let rows = page["items"].as_array().cloned().unwrap_or_default();
            let table = table(
                &["ID", "NAME", "STATE", "ACTIVE", "RUNNING", "DRAFT"],
                rows.iter().map(|i| {
                    vec![
                        text(&i["id"]),
                        text(&i["name"]),
                        state(i),
                        version(&i["active_version"]),
                        version(&i["current_version"]),
                        version(&i["draft_version"]),
                    ]
                }),
            );
            Ok(show(&page, table))
        }
        IntegrationsCommand::Show { integration } => {
            let id = api.id_of(integration).await?;
            let found = api
                .call(Method::GET, &format!("/integrations/{id}"), None)
                .await?;
            Ok(show(&found, describe(&found)))
        }
        IntegrationsCommand::Create {
            name,
            description,
            file,
        } => {
            let mut body =
                json!({ "name": name, "description": description.clone().unwrap_or_default() });
            if let Some(file) = file {
                body["definition"] = read_json(file)?;
            }
            let created = api.call(Method::POST, "/integrations", Some(body)).await?;
            Ok(show(
                &created,
                format!(
                    "created {} ({}), draft v1",
                    text(&created["name"]),
                    text(&created["id"])
                ),
            ))
        }
        IntegrationsCommand::Publish { integration, note } => {
            let id = api.id_of(integration).await?;
            let body = note.as_ref().map(|note| json!({ "note": note }));
            let answer = api
                .call(Method::POST, &format!("/integrations/{id}/publish"), body)
                .await?;
            Ok(show(
                &answer,
                format!(
                    "published {}: {}",
                    version(&answer["active_version"]),
                    describe_state(&answer)
                ),
            ))
        }
        IntegrationsCommand::Stop { integration } => {
            act(api, integration, "stop", "stopping", as_json).await
        }
        IntegrationsCommand::Start { integration } => {
            act(api, integration, "start", "starting", as_json).await
        }
        IntegrationsCommand::Activate {
            integration,
            version: number,
        } => {
            let id = api.id_of(integration).await?;
            let number = version_number(number)?;
            let answer = api
                .call(
                    Method::POST,
                    &format!("/integrations/{id}/versions/{number}/activate"),
                    None,
                )
                .await?;
            Ok(show(
                &answer,
                format!("activated v{number}: {}", describe_state(&answer)),
            ))
        }
        IntegrationsCommand::History { integration } => {
            let id = api.id_of(integration).await?;
            let page = api
                .call(
                    Method::GET,
                    &format!("/integrations/{id}/versions?per_page=200"),
                    None,
                )
                .await?;
            let rows = page["items"].as_array().cloned().unwrap_or_default();
            let table = table(
                &["VERSION", "PUBLISHED", "BY", "NOTE", "HASH"],
                rows.iter().map(|v| {
                    let draft = v["draft"] == true;
                    vec![
                        version(&v["number"]),
                        match draft {
                            true => "draft".to_owned(),
                            false => text(&v["published_at"]),
                        },
                        text(&v["published_by"]),
                        text(&v["note"]),
                        text(&v["content_hash"]).chars().take(12).collect(),
                    ]
                }),
            );
            Ok(show(&page, table))
        }
        IntegrationsCommand::Diff {
            integration,
            from,
            to,
        } => {
            let id = api.id_of(integration).await?;
            let (a, b) = (version_number(from)?, version_number(to)?);
            let diff = api
                .call(
                    Method::GET,
                    &format!("/integrations/{id}/versions/{a}/diff/{b}"),
                    None,
                )
                .await?;
            let human = match diff["identical"] == true {
                true => format!("v{a} and v{b} are identical"),
                false => text(&diff["unified"]),
            };
            Ok(show(&diff, human))
        }
        IntegrationsCommand::Export {
            integration,
            transitions,
            output,
        } => {
            let query = if *transitions {
                "?transitions=true"
            } else {
                ""
            };
            let path = match integration {
                Some(integration) => format!(
                    "/integrations/{}/export{query}",
                    api.id_of(integration).await?
                ),
                None => format!("/export{query}"),
            };
            let document = api.call(Method::GET, &path, None).await?;
            let text = serde_json::to_string_pretty(&document).unwrap_or_default();
            match output {
                Some(file) => {
                    std::fs::write(file, text + "\n").map_err(|err| {
                        Failure::usage(format!("cannot write {}: {err}", file.display()))
                    })?;
                    let count = document["integrations"].as_array().map_or(0, Vec::len);
                    Ok(format!(
                        "exported {count} integration(s) to {}",
                        file.display()
                    ))
                }
                None => Ok(text),
            }
        }
        IntegrationsCommand::Import {
            file,
            map,
            into,
            name,
            activate,
        } => {
            let mut body = json!({ "document": read_json(file)?, "connections": mapping(map)? });
            if let Some(into) = into {
                body["into"] = json!(api.id_of(into).await?);
            }
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(number) = activate {
                body["activate"] = json!(version_number(number)?);
            }
            let answer = api.call(Method::POST, "/import", Some(body)).await?;
            let lines: Vec<String> = answer["integrations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|report| {
                    format!(
                        "{} ({})",
                        text(&report["summary"]),
                        text(&report["integration"]["id"])
                    )
                })
                .collect();
            Ok(show(&answer, lines.join("\n")))
        }
        IntegrationsCommand::Promote {
            integration,
            version: number,
            to,
            activate,
            map,
        } => {
            let id = api.id_of(integration).await?;
            let number = version_number(number)?;
            let body = json!({ "remote": to, "activate": activate, "connections": mapping(map)? });
            let promotion = api
                .call(
                    Method::POST,
                    &format!("/integrations/{id}/versions/{number}/promote"),
                    Some(body),
                )
                .await?;
            let answer = text(&promotion["answer"]);
            match promotion["ok"] == true {
                true => Ok(show(
                    &promotion,
                    format!("promoted v{number} to {to}: {answer}"),
                )),
                // Recorded, but the remote did not take it: a refusal for scripts.
                false => Err(Failure {
                    code: 1,
                    message: format!("{to} did not take v{number}: {answer}"),
                }),
            }
        }
    }
}

async fn act(
    api: &Api,
    integration: &str,
    action: &str,
    doing: &str,
    as_json: bool,
) -> Result<String, Failure> {
    let id = api.id_of(integration).await?;
    let answer = api
        .call(Method::POST, &format!("/integrations/{id}/{action}"), None)
        .await?;
    Ok(match as_json {
        true => serde_json::to_string_pretty(&answer).unwrap_or_default(),
        false => format!(
            "{doing} {}: {}",
            text(&answer["name"]),
            describe_state(&answer)
        ),
    })
}

fn read_json(file: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| Failure::usage(format!("cannot read {}: {err}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|err| Failure::usage(format!("{} is not JSON: {err}", file.display())))
}

fn mapping(pairs: &[String]) -> Result<Value, Failure> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let (from, to) = pair.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--map {pair:?}: write it as NAME=OTHER_NAME"))
        })?;
        map.insert(from.trim().to_owned(), json!(to.trim()));
    }
    Ok(Value::Object(map))
}

fn version_number(text: &str) -> Result<i64, Failure> {
    crate::domain::version::VersionNumber::parse(text)
        .map(|number| number.get())
        .map_err(|err| Failure::usage(format!("{text:?}: {err}")))
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn version(value: &Value) -> String {
    value
        .as_i64()
        .map_or_else(|| "-".to_owned(), |n| format!("v{n}"))
}

fn state(integration: &Value) -> String {
    let current = text(&integration["current_state"]);
    match integration["pending"] == true {
        true => format!("{current} → {}", text(&integration["target_state"])),
        false => current,
    }
}

fn describe_state(integration: &Value) -> String {
    let mut line = format!(
        "{} (active {}, running {})",
        state(integration),
        version(&integration["active_version"]),
        version(&integration["current_version"])
    );
    if let Some(error) = integration["reconcile"]["last_error"].as_str() {
        line.push_str(&format!("; last error: {error}"));
    }
    line
}

fn describe(integration: &Value) -> String {
    [
        ("id", text(&integration["id"])),
        ("name", text(&integration["name"])),
        ("description", text(&integration["description"])),
        ("state", describe_state(integration)),
        ("draft", version(&integration["draft_version"])),
        ("revision", text(&integration["revision"])),
        ("updated", text(&integration["updated_at"])),
    ]
    .into_iter()
    .map(|(label, value)| format!("{label:<12} {value}"))
    .collect::<Vec<_>>()
    .join("\n")
}

/// Columns padded to their widest cell.
fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(column, header)| {
            rows.iter()
                .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    std::iter::once(line(headers.iter().map(|h| (*h).to_owned()).collect()))
        .chain(rows.into_iter().map(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_exits_1_signing_in_3_and_a_failing_server_4() {
        let body = json!({"error": {"message": "cannot stop: the integration is Inactive"}});
        assert_eq!(Failure::answered(409, &body).code, 1);
        assert_eq!(Failure::answered(401, &body).code, 3);
        assert_eq!(Failure::answered(500, &body).code, 4);
        assert_eq!(
            Failure::answered(409, &body).message,
            "cannot stop: the integration is Inactive"
        );
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![vec!["v10".to_owned(), "x".to_owned()]].into_iter();
        assert_eq!(table(&["V", "NOTE"], rows), "V    NOTE\nv10  x");
    }

    #[test]
    fn a_mapping_is_name_equals_name() {
        assert_eq!(mapping(&["a=b".to_owned()]).unwrap(), json!({"a": "b"}));
        assert_eq!(mapping(&["ab".to_owned()]).unwrap_err().code, 2);
    }
}
