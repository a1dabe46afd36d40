//! What the server counts for `GET /metrics`, in the Prometheus text format. One
//! [`Metrics`] per server, built at start and handed to what counts (the request
//! layer, the runtime, the activity writer, the reconciler, the egress policy); each
//! handle is a cheap clone sharing the same numbers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// An HTTP request: the route it matched (its pattern, never the concrete path, so
/// that ids do not make a series each) and the status answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

/// A message through a flow: what brought it and how it went.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    pub trigger: &'static str,
    pub outcome: &'static str,
}

/// The server's numbers.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub messages: Family<MessageLabels, Counter>,
    pub reconcile_seconds: Histogram,
    pub leases_held: Gauge,
    pub flows_running: Gauge,
    pub activity_written: Counter,
    pub activity_not_recorded: Counter,
    pub egress_refusals: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("junction");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register(
            "flow_messages",
            "Messages through flows, by trigger (webhook, timer, cron, sql_poll) and outcome (ok, filtered, failed, refused)",
            messages.clone(),
        );
        // 1 ms to about 16 s: a pass over one integration up to a storm of thousands.
        let reconcile_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "reconcile_pass_seconds",
            "How long each pass of the reconciler took",
            reconcile_seconds.clone(),
        );
        let leases_held = Gauge::default();
        registry.register(
            "leases_held",
            "Integrations this server holds the lease of and runs",
            leases_held.clone(),
        );
        let flows_running = Gauge::default();
        registry.register(
            "flows_running",
            "Flows started in this server's runtime",
            flows_running.clone(),
        );
        let activity_written = Counter::default();
        registry.register(
            "activity_written",
            "Messages of activity written to the database",
            activity_written.clone(),
        );
        let activity_not_recorded = Counter::default();
        registry.register(
            "activity_not_recorded",
            "Messages of activity not recorded (queue full, or the database refused them)",
            activity_not_recorded.clone(),
        );
        let egress_refusals = Counter::default();
        registry.register(
            "egress_refusals",
            "Connections flows tried that the egress policy refused",
            egress_refusals.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            messages,
            reconcile_seconds,
            leases_held,
            flows_running,
            activity_written,
            activity_not_recorded,
            egress_refusals,
        }
    }

    /// Everything, in the text format Prometheus scrapes (OpenMetrics 1.0).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The content type of [`Metrics::encode`].
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";
}
