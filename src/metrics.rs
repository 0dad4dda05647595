//! Process metrics in the Prometheus text format, served at `GET /metrics`.
//!
//! One process-wide registry: counters are cheap atomics, and a process serves one
//! store, so global state is the honest shape here.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub events_appended: Counter,
    pub append_batches: Counter,
    pub append_batch_jobs: Histogram,
    pub commit_duration: Histogram,
    pub head_position: Gauge,
    pub relay_position: Gauge,
    pub relay_published: Counter,
    pub relay_duplicates: Counter,
    pub eosc_orders: Counter,
    pub eosc_pushes: Counter,
    pub eosc_push_failures: Counter,
    pub eosc_pushes_pending: Gauge,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("pactum");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            http_duration.clone(),
        );
        let events_appended = Counter::default();
        registry.register(
            "events_appended",
            "Events appended to the log by this process",
            events_appended.clone(),
        );
        let append_batches = Counter::default();
        registry.register(
            "append_batches",
            "Transactions committed by the store's writer (group commits)",
            append_batches.clone(),
        );
        let append_batch_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "append_batch_jobs",
            "Commands committed together in one transaction",
            append_batch_jobs.clone(),
        );
        let commit_duration = Histogram::new(exponential_buckets(0.000_25, 2.0, 14));
        registry.register(
            "append_commit_duration_seconds",
            "Time to write and durably commit one batch",
            commit_duration.clone(),
        );
        let head_position = Gauge::default();
        registry.register(
            "log_head_position",
            "Global position of the newest event this process has seen committed",
            head_position.clone(),
        );
        let relay_position = Gauge::default();
        registry.register(
            "relay_published_position",
            "Global position up to which this process's relay has published the log to NATS",
            relay_position.clone(),
        );
        let relay_published = Counter::default();
        registry.register(
            "relay_messages_published",
            "Events the relay published that NATS stored as new messages",
            relay_published.clone(),
        );
        let relay_duplicates = Counter::default();
        registry.register(
            "relay_duplicates",
            "Events the relay re-published that NATS reported as duplicates",
            relay_duplicates.clone(),
        );
        let eosc_orders = Counter::default();
        registry.register(
            "eosc_orders",
            "EOSC Marketplace project items this process took as orders",
            eosc_orders.clone(),
        );
        let eosc_pushes = Counter::default();
        registry.register(
            "eosc_pushes",
            "Statuses and messages this process delivered to the EOSC Marketplace",
            eosc_pushes.clone(),
        );
        let eosc_push_failures = Counter::default();
        registry.register(
            "eosc_push_failures",
            "Attempts to deliver a status or message to the EOSC Marketplace that failed (each is retried with backoff)",
            eosc_push_failures.clone(),
        );
        let eosc_pushes_pending = Gauge::default();
        registry.register(
            "eosc_pushes_pending",
            "Statuses and messages waiting to be delivered to the EOSC Marketplace",
            eosc_pushes_pending.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            events_appended,
            append_batches,
            append_batch_jobs,
            commit_duration,
            head_position,
            relay_position,
            relay_published,
            relay_duplicates,
            eosc_orders,
            eosc_pushes,
            eosc_push_failures,
            eosc_pushes_pending,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
