//! CloudWatch metrics without an API call: after every invocation the function prints one line
//! in the Embedded Metric Format (EMF), beside its JSON log lines. Lambda sends standard output
//! to CloudWatch Logs, and CloudWatch Logs turns an EMF line into metrics (CloudWatch user
//! guide, "Specification: Embedded metric format" and "Using the embedded metric format with
//! Lambda"). No `cloudwatch:PutMetricData` permission, no latency on Cognito's clock.
//!
//! One line carries:
//! - a count of 1 for the invocation's outcome, under the outcome's metric name
//!   ([`Outcome::metric_name`]: `Minted`, `Deferred`, `Refused`, ...);
//! - `ForeignOrganisation` = 1 when a user's attribute named an organisation the table does not
//!   give them (the security warning);
//! - `Duration`, the handler's time in milliseconds.
//!
//! Every metric has the one dimension `Service` = `provisioning`, so that an alarm names one
//! metric exactly. The trigger, the outcome and the Lambda request id are plain properties,
//! for Logs Insights: the request id joins a data point to the invocation's log lines.
//! Metrics with no data point in a period are missing, not zero: the alarms treat missing data
//! as not breaching.

use crate::outcome::Report;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const DIMENSION: &str = "Service";
pub const SERVICE: &str = "provisioning";
pub const FOREIGN_ORGANISATION: &str = "ForeignOrganisation";
pub const DURATION: &str = "Duration";
/// Units are CloudWatch's `StandardUnit` names.
pub const COUNT: &str = "Count";
pub const MILLISECONDS: &str = "Milliseconds";

/// Where the metrics go: a namespace of their own per stack.
#[derive(Clone, Debug)]
pub struct Metrics {
    namespace: String,
}

impl Metrics {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
        }
    }

    /// Prints the invocation's EMF line to standard output, where Lambda's log agent takes it.
    /// A failed write loses a data point, never the invocation.
    pub fn publish(&self, report: &Report, request_id: &str, elapsed: Duration) {
        let line = self.line(report, request_id, elapsed, SystemTime::now());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// The EMF document for one invocation, at `now`.
    pub fn line(
        &self,
        report: &Report,
        request_id: &str,
        elapsed: Duration,
        now: SystemTime,
    ) -> Value {
        // Each metric once: its name, unit and value.
        let mut metrics = vec![(report.outcome.metric_name(), COUNT, json!(1))];
        if report.foreign_org {
            metrics.push((FOREIGN_ORGANISATION, COUNT, json!(1)));
        }
        metrics.push((
            DURATION,
            MILLISECONDS,
            json!(elapsed.as_secs_f64() * 1_000.0),
        ));

        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": millis_since_epoch(now),
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": metrics
                        .iter()
                        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert(DIMENSION.to_owned(), json!(SERVICE));
        root.insert("trigger".to_owned(), json!(report.trigger.as_str()));
        root.insert("outcome".to_owned(), json!(report.outcome.as_str()));
        root.insert("requestId".to_owned(), json!(request_id));
        for (name, _, value) in metrics {
            root.insert(name.to_owned(), value);
        }
        Value::Object(root)
    }
}

fn millis_since_epoch(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
