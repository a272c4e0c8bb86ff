//! Talking to the local stand-ins that `tests/local-aws.sh` starts: shared by the
//! integration tests and by the demo (examples/), which include this file.
#![allow(dead_code)] // each includer uses a different part

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ExplicitAuthFlowsType, SchemaAttributeType,
    StringAttributeConstraintsType, UsernameAttributeType,
};
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::Command;

pub const PASSWORD: &str = "Correct-Horse-42";
/// cognito-local sends this code for every confirmation (CODE in tests/local-aws.sh).
pub const CODE: &str = "123456";
pub const ORG_ATTRIBUTE: &str = "custom:org";

pub type Item = HashMap<String, AttributeValue>;

pub struct LocalAws {
    pub cognito: CognitoClient,
    pub dynamo: DynamoClient,
    pub table: String,
    lambda_port: String,
    function_name: String,
    function_log: String,
}

pub struct Pool {
    pub id: String,
    pub client_id: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through tests/local-aws.sh (make test / make demo)")
    })
}

impl LocalAws {
    /// Clients for the servers tests/local-aws.sh started, and the table the function uses.
    pub async fn connect() -> Self {
        let sdk = aws_config::load_from_env().await;
        let local = Self {
            cognito: CognitoClient::new(&sdk),
            dynamo: DynamoClient::new(&sdk),
            table: env("TABLE_NAME"),
            lambda_port: env("LOCAL_LAMBDA_PORT"),
            function_name: env("LOCAL_FUNCTION_NAME"),
            function_log: env("LOCAL_FUNCTION_LOG"),
        };
        local.ensure_table().await;
        local
    }

    /// The tenant table as the template declares it: string keys PK and SK.
    async fn ensure_table(&self) {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .unwrap()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        let created = self
            .dynamo
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("PK", KeyType::Hash))
            .key_schema(key("SK", KeyType::Range))
            .attribute_definitions(attribute("PK"))
            .attribute_definitions(attribute("SK"))
            .send()
            .await;
        if let Err(err) = created {
            let in_use = err
                .as_service_error()
                .is_some_and(|err| err.is_resource_in_use_exception());
            assert!(in_use, "creating the table failed: {err:?}");
        }
    }

    /// A user pool set up as the template sets it up: email sign-in, a mutable 36-character
    /// `org` attribute, and an app client that may read `custom:org` but not write it.
    pub async fn create_pool(&self, name: &str) -> Pool {
        let org = SchemaAttributeType::builder()
            .name("org")
            .attribute_data_type("String".into())
            .mutable(true)
            .string_attribute_constraints(
                StringAttributeConstraintsType::builder()
                    .min_length("36")
                    .max_length("36")
                    .build(),
            )
            .build();
        let pool = self
            .cognito
            .create_user_pool()
            .pool_name(name)
            .username_attributes(UsernameAttributeType::Email)
            .schema(org)
            .send()
            .await
            .expect("CreateUserPool")
            .user_pool
            .unwrap();
        let id = pool.id.unwrap();
        let client = self
            .cognito
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name("web")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .set_read_attributes(Some(vec![
                "email".into(),
                "email_verified".into(),
                ORG_ATTRIBUTE.into(),
            ]))
            .set_write_attributes(Some(vec!["email".into()]))
            .send()
            .await
            .expect("CreateUserPoolClient")
            .user_pool_client
            .unwrap();
        Pool {
            id,
            client_id: client.client_id.unwrap(),
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

    /// The claims of the ID token from a USER_PASSWORD_AUTH sign-in.
    pub async fn id_token_claims(&self, pool: &Pool, email: &str, password: &str) -> Value {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .expect("InitiateAuth");
        let token = auth.authentication_result().unwrap().id_token().unwrap();
        let payload = token.split('.').nth(1).expect("a JWT has three parts");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("JWT payload is base64url");
        serde_json::from_slice(&json).expect("JWT payload is JSON")
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
        self.dynamo
            .scan()
            .table_name(&self.table)
            .filter_expression("createdBy = :sub OR #sub = :sub")
            .expression_attribute_names("#sub", "sub")
            .expression_attribute_values(":sub", AttributeValue::S(sub.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("Scan")
            .items
            .unwrap_or_default()
    }

    /// Sends an event straight to the function, as Cognito does when it retries.
    /// Ok is the function's answer; Err is what `cargo lambda invoke` printed.
    pub fn invoke(&self, payload: &str) -> Result<Value, String> {
        let output = Command::new("cargo")
            .args(["lambda", "invoke", &self.function_name])
            .args(["-A", "127.0.0.1", "-P", &self.lambda_port])
            .args(["--output-format", "json", "--data-ascii", payload])
            .output()
            .expect("running cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.success() {
            serde_json::from_str(&stdout).map_err(|err| format!("{err}: {stdout}"))
        } else {
            Err(format!(
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The function's JSON log lines so far.
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
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

/// The event Cognito sends when this user confirms sign-up.
pub fn confirm_sign_up_event(
    pool: &Pool,
    user_name: &str,
    attributes: &HashMap<String, String>,
) -> String {
    json!({
        "version": "1",
        "region": "us-east-1",
        "userPoolId": pool.id,
        "userName": user_name,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": pool.client_id},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": attributes},
        "response": {}
    })
    .to_string()
}

pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}
