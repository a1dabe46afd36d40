//! Links to the previous and next page of a list, kept in the query string so pages
//! can be bookmarked and work without JavaScript.

use leptos::prelude::*;

/// `href(page)` builds the link to a page.
#[component]
pub fn Pager(
    page: u32,
    per_page: u32,
    total: u64,
    href: impl Fn(u32) -> String + 'static,
    #[prop(default = "Pages")] label: &'static str,
) -> impl IntoView {
    let pages = total.div_ceil(u64::from(per_page.max(1))).max(1);
    let previous = (page > 1).then(|| href(page - 1));
    let next = (u64::from(page) < pages).then(|| href(page + 1));
    view! {
        <nav class="pager" aria-label=label>
            {previous.map(|href| view! { <a href=href rel="prev">"← Newer"</a> })}
            <span class="muted">{format!("Page {page} of {pages} · {total} in all")}</span>
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
}
