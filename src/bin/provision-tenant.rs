//! The Lambda function: Cognito's PostConfirmation and pre token generation triggers.

use lambda_runtime::{Error, run, service_fn};
use provision_tenant::config::{self, Settings};
use provision_tenant::metrics::Metrics;
use provision_tenant::provision::Provisioner;
use provision_tenant::triggers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let log_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    if config::log_level_drops_metrics(log_level.as_deref()) {
        tracing::error!(
            log_level = log_level.as_deref().unwrap_or_default(),
            "this log level drops the metrics line: every alarm will stay green; use INFO or below"
        );
    }
    let settings = Settings::from_env();
    let sdk = config::sdk_config().await;
    let metrics = Metrics::new(settings.metrics_namespace.clone());
    let connect_at_init = settings.connect_at_init;
    let provisioner = Provisioner::new(&sdk, settings);
    if connect_at_init {
        provisioner
            .open_connections(config::INIT_CONNECT_DEADLINE)
            .await;
    }
    run(service_fn(|event| {
        triggers::handle(event, &provisioner, &metrics)
    }))
    .await
}
