//! `/audit` (administrators): sign-ins, failed sign-ins, sign-outs, tokens made and
//! revoked, users added and changed; who, when, from where. Newest first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::account::list_audit;
use crate::ui::format;
use crate::ui::pages::not_found::ErrorPanel;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || query.with(|q| q.get("before").and_then(|b| b.parse::<i64>().ok()));
    let entries = Resource::new(before, list_audit);
    view! {
        <Title text="Audit log" />
        <div class="page-head"><h1>"Audit log"</h1></div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(entries) => {
                        let older = entries.last().map(|oldest| format!("/audit?before={}", oldest.id));
                        let full = entries.len() >= 100;
                        view! {
                            <section class="card">
                                <table class="table compact" aria-label="Audit log">
                                    <thead><tr>
                                        <th scope="col">"When"</th><th scope="col">"Who"</th>
                                        <th scope="col">"What"</th><th scope="col">"Subject"</th>
                                        <th scope="col">"From"</th><th scope="col">"Detail"</th>
                                    </tr></thead>
                                    <tbody>
                                        {entries.into_iter().map(|entry| view! {
                                            <tr>
                                                <td>{format::time(&entry.at)}</td>
                                                <td>{entry.actor}</td>
                                                <td>{entry.event.label()}</td>
                                                <td>{entry.subject}</td>
                                                <td>{entry.address}</td>
                                                <td>{entry.detail}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {older.filter(|_| full).map(|href| view! { <a href=href>"Older entries"</a> })}
                            </section>
                        }.into_any()
                    }
                    Err(err) => view! { <ErrorPanel err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
