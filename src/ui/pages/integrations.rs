//! `/`: every integration, and the form that creates one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::integrations::{CreateIntegration, list_integrations};
use crate::domain::IntegrationSummary;
use crate::domain::name::IntegrationName;
use crate::error::AppError;
use crate::ui::components::field::TextField;

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let create = ServerAction::<CreateIntegration>::new();
    // Refetched after each creation: the list is the server's, never a local guess.
    let integrations = Resource::new(move || create.version().get(), |_| list_integrations());
    view! {
        <Title text="Integrations" />
        <div class="page-head">
            <h1>"Integrations"</h1>
        </div>
        <div class="two-columns">
            <section aria-labelledby="list-heading" class="list">
                <h2 id="list-heading" class="visually-hidden">"All integrations"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading integrations…"</p> }>
                    {move || Suspend::new(async move {
                        match integrations.await {
                            Ok(list) => view! { <IntegrationTable list /> }.into_any(),
                            Err(err) => view! {
                                <p class="alert" role="alert">{err.to_string()}</p>
                            }
                            .into_any(),
                        }
                    })}
                </Transition>
            </section>
            <NewIntegrationForm create />
        </div>
    }
}

#[component]
fn IntegrationTable(list: Vec<IntegrationSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <div class="empty">
                <p>"No integrations yet."</p>
                <p class="muted">"Create one with the form: give it a name, then design its flow."</p>
            </div>
        }
        .into_any();
    }
    view! {
        <table class="table" aria-label="Integrations">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Description"</th>
                    <th scope="col">"Created"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|integration| {
                        let created = integration.created_at;
                        view! {
                            <tr>
                                <th scope="row">{integration.name}</th>
                                <td class="muted">{integration.description}</td>
                                <td>
                                    <time datetime=created.to_rfc3339()>
                                        {created.format("%Y-%m-%d %H:%M UTC").to_string()}
                                    </time>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
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
                .and_then(|json| serde_json::from_str::<AppError>(&json).ok()),
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
            <ActionForm action=create>
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
            </ActionForm>
        </section>
    }
}
