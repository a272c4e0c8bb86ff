//! The Lambda function behind the tenant API: GET /orgs/{org} and GET /orgs/{org}/members.

use lambda_http::{Error, run, service_fn};
use provision_tenant::api;
use provision_tenant::config::{self, Settings};
use provision_tenant::store::OrgStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env();
    let sdk = config::sdk_config().await;
    let store = OrgStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table_name);
    run(service_fn(|request| api::handle(request, &store))).await
}
