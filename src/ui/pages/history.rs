//! `/integrations/{id}/history`: every version (with what it holds and who published
//! it), what to do with each, the difference between any two, and the transition log.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::integrations::{
    NewFromVersion, PromoteVersion, RestoreVersion, diff_versions, get_history,
};
use crate::domain::lifecycle::ActionKind;
use crate::domain::version::VersionNumber;
use crate::domain::{History, HistoryVersion};
use crate::error::AppError;
use crate::ui::components::actions::{ActivateForm, PostForm};
use crate::ui::components::badges::{StateBadges, VersionBadge};
use crate::ui::components::diff::DiffView;
use crate::ui::components::pager::Pager;
use crate::ui::format;
use crate::ui::live::{live_data, newest, use_live};
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let id = params.with(|p| p.get("id").unwrap_or_default());
        let page = query.with(|q| q.get("page").unwrap_or_default());
        let log = query.with(|q| q.get("log").unwrap_or_default());
        format!("{id}|{page}|{log}")
    };
    let (initial, latest) = live_data(key, |key: String| async move {
        let mut parts = key.split('|');
        let id = parts.next().unwrap_or_default().to_owned();
        let page = parts.next().and_then(|p| p.parse().ok());
        let log = parts.next().and_then(|p| p.parse().ok());
        get_history(id, page, log).await
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(first) => view! { <HistoryView data=newest(first, key(), latest) /> }.into_any(),
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn HistoryView(data: Signal<History>) -> impl IntoView {
    let integration = Signal::derive(move || data.with(|h| h.integration.clone()));
    let id = integration.with_untracked(|i| i.id.to_string());
    let name = move || integration.with(|i| i.name.clone());
    let query = use_query_map();
    let compare = move || {
        query.with(|q| {
            let a = q.get("a").and_then(|a| VersionNumber::parse(&a).ok())?;
            let b = q.get("b").and_then(|b| VersionNumber::parse(&b).ok())?;
            Some((a, b))
        })
    };
    let diff_id = id.clone();
    let diff = crate::json::resource(compare, move |pair| {
        let id = diff_id.clone();
        async move {
            match pair {
                Some((a, b)) => {
                    Some(diff_versions(id, a.get().to_string(), b.get().to_string()).await)
                }
                None => None,
            }
        }
    });
    let page_href = {
        let id = id.clone();
        move |page: u32| format!("/integrations/{id}/history?page={page}")
    };
    let log_href = {
        let id = id.clone();
        move |page: u32| format!("/integrations/{id}/history?log={page}")
    };
    let versions = move || data.with(|h| h.versions.items.clone());
    let numbers = move || {
        versions()
            .into_iter()
            .map(|v| v.version.summary.number)
            .collect::<Vec<_>>()
    };
    let paging = data.with_untracked(|h| (h.versions.page, h.versions.per_page, h.versions.total));
    let log_paging = data.with_untracked(|h| {
        (
            h.transitions.page,
            h.transitions.per_page,
            h.transitions.total,
        )
    });
    let (selected_a, selected_b) = compare().map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let detail_href = format!("/integrations/{id}");
    // The API answers the browser's session too; `download` saves it as a file.
    let export_href = format!("/api/v1/integrations/{id}/export?transitions=true");
    let export_file = move || format!("{}.junction.json", format::slug(&name()));
    view! {
        <Title text=move || format!("History of {}", name()) />
        <nav class="crumbs" aria-label="Breadcrumb"><A href="/">"Integrations"</A>" / "<a href=detail_href>{name}</a>" /"</nav>
        <div class="page-head">
            <h1>"History of " {name}</h1>
            <div class="head-badges">
                <VersionBadge version=Signal::derive(move || integration.with(|i| i.active_version)) />
                <StateBadges integration />
                <a class="button" href=export_href download=export_file
                    title="Every version with its notes, authors and hashes, as a file another Junction imports (secrets left out)">
                    "Export"
                </a>
            </div>
        </div>
        {query.with_untracked(|q| q.get("imported")).map(|summary| view! {
            <p class="notice" role="status">{format!("Imported: {summary}.")}</p>
        })}
        <section class="card" aria-labelledby="versions-heading">
            <h2 id="versions-heading">"Versions"</h2>
            <table class="table" aria-label="Versions">
                <thead>
                    <tr>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Published"</th>
                        <th scope="col">"Note"</th>
                        <th scope="col">"Content"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=versions
                        key=|row| (row.version.summary.number, row.version.summary.published.is_some())
                        let:row
                    >
                        <VersionRow row integration data />
                    </For>
                </tbody>
            </table>
            <Pager page=paging.0 per_page=paging.1 total=paging.2 href=page_href label="Version pages" />
        </section>
        <Show when=move || data.with(|h| !h.promotions.is_empty())>
            <section class="card" aria-labelledby="promotions-heading">
                <h2 id="promotions-heading">"Promotions"</h2>
                <table class="table compact" aria-label="Promotions">
                    <thead><tr><th scope="col">"When"</th><th scope="col">"Version"</th><th scope="col">"To"</th><th scope="col">"By"</th><th scope="col">"Answer"</th></tr></thead>
                    <tbody>
                        {move || data.with(|h| h.promotions.clone()).into_iter().map(|p| view! {
                            <tr data-testid="promotion-row">
                                <td><time datetime=format::machine_time(&p.at)>{format::time(&p.at)}</time></td>
                                <td>{p.version.to_string()}{p.activate.then_some(" (to run)")}</td>
                                <td>{p.remote.clone()}<div class="muted small">{p.remote_url.clone()}</div></td>
                                <td>{p.actor.clone()}</td>
                                <td class:alert=!p.ok>{if p.ok { "taken: " } else { "not taken: " }}{p.answer.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </Show>
        <section class="card" aria-labelledby="compare-heading">
            <h2 id="compare-heading">"Compare two versions"</h2>
            <form method="get" class="compare">
                <label>"From " <select name="a">{move || numbers().into_iter().map(|n| view! {
                    <option value=n.get().to_string() selected=selected_a == Some(n)>{n.to_string()}</option>
                }).collect_view()}</select></label>
                <label>"to " <select name="b">{move || numbers().into_iter().map(|n| view! {
                    <option value=n.get().to_string() selected=selected_b == Some(n)>{n.to_string()}</option>
                }).collect_view()}</select></label>
                <button type="submit">"Compare"</button>
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match diff.await {
                        Some(Ok(diff)) => view! { <DiffView diff /> }.into_any(),
                        Some(Err(err)) => view! { <p class="alert" role="alert">{err.to_string()}</p> }.into_any(),
                        None => ().into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="log-heading">
            <h2 id="log-heading">"Transition log"</h2>
            <table class="table compact" aria-label="Transition log">
                <thead><tr><th scope="col">"When"</th><th scope="col">"Change"</th><th scope="col">"By"</th><th scope="col">"Why"</th></tr></thead>
                <tbody>
                    {move || data.with(|h| h.transitions.items.clone()).into_iter().map(|t| view! {
                        <tr data-testid="transition-row">
                            <td><time datetime=format::machine_time(&t.at)>{format::time(&t.at)}</time></td>
                            <td><code>{t.field.clone()}</code>" " {t.from.clone().unwrap_or_else(|| "—".into())}" → "{t.to.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{t.actor.clone()}</td>
                            <td>{t.reason.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <Pager page=log_paging.0 per_page=log_paging.1 total=log_paging.2 href=log_href label="Log pages" />
        </section>
    }
}

#[component]
fn VersionRow(
    row: HistoryVersion,
    integration: Signal<crate::domain::IntegrationSummary>,
    data: Signal<History>,
) -> impl IntoView {
    let summary = row.version.summary.clone();
    let number = summary.number;
    let is_draft = summary.is_draft();
    let id = StoredValue::new(integration.with_untracked(|i| i.id.to_string()));
    let allows = move |kind: ActionKind| data.with(|h| h.allowed_actions.contains(&kind));
    let is_active = move || integration.with(|i| i.active_version == Some(number));
    let is_running = move || integration.with(|i| i.current_version == Some(number));
    let live = use_live();
    let navigate = use_navigate();
    let restore = ServerAction::<RestoreVersion>::new();
    let promote = ServerAction::<PromoteVersion>::new();
    let remotes = move || data.with(|h| h.remotes.clone());
    let remote = RwSignal::new(String::new());
    let run_there = RwSignal::new(false);
    let copy = ServerAction::<NewFromVersion>::new();
    let message = RwSignal::new(None::<String>);
    Effect::new(move |_| match restore.value().get() {
        Some(Ok(_)) => live.update(|n| *n = n.wrapping_add(1)),
        Some(Err(err)) => message.set(Some(err.to_string())),
        None => {}
    });
    Effect::new(move |_| match copy.value().get() {
        Some(Ok(created)) => navigate(&format!("/integrations/{}", created.id), Default::default()),
        Some(Err(err)) => message.set(Some(err.to_string())),
        None => {}
    });
    Effect::new(move |_| match promote.value().get() {
        Some(Ok(promotion)) => {
            message.set(Some(match promotion.ok {
                true => format!("Promoted to {}: {}", promotion.remote, promotion.answer),
                false => format!("Not promoted to {}: {}", promotion.remote, promotion.answer),
            }));
            live.update(|n| *n = n.wrapping_add(1));
        }
        Some(Err(err)) => message.set(Some(err.to_string())),
        None => {}
    });
    let on_activated = Callback::new(move |result: Result<(), AppError>| match result {
        Ok(()) => live.update(|n| *n = n.wrapping_add(1)),
        Err(err) => message.set(Some(err.to_string())),
    });
    let published = summary.published.clone();
    let definition = serde_json::to_string_pretty(&row.version.definition).unwrap_or_default();
    view! {
        <tr data-testid="version-row" data-version=number.get().to_string() class:active-row=is_active>
            <th scope="row">
                {number.to_string()}
                {if is_draft { Some(view! { <span class="badge draft-marker">"draft"</span> }) } else { None }}
                <Show when=is_active><span class="badge active">"active"</span></Show>
                <Show when=is_running><span class="badge running">"running"</span></Show>
                {summary.based_on.map(|b| view! { <div class="muted small">{format!("from {b}")}</div> })}
                {summary.source.clone().map(|s| view! { <div class="muted small">{format!("blueprint of {} {}", s.integration_id, s.number)}</div> })}
            </th>
            <td>
                {published.as_ref().map(|p| format!("{} by {}", format::time(&p.at), p.by)).unwrap_or_else(|| "not yet (draft)".into())}
                {published.as_ref().and_then(|p| p.imported.clone()).map(|i| view! {
                    <div class="muted small">{format!("imported from {} at {}", i.from, format::time(&i.at))}</div>
                })}
            </td>
            <td>{published.as_ref().and_then(|p| p.note.clone()).unwrap_or_default()}</td>
            <td>
                {published.as_ref().map(|p| view! { <code title=p.content_hash.clone()>{format::short_hash(&p.content_hash)}</code> })}
                {row.identical_to.map(|other| view! { <div class="muted small">{format!("identical to {other}")}</div> })}
                <details><summary>"View"</summary><pre class="definition">{definition}</pre></details>
            </td>
            <td class="row-actions">
                {(!is_draft).then(|| view! {
                    <Show when=move || allows(ActionKind::Activate) && !is_active()>
                        <ActivateForm integration number on_done=on_activated />
                    </Show>
                    <Show when=move || allows(ActionKind::RestoreAsDraft)>
                        <PostForm
                            url=RestoreVersion::url()
                            class="inline"
                            on_submit=move || {
                                restore.dispatch(RestoreVersion {
                                    id: id.get_value(),
                                    version: number.get().to_string(),
                                });
                            }
                        >
                            <input type="hidden" name="id" value=move || id.get_value() />
                            <input type="hidden" name="version" value=number.get().to_string() />
                            <button type="submit">"Restore as draft"</button>
                        </PostForm>
                    </Show>
                    <PostForm
                        url=NewFromVersion::url()
                        class="inline"
                        on_submit=move || {
                            copy.dispatch(NewFromVersion {
                                id: id.get_value(),
                                version: number.get().to_string(),
                                name: None,
                                description: None,
                            });
                        }
                    >
                        <input type="hidden" name="id" value=move || id.get_value() />
                        <input type="hidden" name="version" value=number.get().to_string() />
                        <button type="submit">"New integration from this version"</button>
                    </PostForm>
                    <Show when=move || !remotes().is_empty()>
                        <PostForm
                            url=PromoteVersion::url()
                            class="inline promote"
                            on_submit=move || {
                                let chosen = match remote.get_untracked() {
                                    name if name.is_empty() => remotes().first().cloned().unwrap_or_default(),
                                    name => name,
                                };
                                promote.dispatch(PromoteVersion {
                                    id: id.get_value(),
                                    version: number.get().to_string(),
                                    remote: chosen,
                                    activate: run_there.get_untracked().then(|| "true".to_owned()),
                                });
                            }
                        >
                            <input type="hidden" name="id" value=move || id.get_value() />
                            <input type="hidden" name="version" value=number.get().to_string() />
                            <label>"Promote to "
                                <select name="remote" on:change=move |ev| remote.set(event_target_value(&ev))>
                                    {move || remotes().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                                </select>
                            </label>
                            <label class="checkbox">
                                <input type="checkbox" name="activate" value="true"
                                    on:change=move |ev| run_there.set(event_target_checked(&ev)) />
                                " and run it there"
                            </label>
                            <button type="submit" disabled=move || promote.pending().get()>"Promote"</button>
                        </PostForm>
                    </Show>
                })}
                <p class="alert" role="alert">{move || message.get()}</p>
            </td>
        </tr>
    }
}
