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

/// An error in place of a page's content; "not found" also sets the 404 status.
#[component]
pub fn ErrorPanel(err: crate::error::AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(err.status())
    {
        response.set_status(status);
    }
    let title = match &err {
        crate::error::AppError::NotFound { .. } => "Not found",
        crate::error::AppError::Forbidden { .. } => "Not allowed",
        _ => "Something went wrong",
    };
    view! {
        <Title text=title />
        <section class="empty">
            <h1>{title}</h1>
            <p role="alert">{err.to_string()}</p>
            <p><a href="/">"Back to the integrations"</a></p>
        </section>
    }
}
