//! The buttons for the actions allowed now, each a form posting to its server function
//! (so it works without JavaScript). With JavaScript, Publish and Activate first ask
//! for confirmation, showing what would change against the version that runs now.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::integrations::{
    ActivateVersion, DeleteIntegration, DiscardDraft, Publish, Retry, Start, Stop, Unpublish,
    diff_versions,
};
use crate::domain::IntegrationSummary;
use crate::domain::lifecycle::ActionKind;
use crate::domain::version::VersionNumber;
use crate::error::AppError;
use crate::ui::components::diff::DiffView;
use crate::ui::live::use_live;

/// A modal confirmation: the question, what it changes, and Confirm / Cancel.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    title: String,
    confirm_label: String,
    on_confirm: Callback<()>,
    children: Children,
) -> impl IntoView {
    let title_id = "confirm-title";
    view! {
        <div class="overlay" class:open=move || open.get() on:click=move |_| open.set(false)></div>
        <div
            class="dialog"
            class:open=move || open.get()
            role="dialog"
            aria-modal="true"
            aria-labelledby=title_id
            aria-hidden=move || (!open.get()).to_string()
        >
            <h2 id=title_id>{title}</h2>
            {children()}
            <div class="buttons">
                <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                <button
                    type="button"
                    class="primary"
                    on:click=move |_| {
                        open.set(false);
                        on_confirm.run(());
                    }
                >
                    {confirm_label}
                </button>
            </div>
        </div>
    }
}

/// What an action said when it was refused, or nothing.
fn error_of<T>(value: impl Fn() -> Option<Result<T, AppError>>) -> impl Fn() -> Option<String> {
    move || value().and_then(Result::err).map(|err| err.to_string())
}

/// The row of buttons on the detail page.
#[component]
pub fn ActionBar(
    #[prop(into)] integration: Signal<IntegrationSummary>,
    allowed: Signal<Vec<ActionKind>>,
) -> impl IntoView {
    let id = move || integration.with(|i| i.id.to_string());
    let allows = move |kind: ActionKind| allowed.with(|allowed| allowed.contains(&kind));
    let live = use_live();
    let stop = ServerAction::<Stop>::new();
    let start = ServerAction::<Start>::new();
    let retry = ServerAction::<Retry>::new();
    let unpublish = ServerAction::<Unpublish>::new();
    let discard = ServerAction::<DiscardDraft>::new();
    let delete = ServerAction::<DeleteIntegration>::new();
    // Any completed action: show its result at once rather than at the next event.
    for version in [
        stop.version(),
        start.version(),
        retry.version(),
        unpublish.version(),
        discard.version(),
    ] {
        Effect::new(move |_| {
            if version.get() > 0 {
                live.update(|n| *n = n.wrapping_add(1));
            }
        });
    }
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/", Default::default());
        }
    });
    let errors = {
        let stop_error = error_of(move || stop.value().get());
        let start_error = error_of(move || start.value().get());
        let retry_error = error_of(move || retry.value().get());
        let unpublish_error = error_of(move || unpublish.value().get());
        let discard_error = error_of(move || discard.value().get());
        let delete_error = error_of(move || delete.value().get());
        move || {
            stop_error()
                .or_else(&start_error)
                .or_else(&retry_error)
                .or_else(&unpublish_error)
                .or_else(&discard_error)
                .or_else(&delete_error)
        }
    };
    macro_rules! button {
        ($action:expr, $kind:expr, $label:literal, $class:literal) => {
            view! {
                <Show when=move || allows($kind)>
                    <ActionForm action=$action attr:class="inline">
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class=$class>{$label}</button>
                    </ActionForm>
                </Show>
            }
        };
    }
    view! {
        <div class="actions" role="group" aria-label="Actions">
            <Show when=move || allows(ActionKind::Publish)>
                <PublishForm integration />
            </Show>
            {button!(stop, ActionKind::Stop, "Stop", "")}
            {button!(start, ActionKind::Start, "Start", "primary")}
            {button!(retry, ActionKind::Retry, "Retry", "primary")}
            {button!(unpublish, ActionKind::Unpublish, "Unpublish", "danger")}
            {button!(discard, ActionKind::DiscardDraft, "Discard draft", "")}
            {button!(delete, ActionKind::Delete, "Delete", "danger")}
        </div>
        <p class="alert" role="alert">{errors}</p>
    }
}

/// Publish, with an optional note. With JavaScript it asks for confirmation first,
/// showing the draft against the version that runs now.
#[component]
pub fn PublishForm(
    #[prop(into)] integration: Signal<IntegrationSummary>,
    /// Told the integration as it stands after a successful publish.
    #[prop(optional)]
    on_published: Option<Callback<IntegrationSummary>>,
) -> impl IntoView {
    let publish = ServerAction::<Publish>::new();
    let live = use_live();
    let note = RwSignal::new(String::new());
    let open = RwSignal::new(false);
    let id = move || integration.with(|i| i.id.to_string());
    // What would change: the running (active) version against the draft.
    let compared = move || {
        integration.with(|i| match (i.active_version, i.draft_version) {
            (Some(active), Some(draft)) => Some((i.id.to_string(), active, draft)),
            _ => None,
        })
    };
    let diff = crate::json::resource(
        move || open.get().then(compared).flatten(),
        |pair| async move {
            match pair {
                Some((id, a, b)) => diff_versions(id, a.get().to_string(), b.get().to_string())
                    .await
                    .ok(),
                None => None,
            }
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(published)) = publish.value().get() {
            note.set(String::new());
            live.update(|n| *n = n.wrapping_add(1));
            if let Some(on_published) = on_published {
                on_published.run(published);
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        open.set(true);
    };
    let confirm = Callback::new(move |()| {
        publish.dispatch(Publish {
            id: id(),
            note: Some(note.get_untracked()),
        });
    });
    let draft_label = move || integration.with(|i| i.draft_version.map(|v| v.to_string()));
    view! {
        <form method="post" action=Publish::url() class="publish" on:submit=submit>
            <input type="hidden" name="id" value=id />
            <label for="publish-note" class="visually-hidden">"Publish note"</label>
            <input
                id="publish-note"
                name="note"
                type="text"
                maxlength="500"
                placeholder="What changed? (optional)"
                prop:value=move || note.get()
                on:input=move |ev| note.set(event_target_value(&ev))
            />
            <button type="submit" class="primary">"Publish"</button>
        </form>
        <p class="alert" role="alert">{error_of(move || publish.value().get())}</p>
        <ConfirmDialog
            open
            title=String::from("Publish and run this version?")
            confirm_label=String::from("Confirm publish")
            on_confirm=confirm
        >
            <p>
                {move || match draft_label() {
                    Some(draft) => format!("{draft} becomes the active version and replaces what runs now."),
                    None => "The active version is deployed again.".to_owned(),
                }}
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                {move || Suspend::new(async move {
                    diff.await.map(|diff| view! { <DiffView diff /> })
                })}
            </Suspense>
        </ConfirmDialog>
    }
}

/// Activate version `number`, asking first (with JavaScript) and showing what changes
/// against the version that runs now.
#[component]
pub fn ActivateForm(
    #[prop(into)] integration: Signal<IntegrationSummary>,
    number: VersionNumber,
    on_done: Callback<Result<(), AppError>>,
) -> impl IntoView {
    let activate = ServerAction::<ActivateVersion>::new();
    let open = RwSignal::new(false);
    let id = move || integration.with(|i| i.id.to_string());
    let running = move || integration.with(|i| i.current_version.or(i.active_version));
    let diff = crate::json::resource(
        move || open.get().then(|| (id(), running())),
        move |args| async move {
            match args {
                Some((id, Some(running))) => {
                    diff_versions(id, running.get().to_string(), number.get().to_string())
                        .await
                        .ok()
                }
                _ => None,
            }
        },
    );
    Effect::new(move |_| {
        if let Some(result) = activate.value().get() {
            on_done.run(result.map(|_| ()));
        }
    });
    let confirm = Callback::new(move |()| {
        activate.dispatch(ActivateVersion {
            id: id(),
            version: number.get().to_string(),
        });
    });
    view! {
        <form
            method="post"
            action=ActivateVersion::url()
            class="inline"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                open.set(true);
            }
        >
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="version" value=number.get().to_string() />
            <button type="submit">"Activate"</button>
        </form>
        <ConfirmDialog
            open
            title=format!("Activate {number}?")
            confirm_label=String::from("Confirm activate")
            on_confirm=confirm
        >
            <p>
                {move || match running() {
                    Some(running) => format!("{number} replaces {running}, which runs now."),
                    None => format!("{number} becomes the active version."),
                }}
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                {move || Suspend::new(async move {
                    diff.await.map(|diff| view! { <DiffView diff /> })
                })}
            </Suspense>
        </ConfirmDialog>
    }
}
