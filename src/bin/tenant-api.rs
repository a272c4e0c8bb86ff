//! The Lambda function behind the tenant API (src/api.rs lists its routes).

use lambda_http::{Error, run, service_fn};
use provision_tenant::api::{self, AllowedOrigin, Api, Mailer, Sender};
use provision_tenant::config::{self, Settings};
use provision_tenant::store::OrgStore;
use provision_tenant::user_pool::UserPool;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env();
    let sdk = config::sdk_config().await;
    let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    // A malformed origin stops the function at init, before it serves anything.
    let origin = AllowedOrigin::parse(variable("ALLOWED_ORIGIN").as_deref())?;
    let user_pool_id = variable("USER_POOL_ID").ok_or("USER_POOL_ID is not set")?;
    // No usable sender, no e-mail: invitations answer with their link instead, and the log
    // says why at every start.
    let sender = Sender::from_settings(
        variable("INVITATION_FROM").as_deref(),
        variable("INVITATION_SOURCE_ARN").as_deref(),
    )
    .unwrap_or_else(|reason| {
        tracing::error!(reason, "invitations are not e-mailed");
        None
    });
    let mailer = sender.map(|sender| {
        let ses = aws_sdk_sesv2::config::Builder::from(&sdk)
            .region(aws_sdk_sesv2::config::Region::new(sender.region))
            .build();
        Mailer::new(aws_sdk_sesv2::Client::from_conf(ses), sender.from)
    });
    let api = Api {
        store: OrgStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table_name),
        user_pool: UserPool::new(
            aws_sdk_cognitoidentityprovider::Client::new(&sdk),
            settings.org_attribute,
        ),
        user_pool_id,
        mailer,
        origin,
    };
    run(service_fn(|request| api::handle(request, &api))).await
}
