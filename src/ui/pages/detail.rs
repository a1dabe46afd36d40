//! `/integrations/{id}`: the active version, the draft, the actions allowed now, the
//! reconciler's progress and failures, recent activity, and the webhook to call.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::integrations::get_detail_page;
use crate::domain::DetailPage;
use crate::ui::components::actions::ActionBar;
use crate::ui::components::badges::{StateBadges, VersionBadge};
use crate::ui::components::chart::ActivityChartView;
use crate::ui::format;
use crate::ui::live::{live_data, newest};
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn IntegrationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let (initial, latest) = live_data(id, get_detail_page);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(first) => {
                        let key = first.detail.integration.id.to_string();
                        view! { <Detail data=newest(first, key, latest) /> }.into_any()
                    }
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Detail(data: Signal<DetailPage>) -> impl IntoView {
    let integration = Signal::derive(move || data.with(|d| d.detail.integration.clone()));
    let allowed = Signal::derive(move || data.with(|d| d.detail.allowed_actions.clone()));
    let id = integration.with_untracked(|i| i.id.to_string());
    let name = move || integration.with(|i| i.name.clone());
    let reconcile = move || integration.with(|i| i.reconcile.clone());
    let failing = move || {
        let r = reconcile();
        r.attempts > 0 || r.gave_up || r.last_error.is_some()
    };
    let active = move || data.with(|d| d.detail.active.clone());
    let draft = move || data.with(|d| d.detail.draft.clone());
    let activity = move || data.with(|d| d.activity.clone());
    let webhook = move || data.with(|d| d.webhook_url.clone());
    let schedule = move || data.with(|d| d.schedule.clone());
    let edit_href = format!("/integrations/{id}/edit");
    let history_href = format!("/integrations/{id}/history");
    view! {
        <Title text=name />
        <nav class="crumbs" aria-label="Breadcrumb"><A href="/">"Integrations"</A> " / "</nav>
        <div class="page-head">
            <div>
                <h1>{name}</h1>
                <p class="muted">{move || integration.with(|i| i.description.clone())}</p>
            </div>
            <div class="head-badges">
                <VersionBadge version=Signal::derive(move || integration.with(|i| i.active_version)) />
                <StateBadges integration />
            </div>
        </div>
        <div class="toolbar">
            <ActionBar integration allowed />
            <div class="links">
                <Show when=move || allowed.with(|a| a.contains(&crate::domain::lifecycle::ActionKind::Edit))>
                    <a class="button" href=edit_href.clone()>"Edit"</a>
                </Show>
                <a class="button" href=history_href.clone()>"History"</a>
            </div>
        </div>
        <Show when=move || integration.with(|i| i.pending())>
            <p class="notice" role="status">
                {move || integration.with(|i| format!(
                    "Pending since {}: {} → {}{}",
                    format::time(&i.updated_at),
                    i.current_state,
                    i.target_state,
                    i.reconcile.phase.map(|p| format!(" ({})", p.label())).unwrap_or_default(),
                ) + &data.with(|d| d.coming_up.clone()).map(|why| format!(": {why}")).unwrap_or_default())}
            </p>
        </Show>
        <Show when=failing>
            <section class="card failure" aria-labelledby="failure-heading" data-testid="failure">
                <h2 id="failure-heading">
                    {move || if reconcile().gave_up { "The reconciler gave up" } else { "Failing" }}
                </h2>
                <p class="error-text">{move || reconcile().last_error.unwrap_or_default()}</p>
                <dl class="facts">
                    <dt>"Attempts"</dt>
                    <dd data-testid="attempts">{move || reconcile().attempts}</dd>
                    <dt>"Next retry"</dt>
                    <dd>
                        {move || {
                            let r = reconcile();
                            if r.gave_up {
                                "none: publish, start, activate or retry to try again".to_owned()
                            } else {
                                r.next_attempt_at.map(|at| format::time(&at)).unwrap_or_else(|| "soon".into())
                            }
                        }}
                    </dd>
                </dl>
            </section>
        </Show>
        <div class="two-columns">
            <div>
                <section class="card" aria-labelledby="active-heading">
                    <h2 id="active-heading">
                        "Active version "
                        {move || active().map(|v| v.summary.number.to_string()).unwrap_or_else(|| "— none yet".into())}
                    </h2>
                    {move || match active() {
                        Some(version) => {
                            let published = version.summary.published.clone();
                            view! {
                                <p class="muted">
                                    {published.map(|p| format!(
                                        "Published {} by {}{}",
                                        format::time(&p.at),
                                        p.by,
                                        p.note.map(|n| format!(" — “{n}”")).unwrap_or_default(),
                                    ))}
                                </p>
                                <pre class="definition" aria-label="active definition">
                                    {serde_json::to_string_pretty(&version.definition).unwrap_or_default()}
                                </pre>
                            }
                            .into_any()
                        }
                        None => view! { <p class="muted">"Publish the draft to run this integration."</p> }.into_any(),
                    }}
                </section>
                <section class="card" aria-labelledby="activity-heading">
                    <h2 id="activity-heading">"Recent activity"</h2>
                    {move || view! { <ActivityChartView chart=data.with(|d| d.chart.clone()) /> }}
                    {move || {
                        let page = activity();
                        if page.items.is_empty() {
                            return view! { <p class="muted">"No messages yet."</p> }.into_any();
                        }
                        view! {
                            <table class="table compact" aria-label="Recent activity">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Version"</th><th scope="col">"Outcome"</th><th scope="col">"Steps"</th><th scope="col">"Took"</th></tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|entry| {
                                        let steps: Vec<(String, String, String)> = entry.steps.as_array().map(|steps| steps.iter().map(|s| (
                                            s["kind"].as_str().unwrap_or("?").to_owned(),
                                            s["outcome"].as_str().unwrap_or("?").to_owned(),
                                            s["detail"].as_str().unwrap_or("").to_owned(),
                                        )).collect()).unwrap_or_default();
                                        let outcome_class = format!("outcome {}", entry.outcome);
                                        view! {
                                            <tr data-testid="activity-row">
                                                <td><time datetime=format::machine_time(&entry.started_at)>{format::time(&entry.started_at)}</time><br/><span class="muted">{entry.trigger.clone()}</span></td>
                                                <td>{entry.version.to_string()}</td>
                                                <td><span class=outcome_class>{entry.outcome.clone()}</span>
                                                    {entry.error.clone().map(|e| view! { <div class="error-text">{e}</div> })}</td>
                                                <td><ol class="steps">{steps.into_iter().map(|(kind, outcome, detail)| {
                                                    let class = format!("step {outcome}");
                                                    view! {
                                                        <li class=class><strong>{kind}</strong>" "<span>{outcome}</span>" "<span class="muted">{detail}</span></li>
                                                    }
                                                }).collect_view()}</ol></td>
                                                <td>{format::duration_us(entry.duration_us)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }
                        .into_any()
                    }}
                </section>
            </div>
            <aside>
                <section class="card" aria-labelledby="draft-heading">
                    <h2 id="draft-heading">"Draft"</h2>
                    {move || match draft() {
                        Some(version) => view! {
                            <p>
                                <span data-testid="draft-version">{version.summary.number.to_string()}</span>
                                {version.summary.based_on.map(|b| format!(", started from {b}"))}
                                ", changed " {format::time(&version.summary.updated_at)}
                            </p>
                        }.into_any(),
                        None => view! { <p class="muted">"No draft: editing starts one from the active version."</p> }.into_any(),
                    }}
                </section>
                {move || schedule().map(|(schedule, runs)| view! {
                    <section class="card" aria-labelledby="schedule-heading">
                        <h2 id="schedule-heading">"Schedule"</h2>
                        <p><code>{schedule}</code></p>
                        <p class="muted">"Next runs:"</p>
                        <ol data-testid="next-runs">{runs.into_iter().map(|run| view! { <li>{run}</li> }).collect_view()}</ol>
                    </section>
                })}
                <Show when=move || webhook().is_some()>
                    <section class="card" aria-labelledby="webhook-heading">
                        <h2 id="webhook-heading">"Webhook"</h2>
                        <p class="muted">"POST a JSON body to:"</p>
                        <code class="url" data-testid="webhook-url">{move || webhook().unwrap_or_default()}</code>
                    </section>
                </Show>
            </aside>
        </div>
    }
}
