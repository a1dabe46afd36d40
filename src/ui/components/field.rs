//! A labelled form field with its error message beside it, wired for screen readers.

use leptos::prelude::*;

/// A text input (or a text area with `multiline`) bound to `value`, showing `error`
/// under it. The field's `name` is what the form submits, and also its id.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] multiline: bool,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    /// A password: typed unseen; `autocomplete` says which kind to the browser
    /// ("current-password", "new-password").
    #[prop(optional)]
    password: bool,
    #[prop(optional)] autocomplete: Option<&'static str>,
    /// Called after each keystroke, once `value` holds the new text.
    #[prop(optional, into)]
    on_input: Option<Callback<()>>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let hint_id = format!("{name}-hint");
    let described_by = match hint {
        Some(_) => format!("{hint_id} {error_id}"),
        None => error_id.clone(),
    };
    let invalid = move || error.with(Option::is_some).to_string();
    let handle_input = move |ev: leptos::ev::Event| {
        value.set(event_target_value(&ev));
        if let Some(on_input) = on_input {
            on_input.run(());
        }
    };
    // The server renders the current text as the initial content; after hydration the
    // `value` property follows the signal.
    let initial = value.get_untracked();
    let control = if multiline {
        view! {
            <textarea
                id=name
                name=name
                rows="3"
                aria-invalid=invalid
                aria-describedby=described_by.clone()
                prop:value=move || value.get()
                on:input=handle_input
            >
                {initial}
            </textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=name
                name=name
                type=if password { "password" } else { "text" }
                autocomplete=autocomplete.unwrap_or("off")
                required=required
                aria-invalid=invalid
                aria-describedby=described_by.clone()
                value=initial
                prop:value=move || value.get()
                on:input=handle_input
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:has-error=move || error.with(Option::is_some)>
            <label for=name>{label}</label>
            {control}
            {hint.map(|hint| view! { <p id=hint_id class="hint">{hint}</p> })}
            <p id=error_id class="field-error" aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// A form's error as a whole, for its alert (field errors show beside their fields).
pub fn form_error(
    error: RwSignal<Option<crate::error::AppError>>,
) -> impl Fn() -> Option<String> + Copy {
    move || {
        error.with(|err| {
            err.as_ref()
                .filter(|err| !matches!(err, crate::error::AppError::ValidationFailed { .. }))
                .map(ToString::to_string)
        })
    }
}

/// What a form's error says about one field.
pub fn field_error(
    error: RwSignal<Option<crate::error::AppError>>,
    field: &'static str,
) -> Signal<Option<String>> {
    Signal::derive(move || error.with(|err| err.as_ref().and_then(|err| err.message_for(field))))
}
