//! The state badges and the active-version badge, on every page about an integration.

use leptos::prelude::*;

use crate::domain::IntegrationSummary;
use crate::domain::lifecycle::State;
use crate::domain::version::VersionNumber;

fn state_class(state: State) -> &'static str {
    match state {
        State::Draft => "badge draft",
        State::Active => "badge active",
        State::Inactive => "badge inactive",
        State::Deleted => "badge deleted",
        State::Error => "badge error",
    }
}

/// Current state, target state, and whether the reconciler is still working (with its
/// sub-step and a spinner).
#[component]
pub fn StateBadges(#[prop(into)] integration: Signal<IntegrationSummary>) -> impl IntoView {
    let current = move || integration.with(|i| i.current_state);
    let target = move || integration.with(|i| i.target_state);
    let pending = move || integration.with(IntegrationSummary::pending);
    let phase = move || integration.with(|i| i.reconcile.phase.map(|phase| phase.label()));
    view! {
        <span class="states">
            <span class=move || state_class(current()) data-testid="current-state">
                {move || current().label()}
            </span>
            <span class="target" class:shown=pending aria-label="target state">
                "→ " <span data-testid="target-state">{move || target().to_string()}</span>
            </span>
            <span class="reconcile" class:pending=pending data-testid="reconcile">
                {move || if pending() { "Pending" } else { "Ok" }}
            </span>
            <Show when=pending>
                <span class="spinner" aria-hidden="true"></span>
                <span class="phase">{move || phase().unwrap_or("Waiting")}</span>
            </Show>
        </span>
    }
}

/// `v3`, or `none` before the first publish.
#[component]
pub fn VersionBadge(#[prop(into)] version: Signal<Option<VersionNumber>>) -> impl IntoView {
    view! {
        <span class="version-badge" title="active version" data-testid="active-version">
            {move || version.get().map_or_else(|| "none".to_owned(), |v| v.to_string())}
        </span>
    }
}
