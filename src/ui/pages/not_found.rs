//! The page for a path that matches no route.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="empty">
            <h1>"Nothing here"</h1>
            <p>"This page does not exist. " <a href="/">"Back to the integrations"</a></p>
        </section>
    }
}
