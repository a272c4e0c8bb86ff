//! The Lambda function: Cognito's PostConfirmation and pre token generation triggers.

use lambda_runtime::{Error, run, service_fn};
use provision_tenant::config::{self, Settings};
use provision_tenant::provision::Provisioner;
use provision_tenant::store::OrgStore;
use provision_tenant::triggers;
use provision_tenant::user_pool::UserPool;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_env();
    let sdk = aws_config::from_env()
        .retry_config(config::retries())
        .timeout_config(config::timeouts())
        .load()
        .await;
    let provisioner = Provisioner {
        store: OrgStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table_name),
        user_pool: UserPool::new(
            aws_sdk_cognitoidentityprovider::Client::new(&sdk),
            settings.org_attribute,
        ),
    };
    run(service_fn(|event| triggers::handle(event, &provisioner))).await
}
