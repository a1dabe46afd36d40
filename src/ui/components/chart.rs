//! The last hour of an integration's messages, minute by minute, stacked by outcome:
//! an SVG drawn on the server, so it shows without JavaScript.

use chrono::Timelike;
use leptos::prelude::*;

use crate::domain::activity::ActivityChart;

/// The drawing's size, in its own units (it scales to the card's width).
const WIDTH: u64 = 600;
const HEIGHT: u64 = 100;

/// "10:42", for a minute of the chart.
fn clock(at: &chrono::DateTime<chrono::Utc>) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

#[component]
pub fn ActivityChartView(chart: ActivityChart) -> impl IntoView {
    let busiest = chart.busiest().max(1);
    let totals: Vec<String> = ActivityChart::OUTCOMES
        .iter()
        .take(4)
        .map(|outcome| format!("{} {outcome}", chart.total(outcome)))
        .collect();
    let summary = format!("Messages in the last hour: {}", totals.join(", "));
    let lost = chart.total("not_recorded");
    let since = chart.not_recorded_since().map(|at| clock(&at));
    let bar = WIDTH / u64::from(ActivityChart::MINUTES);
    let bars = chart
        .minutes
        .iter()
        .enumerate()
        .filter(|(_, counts)| counts.iter().sum::<u64>() > 0)
        .map(|(minute, counts)| {
            let at = chart.start + chrono::Duration::minutes(minute as i64);
            let title = ActivityChart::OUTCOMES
                .iter()
                .zip(counts)
                .filter(|(_, count)| **count > 0)
                .map(|(outcome, count)| format!("{count} {}", outcome.replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", ");
            let x = minute as u64 * bar;
            let mut top = HEIGHT;
            let pieces = ActivityChart::OUTCOMES
                .iter()
                .zip(counts)
                .filter(|(_, count)| **count > 0)
                .map(|(outcome, count)| {
                    // At least one unit tall, so that a single message shows.
                    let height = (count * HEIGHT / busiest).max(1);
                    top = top.saturating_sub(height);
                    let class = format!("bar {}", outcome.replace('_', "-"));
                    view! {
                        <rect class=class x=x y=top width=bar - 1 height=height />
                    }
                })
                .collect_view();
            view! {
                <g><title>{format!("{}: {title}", clock(&at))}</title>{pieces}</g>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" data-testid="activity-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary.clone()
                preserveAspectRatio="none">
                {bars}
            </svg>
            <figcaption class="muted small">
                {summary}
                {since.map(|since| view! {
                    <span class="error-text" data-testid="not-recorded">
                        {format!(". {lost} messages not recorded since {since} UTC")}
                    </span>
                })}
            </figcaption>
        </figure>
    }
}
