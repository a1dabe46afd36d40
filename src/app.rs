//! The HTML shell, the application component and the route table.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::ui::live::provide_live;
use crate::ui::pages::detail::IntegrationPage;
use crate::ui::pages::editor::{EditPage, NewPage};
use crate::ui::pages::history::HistoryPage;
use crate::ui::pages::integrations::IntegrationsPage;
use crate::ui::pages::not_found::NotFound;

/// The document around every page, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: navigation and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_live();
    // Tells browser tests (and anyone curious) that the page has become interactive.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/junction.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Junction".to_owned() } else { format!("{page} · Junction") }
        } />
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"⟡"</span>
                    "Junction"
                </A>
                <nav aria-label="Main">
                    <A href="/">"Integrations"</A>
                    <A href="/integrations/new">"New integration"</A>
                    <a href="/api/openapi.json">"API"</a>
                </nav>
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    // Complete HTML on first load, so that pages (and their forms) work
                    // without JavaScript: streamed parts would need a script to appear.
                    <Route path=path!("/") view=IntegrationsPage ssr=SsrMode::Async />
                    <Route path=path!("/integrations/new") view=NewPage ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id") view=IntegrationPage ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id/edit") view=EditPage ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id/history") view=HistoryPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
