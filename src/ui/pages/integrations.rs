//! `/`: every integration, and the form that creates one.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::integrations::{CreateIntegration, find_integrations};
use crate::domain::name::IntegrationName;
use crate::domain::{IntegrationSummary, Page};
use crate::error::AppError;
use crate::ui::components::actions::PostForm;
use crate::ui::components::badges::{StateBadges, VersionBadge};
use crate::ui::components::field::TextField;
use crate::ui::components::pager::Pager;
use crate::ui::format;
use crate::ui::live::{live_data, newest, use_live};

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let create = ServerAction::<CreateIntegration>::new();
    let query = use_query_map();
    let live = use_live();
    // A created integration shows at once, before the server's event arrives.
    Effect::new(move |_| {
        if create.version().get() > 0 {
            live.update(|n| *n = n.wrapping_add(1));
        }
    });
    let key = move || {
        query.with(|q| {
            format!(
                "{}|{}|{}",
                q.get("state").unwrap_or_default(),
                q.get("q").unwrap_or_default(),
                q.get("page").unwrap_or_default()
            )
        })
    };
    let (initial, latest) = live_data(key, |key: String| async move {
        let mut parts = key.splitn(3, '|');
        let state = parts.next().map(str::to_owned).filter(|s| !s.is_empty());
        let q = parts.next().map(str::to_owned).filter(|s| !s.is_empty());
        let page = parts.next().and_then(|p| p.parse().ok());
        find_integrations(state, q, page).await
    });
    let state = query.with_untracked(|q| q.get("state").unwrap_or_default());
    let search = query.with_untracked(|q| q.get("q").unwrap_or_default());
    view! {
        <Title text="Integrations" />
        <div class="page-head">
            <h1>"Integrations"</h1>
            <a class="button primary" href="/integrations/new">"Design a new integration"</a>
        </div>
        <div class="two-columns">
            <section aria-labelledby="list-heading" class="list">
                <h2 id="list-heading" class="visually-hidden">"All integrations"</h2>
                <form method="get" class="filters" role="search">
                    <label for="filter-state">"State"</label>
                    <select id="filter-state" name="state">
                        {[("", "All but unpublished"), ("draft", "Draft"), ("active", "Active"), ("inactive", "Inactive"), ("error", "Error"), ("deleted", "Deleted (unpublished)")]
                            .into_iter()
                            .map(|(value, label)| view! { <option value=value selected=state == value>{label}</option> })
                            .collect_view()}
                    </select>
                    <label for="filter-q">"Search"</label>
                    <input id="filter-q" name="q" type="search" value=search placeholder="Part of a name" />
                    <button type="submit">"Filter"</button>
                </form>
                <Suspense fallback=|| view! { <p class="muted">"Loading integrations…"</p> }>
                    {move || Suspend::new(async move {
                        match initial.await {
                            Ok(first) => view! { <IntegrationTable page=newest(first, key(), latest) /> }.into_any(),
                            Err(err) => view! { <p class="alert" role="alert">{err.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <div class="stack">
                <NewIntegrationForm create />
                <ImportForm />
            </div>
        </div>
    }
}

#[component]
fn IntegrationTable(page: Signal<Page<IntegrationSummary>>) -> impl IntoView {
    let query = use_query_map();
    let href = move |number: u32| {
        query.with_untracked(|q| {
            format!(
                "/?state={}&q={}&page={number}",
                q.get("state").unwrap_or_default(),
                q.get("q").unwrap_or_default()
            )
        })
    };
    let paging = page.with_untracked(|p| (p.page, p.per_page, p.total));
    view! {
        <Show
            when=move || page.with(|p| !p.items.is_empty())
            fallback=|| view! {
                <div class="empty">
                    <p>"No integrations here."</p>
                    <p class="muted">"Create one with the form: give it a name, then design its flow."</p>
                </div>
            }
        >
            <table class="table" aria-label="Integrations">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Active version"</th>
                        <th scope="col">"Last change"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || page.with(|p| p.items.clone()) key=|i| i.id let:integration>
                        <IntegrationRow first=integration page />
                    </For>
                </tbody>
            </table>
        </Show>
        <Pager page=paging.0 per_page=paging.1 total=paging.2 href=href label="Integration pages" />
    }
}

#[component]
fn IntegrationRow(
    first: IntegrationSummary,
    page: Signal<Page<IntegrationSummary>>,
) -> impl IntoView {
    let id = first.id;
    // The row follows its integration as live updates come in (and keeps its last
    // value for the moment before the list drops it).
    let row = Memo::new(move |previous: Option<&IntegrationSummary>| {
        page.with(|p| p.items.iter().find(|i| i.id == id).cloned())
            .or_else(|| previous.cloned())
            .unwrap_or_else(|| first.clone())
    });
    let href = format!("/integrations/{id}");
    view! {
        <tr>
            <th scope="row">
                <a href=href>{move || row.with(|i| i.name.clone())}</a>
                <Show when=move || row.with(|i| i.draft_version.is_some() && i.published_before)>
                    <span class="badge draft-marker" title="unpublished changes">"draft"</span>
                </Show>
                <div class="muted small">{move || row.with(|i| i.description.clone())}</div>
            </th>
            <td><StateBadges integration=Signal::from(row) /></td>
            <td><VersionBadge version=Signal::derive(move || row.with(|i| i.active_version)) /></td>
            <td>
                {move || row.with(|i| view! {
                    <time datetime=format::machine_time(&i.updated_at)>{format::time(&i.updated_at)}</time>
                })}
            </td>
        </tr>
    }
}

/// Creates an integration. Works with and without JavaScript: without it, the server
/// sends the browser back here with what was typed and the error (see
/// `api::send_plain_form_back_on_error`), read from the query string.
#[component]
fn NewIntegrationForm(create: ServerAction<CreateIntegration>) -> impl IntoView {
    let query = use_query_map();
    let (typed_name, typed_description, returned_error) = query.with_untracked(|query| {
        (
            query.get("name").unwrap_or_default(),
            query.get("description").unwrap_or_default(),
            query
                .get("error")
                .and_then(|json| crate::json::parse::<AppError>(&json).ok()),
        )
    });
    let name = RwSignal::new(typed_name);
    let description = RwSignal::new(typed_description);
    let server_error = RwSignal::new(returned_error);
    // The name is checked as it is typed, with the same rules the server applies.
    let edited = RwSignal::new(false);

    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            name.set(String::new());
            description.set(String::new());
            edited.set(false);
            server_error.set(None);
        }
        Some(Err(err)) => server_error.set(Some(err)),
        None => {}
    });

    let name_error = Signal::derive(move || {
        if edited.get()
            && let Err(err) = IntegrationName::parse(&name.read())
        {
            return Some(err.to_string());
        }
        server_error.with(|err| err.as_ref().and_then(|err| err.message_for("name")))
    });
    let description_error = Signal::derive(move || {
        server_error.with(|err| err.as_ref().and_then(|err| err.message_for("description")))
    });
    let form_error = move || {
        server_error.with(|err| {
            err.as_ref()
                .filter(|err| !matches!(err, AppError::ValidationFailed { .. }))
                .map(ToString::to_string)
        })
    };
    let name_edited = move || {
        edited.set(true);
        server_error.set(None);
    };

    view! {
        <section class="card" aria-labelledby="new-heading">
            <h2 id="new-heading">"New integration"</h2>
            <PostForm
                url=CreateIntegration::url()
                on_submit=move || {
                    create.dispatch(CreateIntegration {
                        name: name.get_untracked(),
                        description: description.get_untracked(),
                    });
                }
            >
                <TextField
                    label="Name"
                    name="name"
                    value=name
                    error=name_error
                    required=true
                    hint="Up to 100 characters; unique, whatever the case."
                    on_input=name_edited
                />
                <TextField
                    label="Description"
                    name="description"
                    value=description
                    error=description_error
                    multiline=true
                />
                <p class="alert" role="alert">{form_error}</p>
                <button type="submit" class="primary" disabled=move || create.pending().get()>
                    "Create integration"
                </button>
            </PostForm>
        </section>
    }
}

/// Imports an export file (from this or another Junction): a plain multipart form,
/// posted to `api::import_form`, which sends the browser to the imported
/// integration's history, or back here with what went wrong.
#[component]
fn ImportForm() -> impl IntoView {
    let query = use_query_map();
    let (error, imported) = query.with_untracked(|query| {
        (
            query
                .get("import_error")
                .and_then(|json| crate::json::parse::<AppError>(&json).ok()),
            query.get("imported"),
        )
    });
    let problems = error.map(|err| match err {
        AppError::ValidationFailed { fields } => fields
            .into_iter()
            .map(|field| format!("{}: {}", field.path, field.message))
            .collect::<Vec<_>>(),
        other => vec![other.to_string()],
    });
    view! {
        <section class="card" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import"</h2>
            <p class="muted small">
                "An export file from a history page, of this or another Junction: each "
                "integration comes with its versions, numbers, notes and authors, and "
                "starts nothing."
            </p>
            <form method="post" action=IMPORT_PATH enctype="multipart/form-data" class="stacked">
                <label for="import-document">"Export file"</label>
                <input id="import-document" name="document" type="file" accept=".json,application/json" required />
                <label for="import-connections">"Connection mapping"</label>
                <textarea id="import-connections" name="connections" rows="2"
                    placeholder="orders-db=orders-db-prod"></textarea>
                <p class="muted small">"Where a connection is named differently here: name-there=name-here, one per line."</p>
                {problems.map(|problems| view! {
                    <div class="alert" role="alert">
                        <p>"Nothing was imported:"</p>
                        <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                    </div>
                })}
                {imported.map(|count| view! { <p class="notice" role="status">{format!("Imported {count} integrations.")}</p> })}
                <button type="submit">"Import"</button>
            </form>
        </section>
    }
}

/// Where the import form posts (`api::import_form`).
pub const IMPORT_PATH: &str = "/integrations/import";
