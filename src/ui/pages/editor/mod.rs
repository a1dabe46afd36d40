//! `/integrations/new` and `/integrations/{id}/edit`: name, description, trigger and
//! steps, as forms or as raw JSON (the two views round-trip through `model`, the
//! form model; `steps` holds the flow's fields). The flow is checked with
//! the server's own rules before it is sent; Save is guarded by the revision the
//! editor started from, and a conflict keeps every character typed.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::Value;

use crate::api::integrations::{
    DiscardDraft, create_integration_with, get_integration, save_draft,
};
use crate::domain::definition::{Definition, StepKind, TriggerKind};
use crate::domain::lifecycle::ActionKind;
use crate::domain::{Description, IntegrationDetail, IntegrationName};
use crate::error::{AppError, FieldError};
use crate::ui::components::actions::{PostForm, PublishForm};
use crate::ui::components::badges::{StateBadges, VersionBadge};
use crate::ui::live::follow_live;
use crate::ui::pages::not_found::ErrorPanel;

mod model;
mod steps;

use model::{FlowForm, StepForm};
use steps::{Field, FlowFields};

/// The editor's state: what the form shows.
#[derive(Clone, Copy)]
struct Editor {
    name: RwSignal<String>,
    description: RwSignal<String>,
    trigger: RwSignal<TriggerKind>,
    path: RwSignal<String>,
    every: RwSignal<String>,
    auth_scheme: RwSignal<String>,
    auth_header: RwSignal<String>,
    auth_secret: RwSignal<String>,
    poll_connection: RwSignal<String>,
    poll_query: RwSignal<String>,
    poll_cursor: RwSignal<String>,
    poll_start: RwSignal<String>,
    schedule: RwSignal<String>,
    time_zone: RwSignal<String>,
    queue: RwSignal<String>,
    declare: RwSignal<bool>,
    prefetch: RwSignal<String>,
    dead_letter_exchange: RwSignal<String>,
    max_redeliveries: RwSignal<String>,
    subject: RwSignal<String>,
    stream: RwSignal<String>,
    durable: RwSignal<String>,
    group: RwSignal<String>,
    channel: RwSignal<String>,
    topic: RwSignal<String>,
    qos: RwSignal<String>,
    steps: RwSignal<Vec<StepForm>>,
    next_key: RwSignal<u64>,
    raw_mode: RwSignal<bool>,
    raw: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
    dirty: RwSignal<bool>,
}

impl Editor {
    fn new(name: String, description: String, definition: &Value) -> Self {
        let editor = Self {
            name: RwSignal::new(name),
            description: RwSignal::new(description),
            trigger: RwSignal::new(TriggerKind::Webhook),
            path: RwSignal::new(String::new()),
            every: RwSignal::new("60".into()),
            auth_scheme: RwSignal::new(String::new()),
            auth_header: RwSignal::new(model::DEFAULT_SIGNATURE_HEADER.into()),
            auth_secret: RwSignal::new(String::new()),
            poll_connection: RwSignal::new(String::new()),
            poll_query: RwSignal::new(String::new()),
            poll_cursor: RwSignal::new("id".into()),
            poll_start: RwSignal::new("0".into()),
            schedule: RwSignal::new("0 * * * *".into()),
            time_zone: RwSignal::new("UTC".into()),
            queue: RwSignal::new(String::new()),
            declare: RwSignal::new(false),
            prefetch: RwSignal::new("10".into()),
            dead_letter_exchange: RwSignal::new(String::new()),
            max_redeliveries: RwSignal::new("5".into()),
            subject: RwSignal::new(String::new()),
            stream: RwSignal::new(String::new()),
            durable: RwSignal::new(String::new()),
            group: RwSignal::new(String::new()),
            channel: RwSignal::new(String::new()),
            topic: RwSignal::new(String::new()),
            qos: RwSignal::new("1".into()),
            steps: RwSignal::new(Vec::new()),
            next_key: RwSignal::new(1),
            raw_mode: RwSignal::new(false),
            raw: RwSignal::new(String::new()),
            errors: RwSignal::new(Vec::new()),
            dirty: RwSignal::new(false),
        };
        editor.load(definition);
        editor
    }

    /// Fills the form from a definition's JSON. One the form cannot show (a kind it
    /// does not know) opens in the JSON view, with the problem at its place.
    fn load(&self, definition: &Value) {
        if let Err(errors) = self.load_form(definition) {
            self.raw
                .set(serde_json::to_string_pretty(definition).unwrap_or_default());
            self.raw_mode.set(true);
            self.errors.set(errors);
        }
    }

    fn load_form(&self, definition: &Value) -> Result<(), Vec<FieldError>> {
        let mut next_key = self.next_key.get_untracked();
        let form = FlowForm::from_value(definition, &mut next_key)?;
        self.next_key.set(next_key);
        self.trigger.set(form.trigger);
        self.path.set(form.path);
        self.every.set(form.every);
        self.auth_scheme.set(form.auth_scheme);
        self.auth_header.set(form.auth_header);
        self.auth_secret.set(form.auth_secret);
        self.poll_connection.set(form.poll_connection);
        self.poll_query.set(form.poll_query);
        self.poll_cursor.set(form.poll_cursor);
        self.poll_start.set(form.poll_start);
        self.schedule.set(form.schedule);
        self.time_zone.set(form.time_zone);
        self.queue.set(form.queue);
        self.declare.set(form.declare);
        self.prefetch.set(form.prefetch);
        self.dead_letter_exchange.set(form.dead_letter_exchange);
        self.max_redeliveries.set(form.max_redeliveries);
        self.subject.set(form.subject);
        self.stream.set(form.stream);
        self.durable.set(form.durable);
        self.group.set(form.group);
        self.channel.set(form.channel);
        self.topic.set(form.topic);
        self.qos.set(form.qos);
        self.steps.set(form.steps);
        Ok(())
    }

    fn blank_step(&self, kind: StepKind) -> StepForm {
        let key = self.next_key.get_untracked();
        self.next_key.set(key + 1);
        StepForm::blank(kind, key)
    }

    /// The form as definition JSON; text that should be JSON or a number and is not is
    /// reported at its field.
    fn form_json(&self) -> (Value, Vec<FieldError>) {
        FlowForm {
            trigger: self.trigger.get_untracked(),
            path: self.path.get_untracked(),
            every: self.every.get_untracked(),
            auth_scheme: self.auth_scheme.get_untracked(),
            auth_header: self.auth_header.get_untracked(),
            auth_secret: self.auth_secret.get_untracked(),
            poll_connection: self.poll_connection.get_untracked(),
            poll_query: self.poll_query.get_untracked(),
            poll_cursor: self.poll_cursor.get_untracked(),
            poll_start: self.poll_start.get_untracked(),
            schedule: self.schedule.get_untracked(),
            time_zone: self.time_zone.get_untracked(),
            queue: self.queue.get_untracked(),
            declare: self.declare.get_untracked(),
            prefetch: self.prefetch.get_untracked(),
            dead_letter_exchange: self.dead_letter_exchange.get_untracked(),
            max_redeliveries: self.max_redeliveries.get_untracked(),
            subject: self.subject.get_untracked(),
            stream: self.stream.get_untracked(),
            durable: self.durable.get_untracked(),
            group: self.group.get_untracked(),
            channel: self.channel.get_untracked(),
            topic: self.topic.get_untracked(),
            qos: self.qos.get_untracked(),
            steps: self.steps.get_untracked(),
        }
        .to_value()
    }

    /// The definition to save, or every problem with it, located as the form shows it.
    fn definition(&self) -> Result<Value, Vec<FieldError>> {
        let (value, mut errors) = if self.raw_mode.get_untracked() {
            match crate::json::parse::<Value>(&self.raw.get_untracked()) {
                Ok(value) => (value, Vec::new()),
                Err(err) => {
                    return Err(vec![FieldError::new(
                        "definition",
                        format!("not valid JSON: {err}"),
                    )]);
                }
            }
        } else {
            self.form_json()
        };
        // Every other problem too, not only the text that did not read as JSON.
        if let Err(more) = Definition::parse(&value) {
            let fresh: Vec<FieldError> = more
                .into_iter()
                .filter(|e| !errors.iter().any(|seen| seen.path == e.path))
                .collect();
            errors.extend(fresh);
        }
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(errors)
        }
    }

    /// Everything to save, checked; every problem is shown at its field.
    fn checked(&self) -> Option<Value> {
        let mut errors = self.check_names();
        let definition = self.definition();
        if let Err(more) = &definition {
            errors.extend(more.iter().cloned());
        }
        let ok = errors.is_empty();
        self.errors.set(errors);
        definition.ok().filter(|_| ok)
    }

    fn check_names(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(err) = IntegrationName::parse(&self.name.get_untracked()) {
            errors.push(FieldError::new("name", err));
        }
        if let Err(err) = Description::parse(&self.description.get_untracked()) {
            errors.push(FieldError::new("description", err));
        }
        errors
    }

    fn error_at(&self, path: &'static str) -> impl Fn() -> Option<String> + Copy + use<> {
        let errors = self.errors;
        move || {
            errors.with(|errors| {
                errors
                    .iter()
                    .find(|e| e.path == path || e.path.strip_prefix("definition.") == Some(path))
                    .map(|e| e.message.clone())
            })
        }
    }

    fn error_at_owned(&self, path: String) -> impl Fn() -> Option<String> + Clone {
        let errors = self.errors;
        move || {
            errors.with(|errors| {
                errors
                    .iter()
                    .find(|e| {
                        e.path == path
                            || e.path.strip_prefix("definition.") == Some(path.as_str())
                            || (e.path.starts_with(&format!("{path}.")) && !path.ends_with(']'))
                    })
                    .map(|e| e.message.clone())
            })
        }
    }

    fn show_raw(&self) {
        let (value, _) = self.form_json();
        self.raw
            .set(serde_json::to_string_pretty(&value).unwrap_or_default());
        self.raw_mode.set(true);
    }

    fn show_form(&self) {
        let loaded = crate::json::parse::<Value>(&self.raw.get_untracked())
            .map_err(|err| {
                vec![FieldError::new(
                    "definition",
                    format!("not valid JSON: {err}"),
                )]
            })
            .and_then(|value| self.load_form(&value));
        match loaded {
            Ok(()) => {
                self.raw_mode.set(false);
                self.errors.set(Vec::new());
            }
            Err(errors) => self.errors.set(errors),
        }
    }
}

#[component]
pub fn EditPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = crate::json::resource(id, get_integration);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <EditExisting detail /> }.into_any(),
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn NewPage() -> impl IntoView {
    let editor = Editor::new(
        String::new(),
        String::new(),
        &Definition::starter("orders").to_value(),
    );
    editor.path.set(String::new());
    let saving = RwSignal::new(false);
    let navigate = use_navigate();
    let save = move |_| {
        let Some(definition) = editor.checked() else {
            return;
        };
        saving.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let result = create_integration_with(
                editor.name.get_untracked(),
                editor.description.get_untracked(),
                Some(definition.to_string()),
            )
            .await;
            saving.set(false);
            match result {
                Ok(created) => navigate(
                    &format!("/integrations/{}/edit", created.id),
                    Default::default(),
                ),
                Err(err) => editor.errors.set(field_errors(err)),
            }
        });
    };
    view! {
        <Title text="New integration" />
        <nav class="crumbs" aria-label="Breadcrumb"><A href="/">"Integrations"</A>" /"</nav>
        <div class="page-head"><h1>"New integration"</h1></div>
        <EditorForm editor />
        <div class="toolbar">
            <button type="button" class="primary" on:click=save disabled=move || saving.get()>"Save"</button>
        </div>
    }
}

/// A failed save's problems, as field errors (or one for the whole form).
fn field_errors(err: AppError) -> Vec<FieldError> {
    match err {
        AppError::ValidationFailed { fields } => fields,
        other => vec![FieldError::new("form", other)],
    }
}

#[component]
fn EditExisting(detail: IntegrationDetail) -> impl IntoView {
    let integration = RwSignal::new(detail.integration.clone());
    let id = detail.integration.id.to_string();
    let started_from = detail.draft.as_ref().and_then(|d| d.summary.based_on);
    let source = detail
        .draft
        .as_ref()
        .or(detail.active.as_ref())
        .map(|v| v.definition.clone());
    let editor = Editor::new(
        detail.integration.name.clone(),
        detail.integration.description.clone(),
        &source.unwrap_or_else(|| Definition::starter(&detail.integration.name).to_value()),
    );
    let revision = RwSignal::new(detail.integration.revision);
    let saving = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let conflict = RwSignal::new(None::<String>);
    let allowed = RwSignal::new(detail.allowed_actions.clone());
    let save_id = id.clone();
    let save = move |_| {
        notice.set(None);
        let Some(definition) = editor.checked() else {
            return;
        };
        saving.set(true);
        let id = save_id.clone();
        leptos::task::spawn_local(async move {
            let result = save_draft(
                id.clone(),
                revision.get_untracked(),
                Some(editor.name.get_untracked()),
                Some(editor.description.get_untracked()),
                Some(definition.to_string()),
            )
            .await;
            saving.set(false);
            match result {
                Ok(saved) => {
                    revision.set(saved.revision);
                    conflict.set(None);
                    editor.dirty.set(false);
                    notice.set(Some(format!(
                        "Saved as draft {}.",
                        saved
                            .draft_version
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    )));
                    integration.set(saved);
                    if let Ok(detail) = get_integration(id).await {
                        allowed.set(detail.allowed_actions);
                    }
                }
                Err(AppError::RevisionMismatch {
                    current_revision, ..
                }) => {
                    conflict.set(Some(format!(
                        "Someone else changed this integration while you were editing (it is now at revision {current_revision}). \
                         Nothing was saved and your changes are still here: copy what you need, reload to see theirs, and apply your change again."
                    )));
                }
                Err(err) => editor.errors.set(field_errors(err)),
            }
        });
    };
    let discard = ServerAction::<DiscardDraft>::new();
    Effect::new(move |_| {
        if let Some(Ok(summary)) = discard.value().get() {
            integration.set(summary);
            #[cfg(feature = "hydrate")]
            let _ = window().location().reload();
        }
    });
    // The badges follow the server; the revision the editor is based on does not (a
    // change by someone else must show as a conflict on save), except after this
    // person's own publish.
    let live_id = id.clone();
    follow_live(
        move || live_id.clone(),
        get_integration,
        move |_, detail| {
            integration.set(detail.integration);
            allowed.set(detail.allowed_actions);
        },
    );
    let published = Callback::new(move |summary: crate::domain::IntegrationSummary| {
        revision.set(summary.revision);
        integration.set(summary);
    });
    let allows = move |kind: ActionKind| allowed.with(|a| a.contains(&kind));
    let draft_label = move || {
        integration.with(|i| match i.draft_version {
            Some(draft) => format!(
                "Editing draft {draft}{}.",
                started_from
                    .map(|s| format!(", started from {s}"))
                    .unwrap_or_default()
            ),
            None => match i.active_version {
                Some(active) => format!("Saving starts a new draft from {active}."),
                None => "Saving writes the first draft.".to_owned(),
            },
        })
    };
    let detail_href = format!("/integrations/{id}");
    let discard_id = StoredValue::new(id.clone());
    view! {
        <Title text=move || format!("Edit {}", integration.with(|i| i.name.clone())) />
        <nav class="crumbs" aria-label="Breadcrumb"><A href="/">"Integrations"</A>" / "<a href=detail_href>{move || integration.with(|i| i.name.clone())}</a>" /"</nav>
        <div class="page-head">
            <div>
                <h1>"Edit " {move || integration.with(|i| i.name.clone())}</h1>
                <p class="muted" data-testid="draft-origin">{draft_label}</p>
            </div>
            <div class="head-badges">
                <VersionBadge version=Signal::derive(move || integration.with(|i| i.active_version)) />
                <StateBadges integration=Signal::from(integration) />
            </div>
        </div>
        <EditorForm editor />
        <p class="alert conflict" role="alert">{move || conflict.get()}</p>
        <p class="notice" role="status">{move || notice.get()}</p>
        <div class="toolbar">
            <button type="button" class="primary" on:click=save disabled=move || saving.get()>"Save"</button>
            <Show when=move || allows(ActionKind::DiscardDraft) && integration.with(|i| i.draft_version.is_some())>
                <PostForm
                    url=DiscardDraft::url()
                    class="inline"
                    on_submit=move || {
                        discard.dispatch(DiscardDraft { id: discard_id.get_value() });
                    }
                >
                    <input type="hidden" name="id" value=move || discard_id.get_value() />
                    <button type="submit">"Discard draft"</button>
                </PostForm>
            </Show>
            <Show
                when=move || !editor.dirty.get() && integration.with(|i| i.draft_version.is_some())
                fallback=move || view! { <span class="muted">{move || if editor.dirty.get() { "Save your changes to publish them." } else { "" }}</span> }
            >
                <PublishForm integration=Signal::from(integration) on_published=published />
            </Show>
        </div>
    }
}

/// The fields: name, description, trigger, steps — or the raw JSON.
#[component]
fn EditorForm(editor: Editor) -> impl IntoView {
    let touch = move || editor.dirty.set(true);
    let new_kind = RwSignal::new(StepKind::Log);
    view! {
        <p class="alert" role="alert">{editor.error_at("form")}</p>
        <section class="card editor" aria-labelledby="about-heading">
            <h2 id="about-heading">"About"</h2>
            <Field label="Name" id="name" error=Signal::derive(editor.error_at("name"))>
                <input id="name" type="text" maxlength="100" prop:value=move || editor.name.get()
                    on:input=move |ev| { editor.name.set(event_target_value(&ev)); touch(); } />
            </Field>
            <Field label="Description" id="description" error=Signal::derive(editor.error_at("description"))>
                <textarea id="description" rows="2" prop:value=move || editor.description.get()
                    on:input=move |ev| { editor.description.set(event_target_value(&ev)); touch(); }></textarea>
            </Field>
        </section>
        <section class="card editor" aria-labelledby="flow-heading">
            <div class="section-head">
                <h2 id="flow-heading">"Flow"</h2>
                <div class="view-switch" role="group" aria-label="View">
                    <button type="button" aria-pressed=move || (!editor.raw_mode.get()).to_string()
                        on:click=move |_| if editor.raw_mode.get_untracked() { editor.show_form() }>"Form"</button>
                    <button type="button" aria-pressed=move || editor.raw_mode.get().to_string()
                        on:click=move |_| if !editor.raw_mode.get_untracked() { editor.show_raw() }>"JSON"</button>
                </div>
            </div>
            <Show when=move || editor.raw_mode.get() fallback=move || view! { <FlowFields editor new_kind /> }>
                <Field label="Definition (JSON)" id="raw-definition" error=Signal::derive(editor.error_at("definition"))>
                    <textarea id="raw-definition" class="code" rows="18" spellcheck="false" prop:value=move || editor.raw.get()
                        on:input=move |ev| { editor.raw.set(event_target_value(&ev)); editor.dirty.set(true); }></textarea>
                </Field>
                <ul class="field-errors">
                    {move || editor.errors.get().into_iter().filter(|e| e.path.starts_with("steps") || e.path.starts_with("trigger") || e.path.starts_with("definition.")).map(|e| view! {
                        <li class="field-error">{format!("{}: {}", e.path, e.message)}</li>
                    }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}
