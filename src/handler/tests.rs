//! One test (at least) per row of the behaviour table, through the handler, against mocked
//! SDK clients: each asserts which calls were made and with what.

use super::*;
use crate::config;
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::operation::admin_update_user_attributes::AdminUpdateUserAttributesOutput;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use lambda_runtime::Context;
use serde_json::json;
use std::sync::{Arc, Mutex};

const SUB: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const POOL: &str = "eu-west-1_Example";
const OWN_ORG: &str = "0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b";
const OTHER_ORG: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
const THROTTLED: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;

fn event(source: &str, org: Option<&str>) -> Value {
    let mut attributes =
        json!({"sub": SUB, "email": "alice@example.com", "email_verified": "true"});
    if let Some(org) = org {
        attributes["custom:org"] = json!(org);
    }
    json!({
        "version": "1",
        "region": "eu-west-1",
        "userPoolId": POOL,
        "userName": SUB,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "web"},
        "triggerSource": source,
        "request": {"userAttributes": attributes},
        "response": {}
    })
}

fn sign_up(org: Option<&str>) -> Value {
    event("PostConfirmation_ConfirmSignUp", org)
}

/// The mocked table and user pool, with a record of every call made to them.
struct Aws {
    get_claim: Rule,
    transact: Rule,
    update: Rule,
    /// The orgId of every transaction, in order.
    transacted: Arc<Mutex<Vec<String>>>,
    /// The organisation attribute value of every AdminUpdateUserAttributes call.
    updated: Arc<Mutex<Vec<String>>>,
}

impl Aws {
    fn new(get_claim: Rule, transact_outcome: TransactOutcome, update_fails: bool) -> Self {
        let transacted = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&transacted);
        let transact = mock!(DynamoClient::transact_write_items).match_requests(move |input| {
            record.lock().unwrap().push(org_of_transaction(input));
            true
        });
        let transact = match transact_outcome {
            TransactOutcome::Commits => {
                transact.then_output(|| TransactWriteItemsOutput::builder().build())
            }
            TransactOutcome::ClaimedBy(org) => {
                transact.then_error(move || cancelled("ConditionalCheckFailed", Some(org)))
            }
            TransactOutcome::Throttled => {
                transact.then_error(|| cancelled("ThrottlingError", None))
            }
        };

        let updated = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&updated);
        let update =
            mock!(CognitoClient::admin_update_user_attributes).match_requests(move |input| {
                assert_eq!(input.user_pool_id(), Some(POOL));
                assert_eq!(input.username(), Some(SUB));
                let [attribute] = input.user_attributes() else {
                    panic!("expected exactly one attribute: {input:?}");
                };
                assert_eq!(attribute.name(), "custom:org");
                record
                    .lock()
                    .unwrap()
                    .push(attribute.value().unwrap().to_owned());
                true
            });
        let update = if update_fails {
            update.sequence().http_status(500, None).times(3).build()
        } else {
            update.then_output(|| AdminUpdateUserAttributesOutput::builder().build())
        };
        Self {
            get_claim,
            transact,
            update,
            transacted,
            updated,
        }
    }

    fn clients(&self) -> (OrgStore, UserDirectory) {
        let dynamo = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&self.get_claim, &self.transact],
            |config| config.retry_config(config::retries())
        );
        let cognito = mock_client!(
            aws_sdk_cognitoidentityprovider,
            RuleMode::MatchAny,
            [&self.update],
            |config| config.retry_config(config::retries())
        );
        (
            OrgStore::new(dynamo, "tenants"),
            UserDirectory::new(cognito, "custom:org"),
        )
    }

    async fn invoke(&self, payload: Value) -> Result<Value, HandlerError> {
        let (store, directory) = self.clients();
        handle(
            LambdaEvent::new(payload, Context::default()),
            &store,
            &directory,
        )
        .await
    }

    fn transacted(&self) -> Vec<String> {
        self.transacted.lock().unwrap().clone()
    }

    fn updated(&self) -> Vec<String> {
        self.updated.lock().unwrap().clone()
    }

    fn calls(&self) -> [usize; 3] {
        [
            self.get_claim.num_calls(),
            self.transact.num_calls(),
            self.update.num_calls(),
        ]
    }
}

enum TransactOutcome {
    Commits,
    ClaimedBy(&'static str),
    Throttled,
}

fn no_claim() -> Rule {
    claim_read(|| GetItemOutput::builder().build())
}

fn claim_of(org: &'static str) -> Rule {
    claim_read(move || {
        GetItemOutput::builder()
            .item("orgId", AttributeValue::S(org.into()))
            .build()
    })
}

fn claim_read(output: impl Fn() -> GetItemOutput + Send + Sync + 'static) -> Rule {
    mock!(DynamoClient::get_item)
        .match_requests(|input| {
            let key = input.key().unwrap();
            input.table_name() == Some("tenants")
                && input.consistent_read() == Some(true)
                && key["PK"] == AttributeValue::S(format!("USER#{SUB}"))
                && key["SK"] == AttributeValue::S("ORG_CLAIM".into())
        })
        .then_output(output)
}

fn cancelled(claim_code: &str, claim_org: Option<&str>) -> TransactWriteItemsError {
    let claim = CancellationReason::builder().code(claim_code);
    let claim = match claim_org {
        Some(org) => claim.item("orgId", AttributeValue::S(org.into())),
        None => claim,
    };
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .cancellation_reasons(CancellationReason::builder().code("None").build())
            .cancellation_reasons(CancellationReason::builder().code("None").build())
            .cancellation_reasons(claim.build())
            .build(),
    )
}

/// Checks the transaction's shape and returns the organisation it creates.
fn org_of_transaction(input: &TransactWriteItemsInput) -> String {
    let puts: Vec<_> = input
        .transact_items()
        .iter()
        .map(|item| item.put().expect("only puts"))
        .collect();
    assert_eq!(puts.len(), 3, "organisation, membership, claim");
    let s =
        |put: &aws_sdk_dynamodb::types::Put, name: &str| put.item()[name].as_s().unwrap().clone();
    let org = s(puts[0], "orgId");
    let keys: Vec<_> = puts
        .iter()
        .map(|put| (s(put, "PK"), s(put, "SK")))
        .collect();
    assert_eq!(
        keys,
        [
            (format!("ORG#{org}"), "ORG".to_owned()),
            (format!("ORG#{org}"), format!("MEMBER#{SUB}")),
            (format!("USER#{SUB}"), "ORG_CLAIM".to_owned()),
        ]
    );
    for put in &puts {
        assert_eq!(put.table_name(), "tenants");
        assert_eq!(s(put, "orgId"), org);
        assert!(!s(put, "createdAt").is_empty());
        assert_eq!(
            put.condition_expression(),
            Some("attribute_not_exists(#pk)")
        );
        assert_eq!(put.expression_attribute_names().unwrap()["#pk"], "PK");
    }
    assert_eq!(s(puts[0], "createdBy"), SUB);
    assert_eq!(s(puts[1], "role"), "owner");
    assert_eq!(s(puts[2], "sub"), SUB);
    assert!(
        puts[2].return_values_on_condition_check_failure().is_some(),
        "a lost race must learn the winner's organisation"
    );
    org
}

#[tokio::test]
async fn first_confirmation_mints_records_and_sets_one_organisation() {
    let aws = Aws::new(no_claim(), TransactOutcome::Commits, false);
    let payload = sign_up(None);

    let returned = aws.invoke(payload.clone()).await.unwrap();

    assert_eq!(returned, payload, "the event goes back unchanged");
    assert_eq!(aws.calls(), [1, 1, 1]);
    let minted = aws.transacted();
    assert_eq!(
        aws.updated(),
        minted,
        "the attribute names the organisation written"
    );
    let org = uuid::Uuid::parse_str(&minted[0]).unwrap();
    assert_eq!(org.get_version_num(), 4);
}

#[tokio::test]
async fn retry_after_the_write_reuses_the_claim_and_creates_nothing() {
    let aws = Aws::new(claim_of(OWN_ORG), TransactOutcome::Commits, false);

    let returned = aws.invoke(sign_up(None)).await.unwrap();

    assert_eq!(returned, sign_up(None));
    assert_eq!(aws.calls(), [1, 0, 1], "no transaction on reuse");
    assert_eq!(aws.updated(), [OWN_ORG]);
}

#[tokio::test]
async fn concurrent_duplicate_loses_the_race_and_adopts_the_winners_organisation() {
    let aws = Aws::new(no_claim(), TransactOutcome::ClaimedBy(OWN_ORG), false);

    aws.invoke(sign_up(None)).await.unwrap();

    assert_eq!(aws.calls(), [1, 1, 1]);
    assert_ne!(
        aws.transacted(),
        [OWN_ORG],
        "it tried its own, new organisation"
    );
    assert_eq!(aws.updated(), [OWN_ORG], "but set the one that won");
}

#[tokio::test]
async fn event_already_carrying_the_claimed_organisation_changes_nothing() {
    let aws = Aws::new(claim_of(OWN_ORG), TransactOutcome::Commits, false);

    let returned = aws.invoke(sign_up(Some(OWN_ORG))).await.unwrap();

    assert_eq!(returned, sign_up(Some(OWN_ORG)));
    assert_eq!(aws.calls(), [1, 0, 0], "one read, no write, no update");
}

#[tokio::test]
async fn client_supplied_organisation_is_never_joined() {
    let aws = Aws::new(no_claim(), TransactOutcome::Commits, false);

    let returned = aws.invoke(sign_up(Some(OTHER_ORG))).await.unwrap();

    assert_eq!(
        returned,
        sign_up(Some(OTHER_ORG)),
        "the event goes back unchanged"
    );
    assert_eq!(aws.calls(), [1, 1, 1]);
    let minted = aws.transacted();
    assert_ne!(minted, [OTHER_ORG]);
    assert_eq!(
        aws.updated(),
        minted,
        "overwritten with its own organisation"
    );
}

#[tokio::test]
async fn client_supplied_organisation_on_a_retry_is_replaced_by_the_claim() {
    let aws = Aws::new(claim_of(OWN_ORG), TransactOutcome::Commits, false);

    aws.invoke(sign_up(Some(OTHER_ORG))).await.unwrap();

    assert_eq!(aws.calls(), [1, 0, 1]);
    assert_eq!(aws.updated(), [OWN_ORG]);
}

#[tokio::test]
async fn password_reset_and_unknown_sources_touch_nothing() {
    for source in [
        "PostConfirmation_ConfirmForgotPassword",
        "PostConfirmation_SomethingNew",
        "PreSignUp_SignUp",
    ] {
        let aws = Aws::new(no_claim(), TransactOutcome::Commits, false);
        let payload = event(source, Some(OWN_ORG));

        let returned = aws.invoke(payload.clone()).await.unwrap();

        assert_eq!(returned, payload, "{source}");
        assert_eq!(aws.calls(), [0, 0, 0], "{source}");
    }
}

#[tokio::test]
async fn malformed_events_are_rejected_before_any_call() {
    let mut missing_user_name = sign_up(None);
    missing_user_name
        .as_object_mut()
        .unwrap()
        .remove("userName");
    let mut missing_pool = sign_up(None);
    missing_pool.as_object_mut().unwrap().remove("userPoolId");
    let mut missing_sub = sign_up(None);
    missing_sub["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("sub");
    let mut sub_not_uuid = sign_up(None);
    sub_not_uuid["request"]["userAttributes"]["sub"] = json!("alice");
    let mut wrong_type = sign_up(None);
    wrong_type["request"] = json!("attributes");
    let cases = [
        (json!(null), "not a JSON object"),
        (json!("PostConfirmation_ConfirmSignUp"), "not a JSON object"),
        (missing_user_name, "`userName` is missing"),
        (missing_pool, "`userPoolId` is missing"),
        (missing_sub, "`request.userAttributes.sub` is missing"),
        (sub_not_uuid, "not a UUID"),
        (wrong_type, "`request` must be an object"),
    ];
    for (payload, expected) in cases {
        let aws = Aws::new(no_claim(), TransactOutcome::Commits, false);

        let err = aws.invoke(payload.clone()).await.unwrap_err();

        assert!(matches!(err, HandlerError::Event(_)), "{payload}: {err}");
        assert!(err.to_string().contains(expected), "{payload}: {err}");
        assert_eq!(Diagnostic::from(err).error_type, "MalformedEvent");
        assert_eq!(aws.calls(), [0, 0, 0], "{payload}");
    }
}

#[tokio::test]
async fn throttled_table_is_retried_a_bounded_number_of_times_then_fails_cleanly() {
    let get_claim = mock!(DynamoClient::get_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(5)
        .build();
    let aws = Aws::new(get_claim, TransactOutcome::Commits, false);

    let err = aws.invoke(sign_up(None)).await.unwrap_err();

    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    assert_eq!(Diagnostic::from(err).error_type, "ProvisioningFailed");
    assert_eq!(
        aws.calls(),
        [3, 0, 0],
        "three attempts, then nothing written"
    );
}

#[tokio::test]
async fn a_throttle_that_clears_within_the_attempts_still_provisions() {
    let get_claim = mock!(DynamoClient::get_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| GetItemOutput::builder().build())
        .build();
    let aws = Aws::new(get_claim, TransactOutcome::Commits, false);

    aws.invoke(sign_up(None)).await.unwrap();

    assert_eq!(aws.calls(), [2, 1, 1]);
}

#[tokio::test]
async fn throttled_transaction_fails_without_touching_the_user() {
    let aws = Aws::new(no_claim(), TransactOutcome::Throttled, false);

    let err = aws.invoke(sign_up(None)).await.unwrap_err();

    assert!(err.to_string().contains("ThrottlingError"), "{err}");
    assert_eq!(
        aws.calls()[2],
        0,
        "no attribute without a committed organisation"
    );
}

#[tokio::test]
async fn failing_user_pool_leaves_a_claim_that_the_next_attempt_finishes() {
    let first = Aws::new(no_claim(), TransactOutcome::Commits, true);
    let err = first.invoke(sign_up(None)).await.unwrap_err();
    assert!(err.to_string().contains("custom:org"), "{err}");
    assert_eq!(first.calls(), [1, 1, 3], "three attempts at the update");
    let minted = first.transacted();

    // Cognito delivers the event again; the claim written above now exists.
    let org: &'static str = minted[0].clone().leak();
    let retry = Aws::new(claim_of(org), TransactOutcome::Commits, false);
    retry.invoke(sign_up(None)).await.unwrap();

    assert_eq!(retry.calls(), [1, 0, 1]);
    assert_eq!(retry.updated(), minted);
}

#[tokio::test]
async fn corrupt_claim_is_an_error_not_a_second_organisation() {
    let aws = Aws::new(claim_of("not-a-uuid"), TransactOutcome::Commits, false);

    let err = aws.invoke(sign_up(None)).await.unwrap_err();

    assert!(
        err.to_string().contains("no valid organisation id"),
        "{err}"
    );
    assert_eq!(aws.calls(), [1, 0, 0]);
}

#[tokio::test]
async fn silent_table_endpoint_gives_an_error_not_a_hang() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let dynamo = DynamoClient::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .with_test_defaults_v2()
            .endpoint_url(endpoint)
            .retry_config(config::retries())
            .timeout_config(config::timeouts())
            .build(),
    );
    let aws = Aws::new(no_claim(), TransactOutcome::Commits, false);
    let (_, directory) = aws.clients();
    let store = OrgStore::new(dynamo, "tenants");

    let err = handle(
        LambdaEvent::new(sign_up(None), Context::default()),
        &store,
        &directory,
    )
    .await
    .unwrap_err();

    assert!(err.to_string().contains("timeout"), "{err}");
    assert_eq!(aws.update.num_calls(), 0);
}
