//! `/integrations/new` and `/integrations/{id}/edit`: name, description, trigger and
//! steps, as forms or as raw JSON (the two views round-trip). The flow is checked with
//! the server's own rules before it is sent; Save is guarded by the revision the
//! editor started from, and a conflict keeps every character typed.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Map, Value, json};

use crate::api::integrations::{
    DiscardDraft, create_integration_with, get_integration, save_draft,
};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::ActionKind;
use crate::domain::{Description, IntegrationDetail, IntegrationName};
use crate::error::{AppError, FieldError};
use crate::ui::components::actions::{PostForm, PublishForm};
use crate::ui::components::badges::{StateBadges, VersionBadge};
use crate::ui::live::follow_live;
use crate::ui::pages::not_found::ErrorPanel;

/// One step as the form holds it: every field as typed.
#[derive(Clone, Debug, Default, PartialEq)]
struct StepForm {
    /// Stable across reordering, so that inputs keep focus and text.
    key: u64,
    kind: String,
    message: String,
    template: String,
    condition: String,
    method: String,
    url: String,
    headers: String,
    timeout: String,
}

const STEP_KINDS: [(&str, &str); 4] = [
    ("log", "Log"),
    ("transform", "Transform"),
    ("filter", "Filter"),
    ("http", "HTTP request"),
];

fn kind_label(kind: &str) -> &'static str {
    STEP_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Step", |(_, label)| label)
}

/// The editor's state: what the form shows.
#[derive(Clone, Copy)]
struct Editor {
    name: RwSignal<String>,
    description: RwSignal<String>,
    trigger: RwSignal<String>,
    path: RwSignal<String>,
    every: RwSignal<String>,
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
            trigger: RwSignal::new("webhook".into()),
            path: RwSignal::new(String::new()),
            every: RwSignal::new("60".into()),
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

    /// Fills the form from a definition's JSON (as much of it as makes sense).
    fn load(&self, definition: &Value) {
        let trigger = &definition["trigger"];
        self.trigger
            .set(trigger["kind"].as_str().unwrap_or("webhook").to_owned());
        self.path
            .set(trigger["path"].as_str().unwrap_or_default().to_owned());
        if let Some(every) = trigger["every_seconds"].as_u64() {
            self.every.set(every.to_string());
        }
        let steps = definition["steps"]
            .as_array()
            .map(|steps| steps.iter().map(|step| self.step_from(step)).collect())
            .unwrap_or_default();
        self.steps.set(steps);
    }

    fn fresh_key(&self) -> u64 {
        let key = self.next_key.get_untracked();
        self.next_key.set(key + 1);
        key
    }

    fn step_from(&self, step: &Value) -> StepForm {
        let text = |field: &str| step[field].as_str().unwrap_or_default().to_owned();
        let pretty = |value: &Value| {
            if value.is_null() {
                String::new()
            } else {
                serde_json::to_string_pretty(value).unwrap_or_default()
            }
        };
        StepForm {
            key: self.fresh_key(),
            kind: text("kind"),
            message: text("message"),
            template: pretty(&step["template"]),
            condition: text("condition"),
            method: step["method"].as_str().unwrap_or("POST").to_owned(),
            url: text("url"),
            headers: pretty(&step["headers"]),
            timeout: step["timeout_seconds"]
                .as_u64()
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }
    }

    fn blank_step(&self, kind: &str) -> StepForm {
        StepForm {
            key: self.fresh_key(),
            kind: kind.to_owned(),
            method: "POST".into(),
            template: if kind == "transform" {
                "{\n  \"id\": \"{{ body.id }}\"\n}".into()
            } else {
                String::new()
            },
            ..StepForm::default()
        }
    }

    /// The form as definition JSON; text that should be JSON or a number and is not is
    /// reported at its field.
    fn form_json(&self) -> (Value, Vec<FieldError>) {
        let mut errors = Vec::new();
        let trigger = match self.trigger.get_untracked().as_str() {
            "timer" => {
                let every = self.every.get_untracked();
                match every.trim().parse::<u64>() {
                    Ok(n) => json!({ "kind": "timer", "every_seconds": n }),
                    Err(_) => {
                        errors.push(FieldError::new(
                            "trigger.every_seconds",
                            "must be a whole number of seconds",
                        ));
                        json!({ "kind": "timer", "every_seconds": 0 })
                    }
                }
            }
            _ => json!({ "kind": "webhook", "path": self.path.get_untracked().trim() }),
        };
        let steps: Vec<Value> = self
            .steps
            .get_untracked()
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let mut object = Map::new();
                object.insert("kind".into(), json!(step.kind));
                match step.kind.as_str() {
                    "log" => {
                        object.insert("message".into(), json!(step.message));
                    }
                    "transform" => {
                        let template = json_field(
                            &step.template,
                            format!("steps[{index}].template"),
                            &mut errors,
                        );
                        object.insert("template".into(), template);
                    }
                    "filter" => {
                        object.insert("condition".into(), json!(step.condition));
                    }
                    _ => {
                        object.insert("method".into(), json!(step.method));
                        object.insert("url".into(), json!(step.url.trim()));
                        if !step.headers.trim().is_empty() {
                            let headers = json_field(
                                &step.headers,
                                format!("steps[{index}].headers"),
                                &mut errors,
                            );
                            object.insert("headers".into(), headers);
                        }
                        if !step.timeout.trim().is_empty() {
                            match step.timeout.trim().parse::<u64>() {
                                Ok(n) => {
                                    object.insert("timeout_seconds".into(), json!(n));
                                }
                                Err(_) => errors.push(FieldError::new(
                                    format!("steps[{index}].timeout_seconds"),
                                    "must be a whole number of seconds",
                                )),
                            }
                        }
                    }
                }
                Value::Object(object)
            })
            .collect();
        (json!({ "trigger": trigger, "steps": steps }), errors)
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
        match crate::json::parse::<Value>(&self.raw.get_untracked()) {
            Ok(value) => {
                self.load(&value);
                self.raw_mode.set(false);
                self.errors.set(Vec::new());
            }
            Err(err) => self.errors.set(vec![FieldError::new(
                "definition",
                format!("not valid JSON: {err}"),
            )]),
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

/// Text that should be JSON; when it is not, an error at `path` and an empty object.
fn json_field(text: &str, path: String, errors: &mut Vec<FieldError>) -> Value {
    crate::json::parse(text).unwrap_or_else(|err| {
        errors.push(FieldError::new(path, format!("not valid JSON: {err}")));
        Value::Object(Map::new())
    })
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
    let new_kind = RwSignal::new("log".to_owned());
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
            <Show when=move || editor.raw_mode.get() fallback=move || view! { <FlowForm editor new_kind /> }>
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

#[component]
fn FlowForm(editor: Editor, new_kind: RwSignal<String>) -> impl IntoView {
    let touch = move || editor.dirty.set(true);
    view! {
        <fieldset class="trigger">
            <legend>"Trigger"</legend>
            <Field label="Starts on" id="trigger-kind" error=Signal::derive(|| None)>
                <select id="trigger-kind" prop:value=move || editor.trigger.get()
                    on:change=move |ev| { editor.trigger.set(event_target_value(&ev)); touch(); }>
                    <option value="webhook" selected=move || editor.trigger.get() == "webhook">"Webhook (HTTP POST)"</option>
                    <option value="timer" selected=move || editor.trigger.get() == "timer">"Timer"</option>
                </select>
            </Field>
            <Show when=move || editor.trigger.get() == "timer"
                fallback=move || view! {
                    <Field label="Webhook path" id="trigger-path" error=Signal::derive(editor.error_at("trigger.path"))
                        hint="Called at POST /hooks/PATH; a-z, 0-9 and -">
                        <input id="trigger-path" type="text" prop:value=move || editor.path.get()
                            on:input=move |ev| { editor.path.set(event_target_value(&ev)); touch(); } />
                    </Field>
                }>
                <Field label="Every (seconds)" id="trigger-every" error=Signal::derive(editor.error_at("trigger.every_seconds"))>
                    <input id="trigger-every" type="text" inputmode="numeric" prop:value=move || editor.every.get()
                        on:input=move |ev| { editor.every.set(event_target_value(&ev)); touch(); } />
                </Field>
            </Show>
        </fieldset>
        <p class="field-error">{editor.error_at("steps")}</p>
        <ol class="step-list">
            <For each=move || editor.steps.get() key=|step| (step.key, step.kind.clone()) let:step>
                <StepFields editor key=step.key kind=step.kind.clone() />
            </For>
        </ol>
        <div class="add-step">
            <label for="new-step-kind">"New step"</label>
            <select id="new-step-kind" on:change=move |ev| new_kind.set(event_target_value(&ev))>
                {STEP_KINDS.iter().map(|(kind, label)| view! { <option value=*kind>{*label}</option> }).collect_view()}
            </select>
            <button type="button" on:click=move |_| {
                let step = editor.blank_step(&new_kind.get_untracked());
                editor.steps.update(|steps| steps.push(step));
                touch();
            }>"Add step"</button>
        </div>
    }
}

#[component]
fn StepFields(editor: Editor, key: u64, kind: String) -> impl IntoView {
    let position = move || {
        editor
            .steps
            .with(|steps| steps.iter().position(|s| s.key == key).unwrap_or(0))
    };
    let count = move || editor.steps.with(Vec::len);
    let read = move |f: fn(&StepForm) -> String| {
        move || {
            editor.steps.with(|steps| {
                steps
                    .iter()
                    .find(|s| s.key == key)
                    .map(f)
                    .unwrap_or_default()
            })
        }
    };
    let write = move |f: fn(&mut StepForm, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            editor.steps.update(|steps| {
                if let Some(step) = steps.iter_mut().find(|s| s.key == key) {
                    f(step, value);
                }
            });
            editor.dirty.set(true);
        }
    };
    let move_by = move |delta: isize| {
        editor.steps.update(|steps| {
            let from = steps.iter().position(|s| s.key == key).unwrap_or(0);
            let to = from as isize + delta;
            if to >= 0 && (to as usize) < steps.len() {
                steps.swap(from, to as usize);
            }
        });
        editor.dirty.set(true);
    };
    let remove = move |_| {
        editor.steps.update(|steps| steps.retain(|s| s.key != key));
        editor.dirty.set(true);
    };
    let number = move || position() + 1;
    let legend = {
        let kind = kind.clone();
        move || format!("Step {} · {}", number(), kind_label(&kind))
    };
    let field_id = move |name: &str| format!("step-{key}-{name}");
    let error = move |name: &'static str| {
        Signal::derive(move || {
            let path = format!("steps[{}].{name}", position());
            (editor.error_at_owned(path))()
        })
    };
    let fields = match kind.as_str() {
        "log" => view! {
            <Field label="Message" id=field_id("message") error=error("message") hint="A template: order {{ body.id }} arrived">
                <input id=field_id("message") type="text" prop:value=read(|s| s.message.clone()) on:input=write(|s, v| s.message = v) />
            </Field>
        }.into_any(),
        "transform" => view! {
            <Field label="Template (JSON)" id=field_id("template") error=error("template") hint="Each string is a template; exactly {{ expr }} keeps its type">
                <textarea id=field_id("template") class="code" rows="5" spellcheck="false" prop:value=read(|s| s.template.clone()) on:input=write(|s, v| s.template = v)></textarea>
            </Field>
        }.into_any(),
        "filter" => view! {
            <Field label="Condition" id=field_id("condition") error=error("condition") hint="Keeps the message when it holds, e.g. body.qty > 0">
                <input id=field_id("condition") type="text" prop:value=read(|s| s.condition.clone()) on:input=write(|s, v| s.condition = v) />
            </Field>
        }.into_any(),
        _ => view! {
            <div class="row">
                <Field label="Method" id=field_id("method") error=error("method")>
                    <select id=field_id("method") prop:value=read(|s| s.method.clone()) on:change=write(|s, v| s.method = v)>
                        {["POST", "PUT", "PATCH", "GET", "DELETE"].into_iter().map(|m| view! { <option value=m>{m}</option> }).collect_view()}
                    </select>
                </Field>
                <Field label="URL" id=field_id("url") error=error("url")>
                    <input id=field_id("url") type="url" prop:value=read(|s| s.url.clone()) on:input=write(|s, v| s.url = v) />
                </Field>
            </div>
            <div class="row">
                <Field label="Headers (JSON object)" id=field_id("headers") error=error("headers") hint="Values are secrets: shown back as ********">
                    <textarea id=field_id("headers") class="code" rows="2" spellcheck="false" prop:value=read(|s| s.headers.clone()) on:input=write(|s, v| s.headers = v)></textarea>
                </Field>
                <Field label="Timeout (seconds)" id=field_id("timeout") error=error("timeout_seconds")>
                    <input id=field_id("timeout") type="text" inputmode="numeric" placeholder="10" prop:value=read(|s| s.timeout.clone()) on:input=write(|s, v| s.timeout = v) />
                </Field>
            </div>
        }.into_any(),
    };
    view! {
        <li>
            <fieldset class="step" aria-label=legend.clone()>
                <legend>{legend.clone()}</legend>
                <div class="step-buttons">
                    <button type="button" aria-label=move || format!("Move step {} up", number()) disabled=move || position() == 0 on:click=move |_| move_by(-1)>"↑"</button>
                    <button type="button" aria-label=move || format!("Move step {} down", number()) disabled={move || position() + 1 >= count()} on:click=move |_| move_by(1)>"↓"</button>
                    <button type="button" class="danger" aria-label=move || format!("Remove step {}", number()) on:click=remove>"Remove"</button>
                </div>
                {fields}
                <p class="field-error">{move || error("kind").get()}</p>
            </fieldset>
        </li>
    }
}

/// A label, a control, an optional hint, and the control's error right under it.
#[component]
fn Field(
    label: &'static str,
    #[prop(into)] id: String,
    error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="field" class:has-error=move || error.with(Option::is_some)>
            <label for=id.clone()>{label}</label>
            {children()}
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <p class="field-error" aria-live="polite">{move || error.get()}</p>
        </div>
    }
}
