//! A line diff of two definitions.

use leptos::prelude::*;

use crate::domain::diff::DefinitionDiff;

#[component]
pub fn DiffView(diff: DefinitionDiff) -> impl IntoView {
    if diff.identical {
        return view! { <p class="muted">"No difference: the two flows are identical."</p> }
            .into_any();
    }
    let secrets = diff.secrets_changed.clone();
    view! {
        {(!secrets.is_empty()).then(|| view! {
            <p class="secret-changed">
                {format!("A secret changed: {}. Secrets are never shown.", secrets.join(", "))}
            </p>
        })}
        <pre class="diff" aria-label="difference">
            {diff
                .lines
                .into_iter()
                .map(|line| {
                    let (class, sign) = match line.tag.as_str() {
                        "insert" => ("insert", "+ "),
                        "delete" => ("delete", "- "),
                        _ => ("equal", "  "),
                    };
                    view! { <span class=class>{sign}{line.text}"\n"</span> }
                })
                .collect_view()}
        </pre>
    }
    .into_any()
}
