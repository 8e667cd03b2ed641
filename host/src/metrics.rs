//! Prometheus metrics: what an operator graphs and alerts on. Counted
//! always (an atomic add or two per event), served only when asked
//! (`serve --metrics`: `GET /metrics` beside `/mcp`, behind the same Host,
//! Origin and token checks).
//!
//! One process-wide registry, like the log: calls, sampling requests and
//! limits are counted where they happen, and the gauges (parked calls,
//! instances in use) are read when scraped.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the host exports.
pub struct Metrics {
    registry: Registry,
    /// Tool calls by plugin and outcome (`ok`, or the failure's kind).
    pub calls: IntCounterVec,
    /// Tool call latency by plugin.
    pub call_seconds: HistogramVec,
    /// Limits and budgets that refused or ended something, by plugin and key.
    pub limit_hits: IntCounterVec,
    /// Sampling requests by plugin, route and outcome.
    pub sampling_requests: IntCounterVec,
    /// Sampling tokens by plugin, route and direction (`input`, `output`).
    pub sampling_tokens: IntCounterVec,
    /// Sampling latency by plugin and route.
    pub sampling_seconds: HistogramVec,
    /// Calls parked in `sample()`, waiting for a 2026-07-28 client's retry.
    pub parked_calls: IntGauge,
    /// Calls running or parked, by plugin: instances alive.
    pub instances_in_use: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let counter = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("metric names and labels are valid");
            registry
                .register(Box::new(counter.clone()))
                .expect("each metric is registered once");
            counter
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let histogram =
                HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                    .expect("metric names and labels are valid");
            registry
                .register(Box::new(histogram.clone()))
                .expect("each metric is registered once");
            histogram
        };
        let calls = counter(
            "wasm_mcp_calls_total",
            "Tool calls by plugin and outcome (ok, tool_error, invalid_arguments, failed, trapped, limit, cancelled, not_found, shared_store: the replicas' Redis failed and the call was not run).",
            &["plugin", "outcome"],
        );
        let limit_hits = counter(
            "wasm_mcp_limit_hits_total",
            "Limits and budgets that refused or ended a call or a sampling request, by config key.",
            &["plugin", "limit"],
        );
        let sampling_requests = counter(
            "wasm_mcp_sampling_requests_total",
            "Sampling requests by plugin, route (client, provider, none) and outcome.",
            &["plugin", "route", "outcome"],
        );
        let sampling_tokens = counter(
            "wasm_mcp_sampling_tokens_total",
            "Sampling tokens by plugin, route and direction (input, output); client sampling is estimated.",
            &["plugin", "route", "direction"],
        );
        let call_seconds = histogram(
            "wasm_mcp_call_duration_seconds",
            "Tool call latency, sampling waits included.",
            &["plugin"],
            prometheus::exponential_buckets(0.0005, 4.0, 11).expect("valid buckets"),
        );
        let sampling_seconds = histogram(
            "wasm_mcp_sampling_duration_seconds",
            "Sampling request latency, from the plugin's ask to its answer.",
            &["plugin", "route"],
            prometheus::exponential_buckets(0.01, 3.0, 10).expect("valid buckets"),
        );
        let parked_calls = IntGauge::new(
            "wasm_mcp_parked_calls",
            "Calls parked in sample(), waiting for a 2026-07-28 client's retry.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(parked_calls.clone()))
            .expect("each metric is registered once");
        let instances_in_use = IntGaugeVec::new(
            Opts::new(
                "wasm_mcp_instances_in_use",
                "Calls running or parked, each holding one instance, by plugin.",
            ),
            &["plugin"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(instances_in_use.clone()))
            .expect("each metric is registered once");
        Metrics {
            registry,
            calls,
            call_seconds,
            limit_hits,
            sampling_requests,
            sampling_tokens,
            sampling_seconds,
            parked_calls,
            instances_in_use,
        }
    }

    /// Count a tool call.
    pub fn call(&self, plugin: &str, outcome: &str, limit: Option<&str>, took: Duration) {
        self.calls.with_label_values(&[plugin, outcome]).inc();
        self.call_seconds
            .with_label_values(&[plugin])
            .observe(took.as_secs_f64());
        if let Some(limit) = limit {
            self.limit_hits.with_label_values(&[plugin, limit]).inc();
        }
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode metrics: {error}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
