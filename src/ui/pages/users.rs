//! `/users` (administrators): every user, with their role; add a user, change a role,
//! disable or enable, reset a password.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::account::{AddUser, ChangeUser, list_users};
use crate::domain::access::Role;
use crate::domain::user::User;
use crate::error::AppError;
use crate::ui::components::actions::PostForm;
use crate::ui::components::field::{TextField, field_error, form_error};
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let users = Resource::new(
        move || (add.version().get(), change.version().get()),
        |_| list_users(),
    );
    let change_error = move || {
        change
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    view! {
        <Title text="Users" />
        <div class="page-head"><h1>"Users"</h1></div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! {
                        <section class="card" aria-labelledby="users-heading">
                            <h2 id="users-heading">"Everyone"</h2>
                            <p class="alert" role="alert">{change_error}</p>
                            <table class="table" aria-label="Users">
                                <thead><tr>
                                    <th scope="col">"User"</th><th scope="col">"Role"</th>
                                    <th scope="col">"Status"</th><th scope="col">"Password"</th>
                                </tr></thead>
                                <tbody>
                                    {users.into_iter().map(|user| view! { <UserRow user change /> }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any(),
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
        <AddUserForm add />
    }
}

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> })
        .collect_view()
}

#[component]
fn UserRow(user: User, change: ServerAction<ChangeUser>) -> impl IntoView {
    let name = user.name.to_string();
    let role = RwSignal::new(user.role.as_str().to_owned());
    let password = RwSignal::new(String::new());
    let flip = (!user.disabled).to_string();
    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
    let (h1, h2, h3) = (name.clone(), name.clone(), name.clone());
    let (role_id, password_id) = (format!("role-{name}"), format!("password-{name}"));
    let (role_label, password_label) = (
        format!("Role of {name}"),
        format!("New password for {name}"),
    );
    let flip_value = flip.clone();
    view! {
        <tr class:disabled=user.disabled>
            <td><strong>{user.display_name.clone()}</strong> " " <span class="muted">{name}</span></td>
            <td>
                <PostForm url=ChangeUser::url() class="inline" on_submit=move || {
                    change.dispatch(ChangeUser { name: n1.clone(), role: Some(role.get_untracked()), disabled: None, password: None });
                }>
                    <input type="hidden" name="name" value=h1 />
                    <label class="visually-hidden" for=role_id.clone()>{role_label}</label>
                    <select id=role_id name="role" on:change=move |ev| role.set(event_target_value(&ev))>
                        {role_options(user.role)}
                    </select>
                    <button type="submit">"Change role"</button>
                </PostForm>
            </td>
            <td>
                <PostForm url=ChangeUser::url() class="inline" on_submit=move || {
                    change.dispatch(ChangeUser { name: n2.clone(), role: None, disabled: Some(flip_value.clone()), password: None });
                }>
                    <input type="hidden" name="name" value=h2 />
                    <input type="hidden" name="disabled" value=flip />
                    {if user.disabled { "disabled " } else { "enabled " }}
                    <button type="submit">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </PostForm>
            </td>
            <td>
                <PostForm url=ChangeUser::url() class="inline" on_submit=move || {
                    change.dispatch(ChangeUser { name: n3.clone(), role: None, disabled: None, password: Some(password.get_untracked()) });
                    password.set(String::new());
                }>
                    <input type="hidden" name="name" value=h3 />
                    <label class="visually-hidden" for=password_id.clone()>{password_label}</label>
                    <input id=password_id name="password" type="password" autocomplete="new-password"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                    <button type="submit">"Reset password"</button>
                </PostForm>
            </td>
        </tr>
    }
}

#[component]
fn AddUserForm(add: ServerAction<AddUser>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer.as_str().to_owned());
    let error = RwSignal::new(None::<AppError>);
    Effect::new(move |_| match add.value().get() {
        Some(Ok(_)) => {
            name.set(String::new());
            display_name.set(String::new());
            password.set(String::new());
            error.set(None);
        }
        Some(Err(err)) => error.set(Some(err)),
        None => {}
    });
    let field = move |path: &'static str| field_error(error, path);
    view! {
        <section class="card" aria-labelledby="add-user-heading">
            <h2 id="add-user-heading">"Add a user"</h2>
            <PostForm url=AddUser::url() on_submit=move || {
                add.dispatch(AddUser {
                    name: name.get_untracked(),
                    display_name: display_name.get_untracked(),
                    password: password.get_untracked(),
                    role: role.get_untracked(),
                });
            }>
                <TextField label="User name" name="name" value=name error=field("name") required=true />
                <TextField label="Display name" name="display_name" value=display_name error=field("display_name") />
                <TextField label="Password" name="password" value=password error=field("password")
                    required=true password=true autocomplete="new-password" hint="At least 10 characters." />
                <div class="field">
                    <label for="new-role">"Role"</label>
                    <select id="new-role" name="role" on:change=move |ev| role.set(event_target_value(&ev))>
                        {role_options(Role::Viewer)}
                    </select>
                </div>
                <p class="alert" role="alert">{form_error(error)}</p>
                <button type="submit" class="primary" disabled=move || add.pending().get()>"Add user"</button>
            </PostForm>
        </section>
    }
}
