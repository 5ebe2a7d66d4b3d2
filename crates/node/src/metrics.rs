//! Prometheus metrics of the node (`GET /metrics`, text exposition format).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use proverka_ledger::Decision;

/// Label of HTTP request counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub status: u16,
}

/// The node's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub tree_size: Gauge,
    pub pool_size: Gauge,
    pub blocks_applied: Counter,
    pub statements_registered: Counter,
    pub statements_duplicate: Counter,
    pub statements_rejected: Counter,
    pub submissions_refused: Counter,
    pub block_apply_seconds: Histogram,
    pub requests: Family<RequestLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("proverka");
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            tree_size: Gauge::default(),
            pool_size: Gauge::default(),
            blocks_applied: Counter::default(),
            statements_registered: Counter::default(),
            statements_duplicate: Counter::default(),
            statements_rejected: Counter::default(),
            submissions_refused: Counter::default(),
            block_apply_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            requests: Family::default(),
        };
        registry.register(
            "log_tree_size",
            "Leaves in the log's latest tree head",
            m.tree_size.clone(),
        );
        registry.register(
            "pool_statements",
            "Statements waiting for a finalized block",
            m.pool_size.clone(),
        );
        registry.register(
            "blocks_applied",
            "Finalized blocks applied to the store",
            m.blocks_applied.clone(),
        );
        registry.register(
            "statements_registered",
            "Statements appended to the log",
            m.statements_registered.clone(),
        );
        registry.register(
            "statements_duplicate",
            "Resubmitted statements answered with their existing entry",
            m.statements_duplicate.clone(),
        );
        registry.register(
            "statements_rejected",
            "Statements refused by the ledger rules at apply time",
            m.statements_rejected.clone(),
        );
        registry.register(
            "submissions_refused",
            "Submissions refused before entering the pool (bad input, unknown issuer, full pool)",
            m.submissions_refused.clone(),
        );
        registry.register(
            "block_apply_seconds",
            "Time to decide and durably apply one finalized block",
            m.block_apply_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            ..m
        }
    }

    /// Counts a finalized block's decisions.
    pub fn observe_block(&self, decisions: &[Decision], took: Duration) {
        self.blocks_applied.inc();
        for d in decisions {
            match d {
                Decision::Register { .. } => self.statements_registered.inc(),
                Decision::Duplicate { .. } => self.statements_duplicate.inc(),
                Decision::Reject { .. } => self.statements_rejected.inc(),
            };
        }
        self.block_apply_seconds.observe(took.as_secs_f64());
    }

    /// Renders the text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
