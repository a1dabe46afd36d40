//! `/connections`: the named connections flows use. Everyone sees names and kinds;
//! editors and admins add, change, test and delete them; only admins let one reach
//! private addresses. A secret is typed in and never shown again: the form says
//! whether one is set, and leaving the field empty keeps it.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::account::{Me, whoami};
use crate::api::connections::{
    ConnectionForm, DeleteConnection, SaveConnection, TestConnection, Tested, list_connections,
};
use crate::domain::access::Role;
use crate::domain::connection::{ConnectionKind, ConnectionView};
use crate::error::AppError;
use crate::ui::components::actions::PostForm;
use crate::ui::components::field::{TextField, field_error, form_error};
use crate::ui::format;
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let save = ServerAction::<SaveConnection>::new();
    let delete = ServerAction::<DeleteConnection>::new();
    let list = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| async move { Ok::<_, AppError>((list_connections().await?, whoami().await?)) },
    );
    view! {
        <Title text="Connections" />
        <div class="page-head"><h1>"Connections"</h1></div>
        <p class="muted">
            "Databases and services flows reach by name. Secrets are encrypted at rest and never shown again."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok((connections, Some(me))) => view! { <Connections connections me save delete /> }.into_any(),
                    Ok((_, None)) => view! { <p>"Sign in to see connections."</p> }.into_any(),
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Connections(
    connections: Vec<ConnectionView>,
    me: Me,
    save: ServerAction<SaveConnection>,
    delete: ServerAction<DeleteConnection>,
) -> impl IntoView {
    let manage = me.role >= Role::Editor;
    let admin = me.role >= Role::Admin;
    // The connection being edited (None: a new one).
    let editing = RwSignal::new(None::<ConnectionView>);
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let rows = connections
        .into_iter()
        .map(|connection| view! { <ConnectionRow connection manage editing delete /> })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="connections-heading">
            <h2 id="connections-heading">"Connections"</h2>
            <p class="alert" role="alert">{delete_error}</p>
            <table class="table" aria-label="Connections">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Kind"</th>
                    <th scope="col">"Reaches"</th><th scope="col">"Changed"</th><th></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
        {manage.then(|| view! {
            {move || {
                let current = editing.get();
                view! { <ConnectionEditor current admin save editing /> }
            }}
        })}
    }
}

#[component]
fn ConnectionRow(
    connection: ConnectionView,
    manage: bool,
    editing: RwSignal<Option<ConnectionView>>,
    delete: ServerAction<DeleteConnection>,
) -> impl IntoView {
    let test = ServerAction::<TestConnection>::new();
    let name = connection.name.clone();
    let reaches = connection
        .settings
        .as_ref()
        .map(|settings| match connection.kind {
            ConnectionKind::Postgres | ConnectionKind::Mysql => format!(
                "{}:{}/{}",
                settings["host"].as_str().unwrap_or_default(),
                settings["port"],
                settings["database"].as_str().unwrap_or_default()
            ),
            ConnectionKind::Sqlite => settings["path"].as_str().unwrap_or_default().to_owned(),
            ConnectionKind::Http => settings["base_url"].as_str().unwrap_or_default().to_owned(),
            ConnectionKind::Nats | ConnectionKind::Junction => {
                settings["url"].as_str().unwrap_or_default().to_owned()
            }
            ConnectionKind::Amqp | ConnectionKind::Mqtt | ConnectionKind::Redis => format!(
                "{}:{}",
                settings["host"].as_str().unwrap_or_default(),
                settings["port"]
            ),
        })
        .unwrap_or_default();
    let tested = move || match test.value().get() {
        Some(Ok(Tested { ok, message })) => Some((ok, message)),
        Some(Err(err)) => Some((false, err.to_string())),
        None => None,
    };
    let for_edit = connection.clone();
    let (test_name, delete_name) = (name.clone(), name.clone());
    view! {
        <tr>
            <td>{name.clone()}</td>
            <td>{connection.kind.label()}</td>
            <td>{reaches}</td>
            <td>{format::time(&connection.updated_at)} " · " {connection.updated_by.clone()}</td>
            <td class="row-actions">
                {manage.then(|| view! {
                    <PostForm url=TestConnection::url() class="inline"
                        on_submit=move || { test.dispatch(TestConnection { name: test_name.clone() }); }>
                        <input type="hidden" name="name" value=name.clone() />
                        <button type="submit" aria-label=format!("Test {name}") disabled=move || test.pending().get()>"Test"</button>
                    </PostForm>
                    <button type="button" aria-label=format!("Edit {}", for_edit.name)
                        on:click={
                            let for_edit = for_edit.clone();
                            move |_| editing.set(Some(for_edit.clone()))
                        }>"Edit"</button>
                    <PostForm url=DeleteConnection::url() class="inline"
                        on_submit=move || { delete.dispatch(DeleteConnection { name: delete_name.clone() }); }>
                        <input type="hidden" name="name" value=for_edit.name.clone() />
                        <button type="submit" class="danger" aria-label=format!("Delete {}", for_edit.name)>"Delete"</button>
                    </PostForm>
                })}
                <p role="status" class=move || match tested() {
                    Some((true, _)) => "test-result ok",
                    Some((false, _)) => "test-result failed",
                    None => "test-result",
                }>{move || tested().map(|(_, message)| message)}</p>
            </td>
        </tr>
    }
}

/// The form for a new connection, or for changing `current`.
#[component]
fn ConnectionEditor(
    current: Option<ConnectionView>,
    admin: bool,
    save: ServerAction<SaveConnection>,
    editing: RwSignal<Option<ConnectionView>>,
) -> impl IntoView {
    let creating = current.is_none();
    let settings = current
        .as_ref()
        .and_then(|c| c.settings.clone())
        .unwrap_or_default();
    let text = |key: &str, default: &str| {
        RwSignal::new(
            settings
                .get(key)
                .map(|value| match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| default.to_owned()),
        )
    };
    let name = RwSignal::new(current.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let kind = RwSignal::new(
        current
            .as_ref()
            .map_or(ConnectionKind::Postgres, |c| c.kind)
            .as_str()
            .to_owned(),
    );
    let (host, port, database, user) = (
        text("host", "127.0.0.1"),
        text("port", ""),
        text("database", ""),
        text("user", ""),
    );
    let (tls, path, base_url, auth, header) = (
        text("tls", "prefer"),
        text("path", ""),
        text("base_url", ""),
        text("auth", "none"),
        text("header", ""),
    );
    let (vhost, client_id, url, db) = (
        text("vhost", "/"),
        text("client_id", "junction"),
        text("url", "nats://127.0.0.1:4222"),
        text("db", "0"),
    );
    let secret = RwSignal::new(String::new());
    let allow_private = RwSignal::new(current.as_ref().is_some_and(|c| c.allow_private));
    let secret_set = current
        .as_ref()
        .is_some_and(|c| c.secrets.values().any(|state| state.set));
    let error = RwSignal::new(None::<AppError>);
    let saved = RwSignal::new(None::<String>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(view)) => {
            error.set(None);
            saved.set(Some(format!("Saved {}.", view.name)));
            secret.set(String::new());
        }
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    let form = move || ConnectionForm {
        create: creating.to_string(),
        name: name.get_untracked(),
        kind: kind.get_untracked(),
        host: host.get_untracked(),
        port: port.get_untracked(),
        database: database.get_untracked(),
        user: user.get_untracked(),
        tls: tls.get_untracked(),
        path: path.get_untracked(),
        base_url: base_url.get_untracked(),
        auth: auth.get_untracked(),
        header: header.get_untracked(),
        vhost: vhost.get_untracked(),
        client_id: client_id.get_untracked(),
        url: url.get_untracked(),
        db: db.get_untracked(),
        secret: secret.get_untracked(),
        allow_private: Some(allow_private.get_untracked().to_string()),
        private_shown: admin.then(|| "true".to_owned()),
    };
    let field = move |path: &'static str| field_error(error, path);
    let is = move |kinds: &'static [&'static str]| move || kinds.contains(&kind.get().as_str());
    let secret_label = move || match (kind.get().as_str(), auth.get().as_str()) {
        ("http", "bearer") => "Token",
        ("http", "header") => "Header value",
        ("nats", _) if user.get().trim().is_empty() => "Token",
        ("junction", _) => "API token",
        _ => "Password",
    };
    let secret_hint = if secret_set {
        "Set: leave empty to keep it"
    } else {
        "Not set"
    };
    view! {
        <section class="card" aria-labelledby="connection-form-heading">
            <h2 id="connection-form-heading">
                {if creating { "New connection".to_owned() } else { format!("Change {}", name.get_untracked()) }}
            </h2>
            <PostForm url=SaveConnection::url() on_submit=move || {
                saved.set(None);
                save.dispatch(SaveConnection { form: form() });
            }>
                <input type="hidden" name="form[create]" value=creating.to_string() />
                <div class="field">
                    <label for="connection-kind">"Kind"</label>
                    <select id="connection-kind" name="form[kind]" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {ConnectionKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == k.as_str()>{k.label()}</option>
                        }).collect_view()}
                    </select>
                </div>
                {creating.then(|| view! {
                    <TextField label="Name" name="form[name]" value=name error=field("name") required=true
                        hint="What flows call it: a-z, 0-9, -, _ and ." />
                })}
                {(!creating).then(|| view! { <input type="hidden" name="form[name]" value=name.get_untracked() /> })}
                <Show when=is(&["postgres", "mysql", "amqp", "mqtt", "redis"])>
                    <TextField label="Host" name="form[host]" value=host error=field("settings.host") />
                    <TextField label="Port" name="form[port]" value=port error=field("settings.port") hint="Empty: the kind's usual port" />
                </Show>
                <Show when=is(&["amqp"])>
                    <TextField label="Virtual host" name="form[vhost]" value=vhost error=field("settings.vhost") />
                </Show>
                <Show when=is(&["mqtt"])>
                    <TextField label="Client id" name="form[client_id]" value=client_id error=field("settings.client_id")
                        hint="The broker keeps the session under it" />
                </Show>
                <Show when=is(&["nats", "junction"])>
                    <TextField label="URL" name="form[url]" value=url error=field("settings.url")
                        hint="NATS: nats://host:4222; a Junction server: its address, e.g. https://junction.example" />
                </Show>
                <Show when=is(&["redis"])>
                    <TextField label="Database number" name="form[db]" value=db error=field("settings.db") />
                </Show>
                <Show when=is(&["amqp", "mqtt", "nats"])>
                    <TextField label="User" name="form[user]" value=user error=field("settings.user")
                        hint="Empty: none (MQTT, NATS)" />
                </Show>
                <Show when=is(&["postgres", "mysql"])>
                    <TextField label="Database" name="form[database]" value=database error=field("settings.database") />
                    <TextField label="User" name="form[user]" value=user error=field("settings.user") />
                    <div class="field">
                        <label for="connection-tls">"TLS"</label>
                        <select id="connection-tls" name="form[tls]" on:change=move |ev| tls.set(event_target_value(&ev))>
                            {["prefer", "disable", "require", "verify_full"].into_iter().map(|mode| view! {
                                <option value=mode selected=move || tls.get() == mode>{mode}</option>
                            }).collect_view()}
                        </select>
                    </div>
                </Show>
                <Show when=is(&["sqlite"])>
                    <TextField label="File" name="form[path]" value=path error=field("settings.path") hint="An absolute path on the server" />
                </Show>
                <Show when=is(&["http"])>
                    <TextField label="Base URL" name="form[base_url]" value=base_url error=field("settings.base_url") />
                    <div class="field">
                        <label for="connection-auth">"Authentication"</label>
                        <select id="connection-auth" name="form[auth]" on:change=move |ev| auth.set(event_target_value(&ev))>
                            {[("none", "None"), ("bearer", "Bearer token"), ("basic", "User and password"), ("header", "A header")].into_iter().map(|(value, label)| view! {
                                <option value=value selected=move || auth.get() == value>{label}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <Show when=move || auth.get() == "basic">
                        <TextField label="User" name="form[user]" value=user error=field("settings.user") />
                    </Show>
                    <Show when=move || auth.get() == "header">
                        <TextField label="Header" name="form[header]" value=header error=field("settings.header") />
                    </Show>
                </Show>
                <Show when=move || takes_secret(&kind.get(), &auth.get())>
                    <div class="field" class:has-error=move || field("secrets").get().is_some()>
                        <label for="connection-secret">{secret_label}</label>
                        <input id="connection-secret" name="form[secret]" type="password" autocomplete="new-password"
                            prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev)) />
                        <p class="hint">{secret_hint}</p>
                    </div>
                </Show>
                {admin.then(|| view! {
                    <input type="hidden" name="form[private_shown]" value="true" />
                    <div class="field checkbox">
                        <input id="connection-private" type="checkbox" name="form[allow_private]" value="true"
                            prop:checked=move || allow_private.get()
                            on:change=move |ev| allow_private.set(event_target_checked(&ev)) />
                        <label for="connection-private">"May reach private and loopback addresses"</label>
                    </div>
                })}
                <p class="alert" role="alert">{form_error(error)}</p>
                <p class="alert" role="alert">{move || {
                    error.get().and_then(|err| match err {
                        AppError::ValidationFailed { fields } => Some(
                            fields.iter().map(|f| format!("{}: {}", f.path, f.message)).collect::<Vec<_>>().join("; ")
                        ),
                        _ => None,
                    })
                }}</p>
                <p role="status">{move || saved.get()}</p>
                <button type="submit" class="primary" disabled=move || save.pending().get()>
                    {if creating { "Add connection" } else { "Save changes" }}
                </button>
                {(!creating).then(|| view! {
                    <button type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                })}
            </PostForm>
        </section>
    }
}

/// Whether a connection of `kind` authenticating by `auth` takes a secret.
fn takes_secret(kind: &str, auth: &str) -> bool {
    match kind {
        "sqlite" => false,
        "http" => auth != "none",
        _ => true,
    }
}
