//! Signing in, creating the first administrator, and the signed-in user's corner of
//! the header (name, role, sign-out). Every form works without JavaScript: the server
//! redirects; with it, a successful form loads the next page in full, so that every
//! part of the page (the header among them) shows the new user.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::account::{CreateFirstAdmin, Me, SignIn, SignOut, local_path};
use crate::error::AppError;
use crate::ui::components::actions::PostForm;
use crate::ui::components::field::{TextField, field_error, form_error};

/// Loads `path` in full (after signing in or out).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// What a form posted without JavaScript got back: the fields it sent and the error.
fn returned(fields: &[&str]) -> (Vec<String>, Option<AppError>) {
    let query = use_query_map();
    query.with_untracked(|query| {
        (
            fields
                .iter()
                .map(|field| query.get(field).unwrap_or_default())
                .collect(),
            query
                .get("error")
                .and_then(|json| crate::json::parse::<AppError>(&json).ok()),
        )
    })
}

/// `/sign-in`.
#[component]
pub fn SignInPage() -> impl IntoView {
    let (typed, returned_error) = returned(&["name", "next"]);
    let next = local_path(
        Some(&typed[1])
            .filter(|next| !next.is_empty())
            .map(String::as_str),
    );
    let name = RwSignal::new(typed[0].clone());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(returned_error);
    let sign_in = ServerAction::<SignIn>::new();
    Effect::new(move |_| match sign_in.value().get() {
        Some(Ok(next)) => go_to(&next),
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    let next_field = next.clone();
    view! {
        <Title text="Sign in" />
        <section class="card narrow" aria-labelledby="sign-in-heading">
            <h1 id="sign-in-heading">"Sign in"</h1>
            <PostForm
                url=SignIn::url()
                on_submit=move || {
                    sign_in.dispatch(SignIn {
                        name: name.get_untracked(),
                        password: password.get_untracked(),
                        next: Some(next.clone()),
                    });
                }
            >
                <TextField label="User name" name="name" value=name error=field_error(error, "name")
                    required=true autocomplete="username" />
                <TextField label="Password" name="password" value=password
                    error=field_error(error, "password") required=true password=true
                    autocomplete="current-password" />
                <input type="hidden" name="next" value=next_field />
                <p class="alert" role="alert">{form_error(error)}</p>
                <button type="submit" class="primary" disabled=move || sign_in.pending().get()>
                    "Sign in"
                </button>
            </PostForm>
        </section>
    }
}

/// `/first-run`: while no user exists, the first administrator is created here.
#[component]
pub fn FirstRunPage() -> impl IntoView {
    let (typed, returned_error) = returned(&["name", "display_name"]);
    let name = RwSignal::new(typed[0].clone());
    let display_name = RwSignal::new(typed[1].clone());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(returned_error);
    let create = ServerAction::<CreateFirstAdmin>::new();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(next)) => go_to(&next),
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    view! {
        <Title text="Create the first administrator" />
        <section class="card narrow" aria-labelledby="first-run-heading">
            <h1 id="first-run-heading">"Create the first administrator"</h1>
            <p class="muted">
                "Nobody can use Junction yet. The administrator made here adds everyone else."
            </p>
            <PostForm
                url=CreateFirstAdmin::url()
                on_submit=move || {
                    create.dispatch(CreateFirstAdmin {
                        name: name.get_untracked(),
                        display_name: display_name.get_untracked(),
                        password: password.get_untracked(),
                    });
                }
            >
                <TextField label="User name" name="name" value=name error=field_error(error, "name")
                    required=true autocomplete="username"
                    hint="a-z, 0-9, dots, dashes and underscores; the history shows it." />
                <TextField label="Display name" name="display_name" value=display_name
                    error=field_error(error, "display_name") autocomplete="name" />
                <TextField label="Password" name="password" value=password
                    error=field_error(error, "password") required=true password=true
                    autocomplete="new-password" hint="At least 10 characters." />
                <p class="alert" role="alert">{form_error(error)}</p>
                <button type="submit" class="primary" disabled=move || create.pending().get()>
                    "Create the administrator"
                </button>
            </PostForm>
        </section>
    }
}

/// The signed-in user in the header: name, role, and a sign-out button.
#[component]
pub fn UserMenu(me: Me) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            go_to(crate::ui::SIGN_IN_PATH);
        }
    });
    view! {
        <div class="user-menu">
            <span class="who">
                <span class="user-name">{me.display_name}</span>
                " "
                <span class="role-badge">{me.role.as_str()}</span>
            </span>
            <PostForm url=SignOut::url() class="inline" on_submit=move || { sign_out.dispatch(SignOut {}); }>
                <button type="submit" class="link">"Sign out"</button>
            </PostForm>
        </div>
    }
}
