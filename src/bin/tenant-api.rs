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
    // A malformed origin stops the function at init, before it serves anything.
    let origin = api::AllowedOrigin::parse(std::env::var("ALLOWED_ORIGIN").ok().as_deref())?;
    run(service_fn(|request| {
        api::handle(request, &store, origin.as_ref())
    }))
    .await
}
