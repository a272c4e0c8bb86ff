//! Cognito PostConfirmation trigger: gives every confirmed user exactly one organisation.

mod config;
mod directory;
mod event;
mod handler;
mod org;
mod provision;
mod store;

use config::Settings;
use directory::UserDirectory;
use lambda_runtime::{Error, run, service_fn};
use store::OrgStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_env();
    let sdk = aws_config::from_env()
        .retry_config(config::retries())
        .timeout_config(config::timeouts())
        .load()
        .await;
    let store = OrgStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table_name);
    let directory = UserDirectory::new(
        aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        settings.org_attribute,
    );
    run(service_fn(|event| {
        handler::handle(event, &store, &directory)
    }))
    .await
}
