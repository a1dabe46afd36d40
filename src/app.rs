//! The HTML shell, the application component and the route table.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

use crate::api::account::{Me, whoami};
use crate::domain::access::Role;
use crate::ui::live::provide_live;
use crate::ui::pages::account::{FirstRunPage, SignInPage, UserMenu};
use crate::ui::pages::detail::IntegrationPage;
use crate::ui::pages::integrations::IntegrationsPage;
use crate::ui::pages::not_found::NotFound;

/// The document around every page, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
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

/// A page's Content-Security-Policy: scripts only from this server, and inline ones
/// only with this response's nonce (leptos_axum makes one per render and puts it on
/// the hydration script and the resources' inline scripts). A script injected into
/// a page runs nowhere. Other answers get the boundary's policy, without scripts.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use leptos::nonce::use_nonce;
    let (Some(nonce), Some(response)) =
        (use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The application: navigation and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_live();
    // Tells browser tests (and anyone curious) that the page has become interactive.
    // A lazily loaded page says so itself once its code is in and it has hydrated
    // (`lazy_page!`): marked here, the page could still be the server's HTML.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        let path = window().location().pathname().unwrap_or_default();
        if !is_lazy_path(&path) {
            mark_hydrated();
        }
    });
    // Who is signed in, for the header: read once per page load (signing in or out
    // loads the next page in full).
    let me = Resource::new(|| (), |_| whoami());
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
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().flatten().map(|me| view! { <TopNav me /> })
                    })}
                </Suspense>
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    // Complete HTML on first load, so that pages (and their forms) work
                    // without JavaScript: streamed parts would need a script to appear.
                    <Route path=path!("/") view=IntegrationsPage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/first-run") view=FirstRunPage ssr=SsrMode::Async />
                    <Route path=path!("/tokens") view={Lazy::<TokensRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/connections") view={Lazy::<ConnectionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/integrations/new") view={Lazy::<NewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id") view=IntegrationPage ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id/edit") view={Lazy::<EditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/integrations/:id/history") view={Lazy::<HistoryRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The main navigation, with what the signed-in user's role may reach, and the user.
#[component]
fn TopNav(me: Me) -> impl IntoView {
    let role = me.role;
    view! {
        <nav aria-label="Main">
            <A href="/">"Integrations"</A>
            {(role >= Role::Editor).then(|| view! { <A href="/integrations/new">"New integration"</A> })}
            <A href="/connections">"Connections"</A>
            {(role >= Role::Admin).then(|| view! { <A href="/users">"Users"</A> <A href="/audit">"Audit"</A> })}
            <A href="/tokens">"Tokens"</A>
            <a href="/api/openapi.json">"API"</a>
        </nav>
        <UserMenu me />
    }
}

/// The editor and the history page are files of their own, which the browser fetches
/// the first time it shows them: the list and detail pages, where people land, load
/// without them (about 285 KB of WASM instead of 332, brotli). This takes the build's
/// `--split` (`cargo leptos build --split`): without it, the bundle imports a module
/// no browser can resolve, and no page becomes interactive. A lazy page loads its data
/// once its code is in (`data` is empty): one fetch after the other, the first time.
macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                use $page as Page;
                #[cfg(feature = "hydrate")]
                Effect::new(|_| mark_hydrated());
                view! { <Page /> }.into_any()
            }
        }
    };
}

/// Sets the marker browser tests wait for: the page is interactive.
#[cfg(feature = "hydrate")]
fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Whether the route at `path` is one of the lazily loaded pages below (they mark
/// themselves hydrated).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn is_lazy_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    matches!(
        path,
        "/tokens" | "/users" | "/audit" | "/connections" | "/integrations/new"
    ) || (path.starts_with("/integrations/")
        && (path.ends_with("/edit") || path.ends_with("/history")))
}

lazy_page!(NewRoute, crate::ui::pages::editor::NewPage);
lazy_page!(EditRoute, crate::ui::pages::editor::EditPage);
lazy_page!(HistoryRoute, crate::ui::pages::history::HistoryPage);
lazy_page!(TokensRoute, crate::ui::pages::tokens::TokensPage);
lazy_page!(UsersRoute, crate::ui::pages::users::UsersPage);
lazy_page!(AuditRoute, crate::ui::pages::audit::AuditPage);
lazy_page!(
    ConnectionsRoute,
    crate::ui::pages::connections::ConnectionsPage
);

#[cfg(test)]
mod tests {
    use super::is_lazy_path;

    #[test]
    fn the_lazily_loaded_pages_are_known_by_their_paths() {
        for lazy in [
            "/tokens",
            "/users",
            "/audit",
            "/connections",
            "/integrations/new",
            "/integrations/0f6e/edit",
            "/integrations/0f6e/history/",
        ] {
            assert!(is_lazy_path(lazy), "{lazy}");
        }
        for eager in [
            "/",
            "/sign-in",
            "/first-run",
            "/integrations/0f6e",
            "/nowhere",
        ] {
            assert!(!is_lazy_path(eager), "{eager}");
        }
    }
}
