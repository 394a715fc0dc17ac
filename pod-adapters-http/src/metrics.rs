//! Prometheus metrics for the HTTP surfaces, in the text exposition format.

use std::sync::Arc;
use std::time::Duration;

use pod_ports::StoreTelemetry;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

type HistogramFamily = Family<Route, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

/// The counters and histograms pod exports at `/metrics`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    latency: HistogramFamily,
    codes_sent: Counter,
    confirmations: Counter,
    rejections: Family<Reason, Counter>,
    verification_failures: Family<Reason, Counter>,
    replays: Family<Outcome, Counter>,
    commit_batch_size: Histogram,
    commit_duration: Histogram,
    progressive_responses: Family<Outcome, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every pod metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pod");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let latency = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let codes_sent = Counter::default();
        registry.register(
            "codes_sent",
            "One-time codes sent for orders",
            codes_sent.clone(),
        );
        let confirmations = Counter::default();
        registry.register(
            "confirmations",
            "Orders confirmed with the right code",
            confirmations.clone(),
        );
        let rejections = Family::<Reason, Counter>::default();
        registry.register(
            "rejections",
            "Requests refused, by reason (wrong code, expired, locked, ...)",
            rejections.clone(),
        );
        let verification_failures = Family::<Reason, Counter>::default();
        registry.register(
            "alexa_verification_failures",
            "Alexa requests that failed verification, by reason",
            verification_failures.clone(),
        );
        let replays = Family::<Outcome, Counter>::default();
        registry.register(
            "alexa_replays",
            "Alexa requests whose id was claimed already, by outcome (answered_again, \
             in_progress, id_reused); none of them changed anything",
            replays.clone(),
        );
        // 1, 2, 4, ... 512 account changes in one transaction.
        let commit_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "store_commit_batch_size",
            "Account changes committed together in one transaction (one fsync)",
            commit_batch_size.clone(),
        );
        let commit_duration = latency_histogram();
        registry.register(
            "store_commit_duration_seconds",
            "Time to commit one batch of account changes, fsync included",
            commit_duration.clone(),
        );
        let progressive_responses = Family::<Outcome, Counter>::default();
        registry.register(
            "alexa_progressive_responses",
            "Progressive responses sent to Alexa's directive service, by outcome \
             (sent, endpoint_refused, rejected, failed, unavailable, timeout)",
            progressive_responses.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                codes_sent,
                confirmations,
                rejections,
                verification_failures,
                replays,
                commit_batch_size,
                commit_duration,
                progressive_responses,
            }),
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.inner
            .requests
            .get_or_create(&RouteStatus {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.inner
            .latency
            .get_or_create(&Route {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub(crate) fn code_sent(&self) {
        self.inner.codes_sent.inc();
    }

    pub(crate) fn confirmed(&self) {
        self.inner.confirmations.inc();
    }

    pub(crate) fn rejected(&self, reason: &'static str) {
        self.inner
            .rejections
            .get_or_create(&Reason { reason })
            .inc();
    }

    pub(crate) fn replayed(&self, outcome: &'static str) {
        self.inner.replays.get_or_create(&Outcome { outcome }).inc();
    }

    pub(crate) fn progressive_response(&self, outcome: &'static str) {
        self.inner
            .progressive_responses
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    pub(crate) fn verification_failed(&self, reason: &'static str) {
        self.inner
            .verification_failures
            .get_or_create(&Reason { reason })
            .inc();
    }
}

impl StoreTelemetry for Metrics {
    fn commit_batch(&self, commits: usize, duration: Duration) {
        self.inner.commit_batch_size.observe(commits as f64);
        self.inner.commit_duration.observe(duration.as_secs_f64());
    }
}
