//! `/tokens`: the signed-in user's API tokens: make one (shown once), see when each
//! was last used, revoke.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::account::{
    ChangeMyPassword, CreateToken, RevokeToken, TokensPage, get_tokens_page,
};
use crate::domain::token::{NewToken, TokenInfo};
use crate::error::AppError;
use crate::ui::components::actions::PostForm;
use crate::ui::components::field::{TextField, field_error, form_error};
use crate::ui::format;
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let page = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| get_tokens_page(),
    );
    view! {
        <Title text="API tokens" />
        <div class="page-head"><h1>"API tokens"</h1></div>
        <p class="muted">
            "A token lets a script use the JSON API as you: send it as "
            <code>"Authorization: Bearer <token>"</code> "."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Tokens page create revoke /> }.into_any(),
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Tokens(
    page: TokensPage,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let made = move || {
        create
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| page.fresh.clone())
    };
    let revoke_error = move || {
        revoke
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let rows = page
        .tokens
        .into_iter()
        .map(|token| view! { <TokenRow token revoke /> })
        .collect_view();
    view! {
        {move || made().map(|made| view! { <FreshToken made /> })}
        <NewTokenForm create />
        <section class="card" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Your tokens"</h2>
            <p class="alert" role="alert">{revoke_error}</p>
            <table class="table" aria-label="Your tokens">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Made"</th>
                    <th scope="col">"Expires"</th><th scope="col">"Last used"</th><th></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
        <PasswordForm />
    }
}

/// Changes the signed-in user's own password.
#[component]
fn PasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangeMyPassword>::new();
    let current = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(false);
    Effect::new(move |_| match change.value().get() {
        Some(Ok(())) => {
            current.set(String::new());
            new_password.set(String::new());
            error.set(None);
            done.set(true);
        }
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Your password"</h2>
            <PostForm url=ChangeMyPassword::url() on_submit=move || {
                done.set(false);
                change.dispatch(ChangeMyPassword {
                    current: current.get_untracked(),
                    new_password: new_password.get_untracked(),
                });
            }>
                <TextField label="Current password" name="current" value=current
                    error=field_error(error, "current") required=true password=true
                    autocomplete="current-password" />
                <TextField label="New password" name="new_password" value=new_password
                    error=field_error(error, "new_password") required=true password=true
                    autocomplete="new-password" hint="At least 10 characters. Your other sessions end." />
                <p class="alert" role="alert">{form_error(error)}</p>
                <p role="status">{move || done.get().then_some("Password changed.")}</p>
                <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
            </PostForm>
        </section>
    }
}

#[component]
fn FreshToken(made: NewToken) -> impl IntoView {
    view! {
        <section class="card notice" aria-labelledby="fresh-heading">
            <h2 id="fresh-heading">{format!("Token “{}”", made.info.name)}</h2>
            <p>"Copy it now: it is not shown again."</p>
            <pre><code aria-label="The new token">{made.token}</code></pre>
        </section>
    }
}

#[component]
fn TokenRow(token: TokenInfo, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str| {
        at.map_or_else(|| none.to_owned(), |at| format::time(&at))
    };
    let id = token.id.clone();
    view! {
        <tr>
            <td>{token.name.clone()}</td>
            <td>{format::time(&token.created_at)}</td>
            <td>{when(token.expires_at, "never")}</td>
            <td>{when(token.last_used_at, "not yet")}</td>
            <td>
                <PostForm url=RevokeToken::url() class="inline"
                    on_submit=move || { revoke.dispatch(RevokeToken { id: id.clone() }); }>
                    <input type="hidden" name="id" value=token.id.clone() />
                    <button type="submit" class="danger" aria-label=format!("Revoke {}", token.name)>
                        "Revoke"
                    </button>
                </PostForm>
            </td>
        </tr>
    }
}

#[component]
fn NewTokenForm(create: ServerAction<CreateToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AppError>);
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            name.set(String::new());
            days.set(String::new());
            error.set(None);
        }
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    let field = move |path: &'static str| field_error(error, path);
    view! {
        <section class="card" aria-labelledby="new-token-heading">
            <h2 id="new-token-heading">"New token"</h2>
            <PostForm url=CreateToken::url() on_submit=move || {
                create.dispatch(CreateToken {
                    name: name.get_untracked(),
                    expires_in_days: Some(days.get_untracked()),
                });
            }>
                <TextField label="Name" name="name" value=name error=field("name") required=true
                    hint="What it is for, e.g. “ci”." />
                <TextField label="Expires after (days)" name="expires_in_days" value=days
                    error=field("expires_in_days") hint="Empty: until revoked." />
                <button type="submit" class="primary" disabled=move || create.pending().get()>
                    "Make token"
                </button>
            </PostForm>
        </section>
    }
}
