//! Live status: the browser listens to the server's event stream and bumps a counter
//! on every change; pages make their data depend on it, so what they show follows the
//! server within a moment, with no reload. On the server the counter never moves.

use leptos::prelude::*;

/// Bumped whenever the server reports a change.
#[derive(Clone, Copy)]
pub struct Live(pub RwSignal<u64>);

/// Makes the live counter available to every page, and (in the browser) connects it.
pub fn provide_live() {
    let changes = RwSignal::new(0_u64);
    provide_context(Live(changes));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| connect(changes));
}

/// The counter to make page data depend on.
pub fn use_live() -> RwSignal<u64> {
    use_context::<Live>()
        .map(|Live(changes)| changes)
        .unwrap_or_else(|| RwSignal::new(0))
}

#[cfg(feature = "hydrate")]
fn connect(changes: RwSignal<u64>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new("/api/v1/events") else {
        return;
    };
    let bump = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        changes.update(|n| *n = n.wrapping_add(1));
    });
    // `open` too: after a reconnect (a server restart), changes may have been missed.
    for name in ["integration", "deleted", "resync", "open"] {
        let _ = source.add_event_listener_with_callback(name, bump.as_ref().unchecked_ref());
    }
    // Both live as long as the page: the stream is the page's for good.
    bump.forget();
    std::mem::forget(source);
}

/// The newest data brought by live updates, with the key it was fetched for.
pub type Latest<T> = RwSignal<Option<(String, T)>>;

/// Page data that loads once per `key` (the server renders it) and then follows the
/// server: every live change refetches it in the background. Render from the
/// returned signal so components stay in place (and keep their typed text and open
/// dialogs) while the data under them changes.
pub fn live_data<T, Fut>(
    key: impl Fn() -> String + Clone + Send + Sync + 'static,
    fetch: impl Fn(String) -> Fut + Copy + Send + Sync + 'static,
) -> (
    Resource<Result<T, crate::error::AppError>, crate::json::Json>,
    Latest<T>,
)
where
    T: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, crate::error::AppError>> + Send + 'static,
{
    let initial = crate::json::resource(key.clone(), fetch);
    let latest = RwSignal::new(None::<(String, T)>);
    follow_live(key, fetch, move |key, value| latest.set(Some((key, value))));
    (initial, latest)
}

/// After every live change (not on the first run), fetches again for the current
/// `key` and hands what came back to `apply`; failures keep what is shown.
pub fn follow_live<T, Fut>(
    key: impl Fn() -> String + Send + Sync + 'static,
    fetch: impl Fn(String) -> Fut + Copy + Send + Sync + 'static,
    apply: impl Fn(String, T) + Copy + Send + Sync + 'static,
) where
    T: 'static,
    Fut: std::future::Future<Output = Result<T, crate::error::AppError>> + 'static,
{
    let changes = use_live();
    Effect::new(move |seen: Option<u64>| {
        let count = changes.get();
        if seen.is_some() {
            let key = key();
            leptos::task::spawn_local(async move {
                if let Ok(value) = fetch(key.clone()).await {
                    apply(key, value);
                }
            });
        }
        count
    });
}

/// The newest of what was loaded first and what live updates brought, for `key`.
pub fn newest<T: Clone + Send + Sync + 'static>(
    first: T,
    key: String,
    latest: Latest<T>,
) -> Signal<T> {
    Signal::derive(move || {
        latest.with(|latest| match latest {
            Some((latest_key, value)) if *latest_key == key => value.clone(),
            _ => first.clone(),
        })
    })
}
