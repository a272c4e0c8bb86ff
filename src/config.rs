//! Settings from the environment, and the time budget that keeps every answer inside
//! Cognito's fixed 5 s wait.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

pub const DEFAULT_TABLE_NAME: &str = "tenants";
pub const DEFAULT_ORG_ATTRIBUTE: &str = "custom:org";
pub const DEFAULT_METRICS_NAMESPACE: &str = "TenantProvisioning";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `TABLE_NAME`: the single table that holds every tenant's data.
    pub table_name: String,
    /// `ORG_ATTRIBUTE`: the user attribute that carries the organisation id.
    pub org_attribute: String,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the function's metrics.
    pub metrics_namespace: String,
    /// `CONNECT_AT_INIT` (default on; `false` or `0` turns it off): open the table's
    /// connection during init, where Lambda gives the function a whole CPU, rather than in the
    /// first sign-up, which runs inside Cognito's 5 s on a fraction of one
    /// (docs/benchmarks.md, the levers). Off only to measure what it saves (`make bench`).
    pub connect_at_init: bool,
}

impl Settings {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let or_default = |name: &str, default: &str| {
            lookup(name)
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            table_name: or_default("TABLE_NAME", DEFAULT_TABLE_NAME),
            org_attribute: or_default("ORG_ATTRIBUTE", DEFAULT_ORG_ATTRIBUTE),
            metrics_namespace: or_default("METRICS_NAMESPACE", DEFAULT_METRICS_NAMESPACE),
            connect_at_init: !matches!(
                lookup("CONNECT_AT_INIT").as_deref().map(str::trim),
                Some("false" | "0")
            ),
        }
    }
}

/// Whether Lambda's log-level filter drops the metrics line at this `AWS_LAMBDA_LOG_LEVEL`
/// (Lambda sets it from the function's `ApplicationLogLevel`). Lambda counts a JSON line with
/// no `level`, as the EMF line is, as INFO, and drops lines below the level set (Lambda
/// developer guide, "Log-level filtering"): from WARN up, every alarm would stay green. The
/// template's rules forbid such a level; this is the last word for a stack that sets it anyway.
pub fn log_level_drops_metrics(level: Option<&str>) -> bool {
    level.is_some_and(|level| {
        ["WARN", "ERROR", "FATAL"]
            .iter()
            .any(|dropping| level.trim().eq_ignore_ascii_case(dropping))
    })
}

/// The time budget, stated once. Cognito waits 5 s for a trigger and cannot be told otherwise.
/// It may invoke the function again only when it got *no* answer in that time; an answer that
/// is an error is not retried: the API call fails and, for PostConfirmation, the user stays
/// confirmed (Cognito developer guide, "Things to know about Lambda triggers"). So each
/// trigger answers well inside 5 s, and answers with success wherever that is safe:
/// - the work gets `HANDLER_DEADLINE` (3.5 s), leaving room for a cold start before it;
/// - PostConfirmation then answers with the event either way, logging `deferred` when it
///   could not finish: the first token heals the user (see `triggers::pre_token`);
/// - Lambda stops the process at `LAMBDA_TIMEOUT` (the template's `Timeout`, tied to this
///   value by a test), still before Cognito's 5 s.
pub const COGNITO_WAIT: Duration = Duration::from_secs(5);
pub const HANDLER_DEADLINE: Duration = Duration::from_millis(3_500);
pub const LAMBDA_TIMEOUT: Duration = Duration::from_secs(4);
/// Init opens the table's connection within this, or gives up: Lambda's init phase has its
/// own 10 s limit, and a cold start's init runs inside Cognito's 5 s too.
pub const INIT_CONNECT_DEADLINE: Duration = Duration::from_millis(500);

/// Per call: a few fast attempts, each cut short, so that one slow endpoint cannot use up
/// the whole deadline.
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(400))
}

/// The SDK configuration both Lambda functions build once at start: the environment's
/// credentials, region and endpoints, with the time budget's retries and time-outs.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::from_env()
        .retry_config(retries())
        .timeout_config(timeouts())
        .load()
        .await
}

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(800))
        .operation_timeout(Duration::from_millis(1_600))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let settings = Settings::from_lookup(|name| (name == "TABLE_NAME").then(String::new));
        assert_eq!(settings.table_name, DEFAULT_TABLE_NAME);
        assert_eq!(settings.org_attribute, DEFAULT_ORG_ATTRIBUTE);
        assert_eq!(settings.metrics_namespace, DEFAULT_METRICS_NAMESPACE);
        assert!(settings.connect_at_init);
    }

    #[test]
    fn connecting_at_init_is_turned_off_only_by_false_or_zero() {
        for (value, expected) in [
            ("false", false),
            ("0", false),
            ("true", true),
            ("", true),
            ("no", true),
        ] {
            let settings =
                Settings::from_lookup(|name| (name == "CONNECT_AT_INIT").then(|| value.to_owned()));
            assert_eq!(settings.connect_at_init, expected, "{value:?}");
        }
    }

    #[test]
    fn environment_overrides_defaults() {
        let settings = Settings::from_lookup(|name| match name {
            "TABLE_NAME" => Some("prod-tenants".into()),
            "ORG_ATTRIBUTE" => Some("custom:tenant".into()),
            "METRICS_NAMESPACE" => Some("TenantProvisioning/prod".into()),
            _ => None,
        });
        assert_eq!(settings.table_name, "prod-tenants");
        assert_eq!(settings.org_attribute, "custom:tenant");
        assert_eq!(settings.metrics_namespace, "TenantProvisioning/prod");
    }

    #[test]
    fn log_levels_above_info_drop_the_metrics() {
        for (level, drops) in [
            (None, false),
            (Some("TRACE"), false),
            (Some("debug"), false),
            (Some("INFO"), false),
            (Some("WARN"), true),
            (Some("error"), true),
            (Some(" FATAL "), true),
        ] {
            assert_eq!(log_level_drops_metrics(level), drops, "{level:?}");
        }
    }

    #[test]
    fn two_calls_at_their_timeout_fit_inside_the_deadline() {
        // A token for a user with no claim makes two table calls before the attribute update.
        let per_call = timeouts().operation_timeout().unwrap();
        assert!(per_call * 2 <= HANDLER_DEADLINE);
        assert!(HANDLER_DEADLINE < LAMBDA_TIMEOUT);
        assert!(LAMBDA_TIMEOUT < COGNITO_WAIT);
    }

    /// The template's `Timeout` for the function is `LAMBDA_TIMEOUT`, so the two cannot drift.
    #[test]
    fn the_templates_timeout_is_the_one_the_budget_assumes() {
        let template = include_str!("../template.yaml");
        let function = template
            .split("\n  ProvisionFunction:\n")
            .nth(1)
            .expect("template.yaml declares ProvisionFunction");
        let timeout = function
            .lines()
            .take_while(|line| line.is_empty() || line.starts_with("    "))
            .find_map(|line| line.trim().strip_prefix("Timeout:"))
            .expect("ProvisionFunction sets Timeout");
        assert_eq!(
            timeout
                .split('#')
                .next()
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap(),
            LAMBDA_TIMEOUT.as_secs()
        );
    }
}
