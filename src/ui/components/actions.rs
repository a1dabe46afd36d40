//! The buttons for the actions allowed now, each a form posting to its server function
//! (so it works without JavaScript). With JavaScript, Publish and Activate first ask
//! for confirmation, showing what would change against the version that runs now.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::integrations::{
    ActivateVersion, DeleteIntegration, DiscardDraft, Publish, Retry, Start, Stop, Unpublish,
    delete_integration, diff_versions, discard_draft, retry, start, stop, unpublish,
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

/// A form posting to the server function at `url`. Without JavaScript the browser
/// posts it, its inputs carrying the arguments. With JavaScript, submitting runs
/// `on_submit`, which dispatches the same arguments from the page's own state.
/// (Leptos's ActionForm reads them back out of the form instead, which ships
/// serde_qs's deserializer, ~45 KB before optimisation, to every browser.)
#[component]
pub fn PostForm(
    url: &'static str,
    #[prop(optional)] class: &'static str,
    #[prop(into)] on_submit: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <form
            method="post"
            action=url
            class=class
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                on_submit.run(());
            }
        >
            {children()}
        </form>
    }
}

/// What an action said when it was refused, or nothing.
fn error_of<T>(value: impl Fn() -> Option<Result<T, AppError>>) -> impl Fn() -> Option<String> {
    move || value().and_then(Result::err).map(|err| err.to_string())
}

/// The actions of the action bar that need nothing but the integration.
#[derive(Clone, Copy)]
enum Button {
    Stop,
    Start,
    Retry,
    Unpublish,
    DiscardDraft,
    Delete,
}

impl Button {
    const ALL: [Button; 6] = [
        Button::Stop,
        Button::Start,
        Button::Retry,
        Button::Unpublish,
        Button::DiscardDraft,
        Button::Delete,
    ];

    fn kind(self) -> ActionKind {
        match self {
            Button::Stop => ActionKind::Stop,
            Button::Start => ActionKind::Start,
            Button::Retry => ActionKind::Retry,
            Button::Unpublish => ActionKind::Unpublish,
            Button::DiscardDraft => ActionKind::DiscardDraft,
            Button::Delete => ActionKind::Delete,
        }
    }

    /// The label, and the look.
    fn label(self) -> (&'static str, &'static str) {
        match self {
            Button::Stop => ("Stop", ""),
            Button::Start => ("Start", "primary"),
            Button::Retry => ("Retry", "primary"),
            Button::Unpublish => ("Unpublish", "danger"),
            Button::DiscardDraft => ("Discard draft", ""),
            Button::Delete => ("Delete", "danger"),
        }
    }

    /// The server function the form posts to without JavaScript.
    fn url(self) -> &'static str {
        match self {
            Button::Stop => Stop::url(),
            Button::Start => Start::url(),
            Button::Retry => Retry::url(),
            Button::Unpublish => Unpublish::url(),
            Button::DiscardDraft => DiscardDraft::url(),
            Button::Delete => DeleteIntegration::url(),
        }
    }

    /// Runs the action on integration `id`: the integration as it stands after, or
    /// `None` once it is deleted.
    async fn perform(self, id: String) -> Result<Option<IntegrationSummary>, AppError> {
        let summary = match self {
            Button::Stop => stop(id).await,
            Button::Start => start(id).await,
            Button::Retry => retry(id).await,
            Button::Unpublish => unpublish(id).await,
            Button::DiscardDraft => discard_draft(id).await,
            Button::Delete => return delete_integration(id).await.map(|()| None),
        };
        summary.map(Some)
    }
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
    // One action for all the buttons: one result (and error) to show, the latest.
    let act = Action::new(|(button, id): &(Button, String)| button.perform(id.clone()));
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| match act.value().get() {
        Some(Ok(None)) => navigate("/", Default::default()),
        // Show the result at once rather than at the next event; when refused, the
        // state that refused it.
        Some(_) => live.update(|n| *n = n.wrapping_add(1)),
        None => {}
    });
    let buttons = Button::ALL.map(|button| {
        let (label, class) = button.label();
        view! {
            <Show when=move || allows(button.kind())>
                <PostForm
                    url=button.url()
                    class="inline"
                    on_submit=move || {
                        act.dispatch((button, id()));
                    }
                >
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class=class>{label}</button>
                </PostForm>
            </Show>
        }
    });
    view! {
        <div class="actions" role="group" aria-label="Actions">
            <Show when=move || allows(ActionKind::Publish)>
                <PublishForm integration />
            </Show>
            {buttons.into_iter().collect_view()}
        </div>
        <p class="alert" role="alert">{error_of(move || act.value().get())}</p>
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
