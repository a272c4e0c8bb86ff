//! Talking to the local stand-ins that `local/aws.sh` starts: shared by the integration
//! tests and by the developer tools (local/demo.rs, local/invoke.rs, bench/rust), which include this file.
#![allow(dead_code)] // each includer uses a different part
// A test harness: a panic is how it reports a failure.
#![allow(clippy::unwrap_used)]

pub mod burst;

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ChallengeNameType, MessageActionType,
};
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

pub const PASSWORD: &str = "Correct-Horse-42";
/// cognito-local sends this code for every confirmation (CODE in local/aws.sh).
pub const CODE: &str = "123456";
pub const ORG_ATTRIBUTE: &str = "custom:org";
/// Cognito waits this long for a trigger; so does an invoke here.
pub const COGNITO_WAIT: Duration = Duration::from_secs(5);

/// The operations the function calls, by their X-Amz-Target: what a fault is armed for.
/// What one sign-up writes: the organisation, both sides of the owner's membership, the claim.
pub const ITEMS_PER_USER: usize = 4;

/// The token path's one read: a Query of the user's partition (claim, memberships, choice).
pub const MEMBERSHIPS_READ: &str = "DynamoDB_20120810.Query";
pub const TRANSACTION: &str = "DynamoDB_20120810.TransactWriteItems";
pub const ATTRIBUTE_UPDATE: &str = "AWSCognitoIdentityProviderService.AdminUpdateUserAttributes";

/// The sample sign-up confirmation, the one source of its shape (also used by unit tests).
const SIGN_UP_EVENT: &str = include_str!("../../events/post-confirmation-sign-up.json");

pub type Item = HashMap<String, AttributeValue>;

pub struct LocalAws {
    pub cognito: CognitoClient,
    pub dynamo: DynamoClient,
    pub table: String,
    lambda_url: String,
    function_log: String,
    fault_proxy: String,
}

pub struct Pool {
    pub id: String,
    pub client_id: String,
}

/// What an invocation of the function got back, as Cognito sees it.
#[derive(Debug, PartialEq)]
pub enum Invoked {
    Answer(Value),
    Error {
        error_type: String,
        message: String,
    },
    /// Nothing within Cognito's 5 s: where Cognito would try again.
    NoAnswer,
}

/// One fault at the proxy between the function and the stand-ins (local/fault_proxy.py).
pub struct Fault<'a> {
    pub operation: &'a str,
    /// `5xx`, `throttle`, `slow`, `reset`, `lost` or `kill`.
    pub kind: &'a str,
    /// Only requests that mention this (a user's sub).
    pub only_for: &'a str,
    pub times: u32,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through local/aws.sh (make test / make demo)")
    })
}

/// Runs local/stack.py, the one maker of local resources from the template, and
/// returns what it printed.
fn local_stack(args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/local/stack.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(env("LOCAL_STACK_TEMPLATE"))
        .args(args)
        .output()
        .expect("running local/stack.py");
    assert!(
        output.status.success(),
        "local/stack.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("local/stack.py prints JSON")
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(COGNITO_WAIT))
        .build()
        .into()
}

impl LocalAws {
    /// Clients for the servers local/aws.sh started, and the table the function uses.
    pub async fn connect() -> Self {
        Self::connect_to(&env("TABLE_NAME")).await
    }

    /// The same, with a table of the caller's own (created if need be), which the function
    /// does not use: for tests whose data must not meet anyone else's.
    pub async fn connect_to(table: &str) -> Self {
        let sdk = aws_config::load_from_env().await;
        let local = Self {
            cognito: CognitoClient::new(&sdk),
            dynamo: DynamoClient::new(&sdk),
            table: table.to_owned(),
            lambda_url: env("LOCAL_LAMBDA_URL"),
            function_log: env("LOCAL_FUNCTION_LOG"),
            fault_proxy: env("LOCAL_FAULT_PROXY"),
        };
        local.ensure_table().await;
        local
    }

    /// The tenant table as the template declares it (idempotent).
    async fn ensure_table(&self) {
        local_stack(&["table", "--name", &self.table]);
    }

    /// The stack's own user pool (the one the identity pool trusts), which the harness made.
    pub fn stack_pool(&self) -> Pool {
        Pool {
            id: env("UserPoolId"),
            client_id: env("UserPoolClientId"),
        }
    }

    /// A user pool and its app client, made as the template declares them.
    pub async fn create_pool(&self, name: &str) -> Pool {
        let made = local_stack(&["user-pool", "--name", name]);
        Pool {
            id: made["UserPoolId"].as_str().unwrap().to_owned(),
            client_id: made["UserPoolClientId"].as_str().unwrap().to_owned(),
        }
    }

    /// SignUp through the app client, with any extra attributes a client might send.
    /// Returns the user's sub.
    pub async fn sign_up(&self, pool: &Pool, email: &str, extra: &[(&str, &str)]) -> String {
        let mut request = self
            .cognito
            .sign_up()
            .client_id(&pool.client_id)
            .username(email)
            .password(PASSWORD)
            .user_attributes(attribute("email", email));
        for (name, value) in extra {
            request = request.user_attributes(attribute(name, value));
        }
        request.send().await.expect("SignUp").user_sub
    }

    /// ConfirmSignUp: the call on which Cognito invokes the PostConfirmation trigger.
    pub async fn confirm(&self, pool: &Pool, email: &str) {
        self.cognito
            .confirm_sign_up()
            .client_id(&pool.client_id)
            .username(email)
            .confirmation_code(CODE)
            .send()
            .await
            .expect("ConfirmSignUp");
    }

    pub async fn sign_up_and_confirm(&self, pool: &Pool, email: &str) -> String {
        let sub = self.sign_up(pool, email, &[]).await;
        self.confirm(pool, email).await;
        sub
    }

    /// AdminCreateUser, as an administrator or an import would: PostConfirmation never fires
    /// for this user. The user has a temporary password. Returns the user's sub.
    pub async fn admin_create_user(&self, pool: &Pool, email: &str) -> String {
        let user = self
            .cognito
            .admin_create_user()
            .user_pool_id(&pool.id)
            .username(email)
            .temporary_password("Temporary-Horse-1")
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", email))
            .send()
            .await
            .expect("AdminCreateUser")
            .user
            .expect("the created user");
        user.attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .expect("a sub")
            .to_owned()
    }

    /// The first sign-in of an admin-created user: the temporary password, then the
    /// NEW_PASSWORD_REQUIRED challenge answered with PASSWORD. Returns the ID token's claims.
    pub async fn first_sign_in(&self, pool: &Pool, email: &str) -> Result<Value, String> {
        let started = self
            .cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", "Temporary-Horse-1")
            .send()
            .await
            .map_err(|err| format!("{:?}", err.into_service_error()))?;
        assert_eq!(
            started.challenge_name(),
            Some(&ChallengeNameType::NewPasswordRequired)
        );
        let answered = self
            .cognito
            .respond_to_auth_challenge()
            .client_id(&pool.client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .set_session(started.session().map(str::to_owned))
            .challenge_responses("USERNAME", email)
            .challenge_responses("NEW_PASSWORD", PASSWORD)
            .send()
            .await
            .map_err(|err| format!("{:?}", err.into_service_error()))?;
        id_token_claims_of(answered.authentication_result())
    }

    /// A USER_PASSWORD_AUTH sign-in: the ID token's claims, or the error Cognito gave.
    pub async fn sign_in(&self, pool: &Pool, email: &str, password: &str) -> Result<Value, String> {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|err| format!("{:?}", err.into_service_error()))?;
        id_token_claims_of(auth.authentication_result())
    }

    /// The claims of the ID token from a sign-in that must succeed.
    pub async fn id_token_claims(&self, pool: &Pool, email: &str, password: &str) -> Value {
        self.sign_in(pool, email, password)
            .await
            .unwrap_or_else(|err| panic!("InitiateAuth: {err}"))
    }

    /// The user's attributes as AdminGetUser reports them.
    pub async fn user_attributes(&self, pool: &Pool, user_name: &str) -> HashMap<String, String> {
        self.cognito
            .admin_get_user()
            .user_pool_id(&pool.id)
            .username(user_name)
            .send()
            .await
            .expect("AdminGetUser")
            .user_attributes()
            .iter()
            .map(|a| {
                (
                    a.name().to_owned(),
                    a.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    pub async fn org_of(&self, pool: &Pool, user_name: &str) -> Option<String> {
        self.user_attributes(pool, user_name)
            .await
            .remove(ORG_ATTRIBUTE)
    }

    /// Every item in one organisation's partition.
    pub async fn org_partition(&self, org: &str) -> Vec<Item> {
        self.dynamo
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org}")))
            .consistent_read(true)
            .send()
            .await
            .expect("Query")
            .items
            .unwrap_or_default()
    }

    pub async fn claim(&self, sub: &str) -> Option<Item> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("USER#{sub}")))
            .key("SK", AttributeValue::S("ORG_CLAIM".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Every item anywhere in the table that names this user: what "exactly once" counts.
    pub async fn items_of_user(&self, sub: &str) -> Vec<Item> {
        self.all_items()
            .await
            .into_iter()
            .filter(|item| text(item, "createdBy") == sub || text(item, "sub") == sub)
            .collect()
    }

    /// Every item in the table (a consistent scan).
    pub async fn all_items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Sends an event to the function through the Lambda invoke API, as Cognito does, and
    /// waits as long as Cognito would.
    pub fn invoke(&self, payload: &Value) -> Invoked {
        let url = format!("{}/2015-03-31/functions/_/invocations", self.lambda_url);
        let response = match http().post(&url).send(payload.to_string()) {
            Ok(response) => response,
            Err(ureq::Error::Timeout(_)) => return Invoked::NoAnswer,
            Err(err) => panic!("invoking the function: {err}"),
        };
        let status = response.status();
        let body: Value = match response.into_body().read_json() {
            Ok(body) => body,
            Err(ureq::Error::Timeout(_)) => return Invoked::NoAnswer,
            Err(err) => panic!("reading the function's answer: {err}"),
        };
        if status.is_success() {
            Invoked::Answer(body)
        } else {
            Invoked::Error {
                error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
                message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            }
        }
    }

    /// Arms a fault at the proxy between the function and the stand-ins.
    pub fn arm(&self, fault: Fault) {
        let body = json!({
            "operation": fault.operation,
            "fault": fault.kind,
            "match": fault.only_for,
            "times": fault.times,
        });
        let response = http()
            .post(format!("{}/__faults", self.fault_proxy))
            .send(body.to_string())
            .expect("arming a fault");
        assert!(response.status().is_success(), "the proxy refused {body}");
    }

    /// The function's requests that mentioned any of `texts` (a sub, an organisation id), by
    /// operation: the round trips its invocations made.
    pub fn calls_mentioning(&self, texts: &[&str]) -> Value {
        let query: Vec<String> = texts.iter().map(|text| format!("match={text}")).collect();
        let mut response = http()
            .get(format!("{}/__calls?{}", self.fault_proxy, query.join("&")))
            .call()
            .expect("reading the proxy's call log");
        response.body_mut().read_json().expect("the call log")
    }

    /// Throttles an operation's requests that mention `only_for` (a pool id) past `per_second`,
    /// as a Cognito quota does (0 lifts it).
    pub fn quota(&self, operation: &str, only_for: &str, per_second: u32) {
        let body = json!({"operation": operation, "per_second": per_second, "match": only_for});
        http()
            .post(format!("{}/__quota", self.fault_proxy))
            .send(body.to_string())
            .expect("setting a quota");
    }

    /// How many requests each quota turned away, by operation.
    pub fn throttled(&self) -> Value {
        let mut response = http()
            .get(format!("{}/__faults", self.fault_proxy))
            .call()
            .expect("reading the proxy's state");
        let state: Value = response.body_mut().read_json().expect("JSON");
        state["quotas"].clone()
    }

    /// The function's JSON log lines so far (every instance's).
    pub fn function_log(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.function_log)
            .expect("reading the function log")
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The function's log lines about one user, in order.
    pub fn function_log_of(&self, sub: &str) -> Vec<Value> {
        self.function_log()
            .into_iter()
            .filter(|line| line["fields"]["sub"] == sub)
            .collect()
    }

    /// The metrics line (EMF) the function printed for one invocation.
    pub fn metrics_line(&self, request_id: &str) -> Value {
        let lines: Vec<_> = self
            .function_log()
            .into_iter()
            .filter(|line| line.get("_aws").is_some() && line["requestId"] == request_id)
            .collect();
        let [line] = lines.as_slice() else {
            panic!("one metrics line for invocation {request_id}: {lines:?}");
        };
        line.clone()
    }

    /// The outcomes the function logged for one user, in order.
    pub fn outcomes_of(&self, sub: &str) -> Vec<String> {
        self.function_log_of(sub)
            .iter()
            .filter_map(|line| line["fields"]["outcome"].as_str().map(str::to_owned))
            .collect()
    }
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

/// The claims of a sign-in's ID token (not verified: the tests trust their own stand-in).
fn id_token_claims_of(
    result: Option<&aws_sdk_cognitoidentityprovider::types::AuthenticationResultType>,
) -> Result<Value, String> {
    let token = result.and_then(|r| r.id_token()).ok_or("no ID token")?;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("JWT payload is base64url");
    Ok(serde_json::from_slice(&json).expect("JWT payload is JSON"))
}

/// The event Cognito sends when this user confirms sign-up: events/post-confirmation-sign-up.json
/// pointed at a real user.
pub fn confirm_sign_up_event(
    pool: &Pool,
    user_name: &str,
    attributes: &HashMap<String, String>,
) -> Value {
    let mut event: Value = serde_json::from_str(SIGN_UP_EVENT).expect("the sample event is JSON");
    event["userPoolId"] = pool.id.clone().into();
    event["userName"] = user_name.into();
    event["callerContext"]["clientId"] = pool.client_id.clone().into();
    event["request"]["userAttributes"] = json!(attributes);
    event
}

pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}
