//! Both triggers through the one handler, against mocked SDK clients: each test asserts the
//! answer, the calls made (and with what), and the outcome the function logged.

use super::*;
use crate::config;
use crate::fixtures::{self, SIGNED_IN_ORG, SUB, SUPPLIED_ORG, with};
use crate::store::OrgStore;
use crate::user_pool::UserPool;
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::operation::admin_update_user_attributes::AdminUpdateUserAttributesInput;
use aws_sdk_cognitoidentityprovider::operation::admin_update_user_attributes::AdminUpdateUserAttributesOutput;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::json;
use std::sync::{Arc, Mutex};

const OWN_ORG: &str = "0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b";
const OTHER_ORG: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
const THROTTLED: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
const IN_PROGRESS: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionInProgressException","message":"in progress"}"#;

/// How the mocked TransactWriteItems answers.
#[derive(Clone, Copy)]
enum Transaction {
    Commits,
    /// Cancelled: another attempt's claim, naming this organisation, exists.
    ClaimedBy(&'static str),
    /// Cancelled for throttling, every time.
    Throttled,
    /// Commits, but every answer is lost (HTTP 500): the SDK tries again, then gives up.
    AnswerLost,
    /// Meets its own attempt still in flight (`TransactionInProgressException`) this many
    /// times, then commits.
    InProgress(usize),
}

/// How the mocked AdminUpdateUserAttributes answers.
#[derive(Clone, Copy, PartialEq)]
enum AttributeUpdate {
    Succeeds,
    Fails,
}

/// The mocked claim read.
enum ClaimRead {
    Absent,
    Of(String),
    /// Absent until a transaction has committed, then the committed organisation.
    AsCommitted,
    Throttled,
}

#[derive(Debug, PartialEq, Eq)]
struct Calls {
    claim_reads: usize,
    transactions: usize,
    attribute_updates: usize,
}

const NO_CALLS: Calls = Calls {
    claim_reads: 0,
    transactions: 0,
    attribute_updates: 0,
};

fn calls(claim_reads: usize, transactions: usize, attribute_updates: usize) -> Calls {
    Calls {
        claim_reads,
        transactions,
        attribute_updates,
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// The mocked table and user pool, and what was sent to them.
struct Aws {
    claim: Rule,
    /// The token path's Query of the user's partition: the claim (and its owner membership)
    /// as `ClaimRead` says, then `partition`'s items.
    memberships: Rule,
    partition: Arc<Mutex<Vec<Item>>>,
    transact: Rule,
    update: Rule,
    /// Every TransactWriteItems request, in order (an SDK retry is the same request).
    transactions: Recorder<TransactWriteItemsInput>,
    /// Every AdminUpdateUserAttributes request.
    updates: Recorder<AdminUpdateUserAttributesInput>,
}

impl Aws {
    fn new(claim: ClaimRead, transaction: Transaction, update: AttributeUpdate) -> Self {
        let transactions = Recorder::default();
        let partition = Arc::<Mutex<Vec<Item>>>::default();
        let claimed: Option<ClaimedOrg> = match claim {
            ClaimRead::Absent => Some(Arc::new(|| None)),
            ClaimRead::Of(org) => Some(Arc::new(move || Some(org.clone()))),
            ClaimRead::AsCommitted => {
                let sent = transactions.clone();
                Some(Arc::new(move || sent.all().first().map(org_of)))
            }
            ClaimRead::Throttled => None,
        };
        let (claim, memberships) = match claimed {
            Some(org) => (
                claim_read(org.clone()),
                partition_read(org, partition.clone()),
            ),
            None => (
                mock!(DynamoClient::get_item)
                    .sequence()
                    .http_status(400, Some(THROTTLED.into()))
                    .times(10)
                    .build(),
                mock!(DynamoClient::query)
                    .sequence()
                    .http_status(400, Some(THROTTLED.into()))
                    .times(10)
                    .build(),
            ),
        };
        let transact = match transaction {
            Transaction::Commits => mock!(DynamoClient::transact_write_items)
                .then_output(|| TransactWriteItemsOutput::builder().build()),
            Transaction::ClaimedBy(org) => mock!(DynamoClient::transact_write_items)
                .then_error(move || cancelled("ConditionalCheckFailed", Some(org))),
            Transaction::Throttled => mock!(DynamoClient::transact_write_items)
                .then_error(|| cancelled("ThrottlingError", None)),
            Transaction::AnswerLost => mock!(DynamoClient::transact_write_items)
                .sequence()
                .http_status(500, None)
                .times(3)
                .build(),
            Transaction::InProgress(times) => mock!(DynamoClient::transact_write_items)
                .sequence()
                .http_status(400, Some(IN_PROGRESS.into()))
                .times(times)
                .output(|| TransactWriteItemsOutput::builder().build())
                .build(),
        };
        let update_rule = match update {
            AttributeUpdate::Succeeds => mock!(CognitoClient::admin_update_user_attributes)
                .then_output(|| AdminUpdateUserAttributesOutput::builder().build()),
            AttributeUpdate::Fails => mock!(CognitoClient::admin_update_user_attributes)
                .sequence()
                .http_status(500, None)
                .times(3)
                .build(),
        };
        Self {
            claim,
            memberships,
            partition,
            transact,
            update: update_rule,
            transactions,
            updates: Recorder::default(),
        }
    }

    fn provisioner(&self) -> Provisioner {
        Provisioner::from_parts(self.store(), self.user_pool())
    }

    fn store(&self) -> OrgStore {
        let dynamo = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&self.claim, &self.memberships, &self.transact],
            |config| config
                .retry_config(config::retries())
                .interceptor(self.transactions.clone())
        );
        OrgStore::new(dynamo, "tenants")
    }

    fn user_pool(&self) -> UserPool {
        let cognito = mock_client!(
            aws_sdk_cognitoidentityprovider,
            RuleMode::MatchAny,
            [&self.update],
            |config| config
                .retry_config(config::retries())
                .interceptor(self.updates.clone())
        );
        UserPool::new(cognito, "custom:org")
    }

    /// Invokes the handler; returns its answer and the outcomes it logged, in order.
    async fn invoke(&self, payload: Value) -> (Result<Value, TriggerError>, Log) {
        invoke_with(&self.provisioner(), payload).await
    }

    fn calls(&self) -> Calls {
        calls(
            self.claim.num_calls() + self.memberships.num_calls(),
            self.transact.num_calls(),
            self.update.num_calls(),
        )
    }

    /// Adds items to the user's partition, after the claim and its membership.
    fn with_partition(self, items: impl IntoIterator<Item = Item>) -> Self {
        self.partition.lock().unwrap().extend(items);
        self
    }

    /// The organisation of each transaction request, in order.
    fn transacted(&self) -> Vec<String> {
        self.transactions.all().iter().map(org_of).collect()
    }

    /// The organisation attribute value of every update, checking who and what each names.
    fn updated(&self) -> Vec<String> {
        self.updates
            .all()
            .iter()
            .map(|input| {
                assert_eq!(input.user_pool_id(), Some(fixtures::POOL));
                assert_eq!(input.username(), Some(SUB));
                let [attribute] = input.user_attributes() else {
                    panic!("expected exactly one attribute: {input:?}");
                };
                assert_eq!(attribute.name(), "custom:org");
                attribute.value().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

/// Records every request of one type that a client sends: an interceptor, so the mocks'
/// rules stay plain answers.
#[derive(Debug)]
struct Recorder<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Clone for Recorder<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Clone> Recorder<T> {
    fn all(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static> Intercept for Recorder<T> {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<T>() {
            self.0.lock().unwrap().push(input.clone());
        }
        Ok(())
    }
}

/// The function's JSON log lines for one invocation.
struct Log(Vec<Value>);

impl Log {
    fn outcomes(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|line| line["fields"]["outcome"].as_str().map(str::to_owned))
            .collect()
    }

    fn security_warnings(&self) -> Vec<&Value> {
        self.0
            .iter()
            .filter(|line| line["fields"]["security"] == true && line["level"] == "WARN")
            .collect()
    }

    fn field(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|line| line["fields"][name].as_str().map(str::to_owned))
            .collect()
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn invoke_with(
    provisioner: &Provisioner,
    payload: Value,
) -> (Result<Value, TriggerError>, Log) {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (result, report) = dispatch(payload, provisioner).await;
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let log = Log(lines);
    // What the metrics line will count is what the log says happened.
    assert_eq!(
        log.outcomes().last().map(String::as_str),
        Some(report.outcome.as_str()),
        "the report's outcome is the last one logged"
    );
    assert_eq!(
        report.foreign_org,
        !log.security_warnings().is_empty(),
        "the report counts a security warning exactly when one was logged"
    );
    (result, log)
}

/// What the mocked table says the user's claim names, when asked.
type ClaimedOrg = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// An item of the user's partition (`USER#<sub>`).
fn user_item(sort: &str, attributes: &[(&str, &str)]) -> Item {
    let mut item: Item = attributes
        .iter()
        .map(|(name, value)| ((*name).to_owned(), AttributeValue::S((*value).to_owned())))
        .collect();
    item.insert("PK".into(), AttributeValue::S(format!("USER#{SUB}")));
    item.insert("SK".into(), AttributeValue::S(sort.to_owned()));
    item
}

fn member_of(org: &str, role: &str) -> Item {
    user_item(&format!("MEMBER_OF#{org}"), &[("role", role)])
}

fn active(org: &str) -> Item {
    user_item("ACTIVE", &[("orgId", org)])
}

fn partition_read(org: ClaimedOrg, partition: Arc<Mutex<Vec<Item>>>) -> Rule {
    mock!(DynamoClient::query)
        .match_requests(|input| {
            input.table_name() == Some("tenants")
                && input.consistent_read() == Some(true)
                && input.expression_attribute_values().unwrap()[":pk"]
                    == AttributeValue::S(format!("USER#{SUB}"))
        })
        .then_compute_output(move |_| {
            let mut items: Vec<Item> = org()
                .map(|org| {
                    vec![
                        user_item("ORG_CLAIM", &[("orgId", &org)]),
                        member_of(&org, "owner"),
                    ]
                })
                .unwrap_or_default();
            items.extend(partition.lock().unwrap().iter().cloned());
            QueryOutput::builder().set_items(Some(items)).build()
        })
}

fn claim_read(org: ClaimedOrg) -> Rule {
    mock!(DynamoClient::get_item)
        .match_requests(|input| {
            let key = input.key().unwrap();
            input.table_name() == Some("tenants")
                && input.consistent_read() == Some(true)
                && key["PK"] == AttributeValue::S(format!("USER#{SUB}"))
                && key["SK"] == AttributeValue::S("ORG_CLAIM".into())
        })
        .then_compute_output(move |_| {
            let item = org().map(|org| [("orgId".to_owned(), AttributeValue::S(org))].into());
            GetItemOutput::builder().set_item(item).build()
        })
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

fn org_of(input: &TransactWriteItemsInput) -> String {
    input.transact_items()[0].put().unwrap().item()["orgId"]
        .as_s()
        .unwrap()
        .clone()
}

/// Checks a transaction's shape: four conditional puts, keyed as the store module says,
/// with a client request token naming the attempt.
fn assert_transaction_shape(input: &TransactWriteItemsInput) {
    let puts: Vec<_> = input
        .transact_items()
        .iter()
        .map(|item| item.put().expect("only puts"))
        .collect();
    let s =
        |put: &aws_sdk_dynamodb::types::Put, name: &str| put.item()[name].as_s().unwrap().clone();
    let org = org_of(input);
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
            (format!("USER#{SUB}"), format!("MEMBER_OF#{org}")),
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
    }
    assert_eq!(s(puts[0], "createdBy"), SUB);
    assert_eq!(s(puts[1], "role"), "owner");
    assert_eq!(s(puts[2], "sub"), SUB);
    assert_eq!(s(puts[3], "role"), "owner");
    assert!(
        puts[2].return_values_on_condition_check_failure().is_some(),
        "a lost race must learn the winner's organisation"
    );
    assert_eq!(input.client_request_token(), Some(org.as_str()));
}

fn token_claim(answer: &Value) -> Option<&str> {
    answer
        .pointer("/response/claimsOverrideDetails/claimsToAddOrOverride/custom:org")
        .and_then(Value::as_str)
}

fn role_claim(answer: &Value) -> Option<&str> {
    answer
        .pointer("/response/claimsOverrideDetails/claimsToAddOrOverride/org_role")
        .and_then(Value::as_str)
}

// ---------------------------------------------------------------- PostConfirmation

#[tokio::test]
async fn first_confirmation_mints_records_and_sets_one_organisation() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let payload = fixtures::sign_up(None);

    let (answer, log) = aws.invoke(payload.clone()).await;

    assert_eq!(answer.unwrap(), payload, "the event goes back unchanged");
    assert_eq!(aws.calls(), calls(0, 1, 1), "two round trips, no read");
    assert_transaction_shape(&aws.transactions.all()[0]);
    let minted = aws.transacted();
    assert_eq!(
        aws.updated(),
        minted,
        "the attribute names the organisation written"
    );
    assert_eq!(
        uuid::Uuid::parse_str(&minted[0]).unwrap().get_version_num(),
        4
    );
    assert_eq!(log.outcomes(), ["minted"]);
    assert_eq!(log.field("org_id"), minted);
}

#[tokio::test]
async fn retry_after_the_write_reuses_the_claim_and_creates_nothing() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::ClaimedBy(OWN_ORG),
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert_eq!(answer.unwrap(), fixtures::sign_up(None));
    assert_eq!(
        aws.calls(),
        calls(0, 1, 1),
        "the cancelled transaction names the claim: no read"
    );
    assert_eq!(aws.updated(), [OWN_ORG]);
    assert_eq!(log.outcomes(), ["reused"]);
}

#[tokio::test]
async fn concurrent_duplicate_loses_the_race_and_adopts_the_winners_organisation() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::ClaimedBy(OWN_ORG),
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert!(answer.is_ok());
    assert_eq!(aws.calls(), calls(0, 1, 1));
    assert_ne!(
        aws.transacted(),
        [OWN_ORG],
        "it tried its own, new organisation"
    );
    assert_eq!(aws.updated(), [OWN_ORG], "but set the one that won");
    assert_eq!(log.outcomes(), ["reused"]);
}

#[tokio::test]
async fn event_already_carrying_the_claimed_organisation_changes_nothing() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::ClaimedBy(OWN_ORG),
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(Some(OWN_ORG))).await;

    assert_eq!(answer.unwrap(), fixtures::sign_up(Some(OWN_ORG)));
    assert_eq!(
        aws.calls(),
        calls(0, 1, 0),
        "one cancelled transaction, no update"
    );
    assert_eq!(log.outcomes(), ["already_set"]);
}

#[tokio::test]
async fn client_supplied_organisation_is_never_joined() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let payload = fixtures::event(fixtures::CLIENT_SUPPLIED_ORG);

    let (answer, log) = aws.invoke(payload.clone()).await;

    assert_eq!(answer.unwrap(), payload, "the event goes back unchanged");
    assert_eq!(aws.calls(), calls(0, 1, 1));
    let minted = aws.transacted();
    assert_ne!(minted, [SUPPLIED_ORG]);
    assert_eq!(
        aws.updated(),
        minted,
        "overwritten with its own organisation"
    );
    let [warning] = log.security_warnings()[..] else {
        panic!("one security warning: {:?}", log.0);
    };
    assert_eq!(warning["fields"]["supplied_org"], SUPPLIED_ORG);
    assert_eq!(warning["fields"]["org_id"], minted[0].as_str());
}

#[tokio::test]
async fn client_supplied_organisation_on_a_retry_is_replaced_by_the_claim() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::ClaimedBy(OWN_ORG),
        AttributeUpdate::Succeeds,
    );

    let (_, log) = aws.invoke(fixtures::sign_up(Some(OTHER_ORG))).await;

    assert_eq!(aws.calls(), calls(0, 1, 1));
    assert_eq!(aws.updated(), [OWN_ORG]);
    assert_eq!(log.security_warnings().len(), 1);
}

#[tokio::test]
async fn password_reset_and_other_sources_touch_nothing() {
    for payload in [
        fixtures::event(fixtures::FORGOT_PASSWORD),
        with(
            fixtures::sign_up(Some(OWN_ORG)),
            "/triggerSource",
            json!("PostConfirmation_SomethingNew"),
        ),
        with(
            fixtures::sign_up(Some(OWN_ORG)),
            "/triggerSource",
            json!("PreSignUp_SignUp"),
        ),
    ] {
        let aws = Aws::new(
            ClaimRead::Absent,
            Transaction::Commits,
            AttributeUpdate::Succeeds,
        );

        let (answer, log) = aws.invoke(payload.clone()).await;

        assert_eq!(answer.unwrap(), payload);
        assert_eq!(aws.calls(), NO_CALLS, "{payload}");
        assert_eq!(log.outcomes(), ["skipped"]);
    }
}

#[tokio::test]
async fn a_malformed_event_is_rejected_before_any_call_with_a_generic_message() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let payload = fixtures::without(fixtures::sign_up(None), "/userPoolId");

    let (answer, log) = aws.invoke(payload).await;

    let err = answer.unwrap_err();
    assert!(matches!(err, TriggerError::Malformed(_)));
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "MalformedEvent");
    assert!(
        !diagnostic.error_message.contains("userPoolId"),
        "the client sees no detail"
    );
    assert_eq!(aws.calls(), NO_CALLS);
    assert_eq!(log.outcomes(), ["rejected"]);
    assert!(
        log.field("error")[0].contains("`userPoolId` is missing"),
        "the log has it"
    );
}

#[tokio::test]
async fn a_failed_read_keeps_the_service_error_itself_as_its_source() {
    use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use std::error::Error as _;

    let aws = Aws::new(
        ClaimRead::Throttled,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let err = aws
        .store()
        .claimed_org(crate::domain::UserSub::parse(SUB).unwrap())
        .await
        .unwrap_err();

    assert!(matches!(err, crate::store::StoreError::Read(_)), "{err:?}");
    let source = err.source().expect("the SDK's error, kept");
    let sdk = source
        .downcast_ref::<SdkError<GetItemError>>()
        .expect("GetItem's own error type");
    assert_eq!(
        sdk.as_service_error().and_then(|e| e.code()),
        Some("ThrottlingException")
    );
    assert_eq!(
        err.to_string(),
        "reading from the table failed",
        "the detail is the source's, shown by the log site"
    );
}

#[tokio::test]
async fn a_transaction_meeting_its_own_attempt_in_flight_is_sent_again_not_read() {
    // The SDK's three attempts, then one more of the store's own: the fifth commits.
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::InProgress(4),
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert_eq!(answer.unwrap(), fixtures::sign_up(None));
    assert_eq!(
        aws.calls(),
        calls(0, 5, 1),
        "no read while the attempt may still commit"
    );
    let minted = aws.transacted();
    assert!(
        minted.iter().all(|org| *org == minted[0]),
        "one attempt, sent again with its own token: {minted:?}"
    );
    assert_eq!(aws.updated(), [minted[0].clone()]);
    assert_eq!(log.outcomes(), ["minted"]);
}

#[tokio::test]
async fn a_throttled_table_defers_and_still_lets_the_confirmation_through() {
    let aws = Aws::new(
        ClaimRead::Throttled,
        Transaction::Throttled,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert_eq!(
        answer.unwrap(),
        fixtures::sign_up(None),
        "never an error: it would strand the user"
    );
    assert_eq!(
        aws.calls(),
        calls(3, 1, 0),
        "a cancelled transaction, three attempts to read the claim, nothing written"
    );
    assert_eq!(log.outcomes(), ["deferred"]);
    assert_eq!(
        log.0[0]["level"], "ERROR",
        "deferrals are logged at error level"
    );
    assert!(log.field("error")[0].contains("ThrottlingException"));
}

#[tokio::test]
async fn a_throttle_that_clears_within_the_attempts_still_provisions() {
    let mut aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    aws.transact = mock!(DynamoClient::transact_write_items)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();

    let (_, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert_eq!(
        aws.calls(),
        calls(0, 2, 1),
        "the SDK's second attempt commits"
    );
    assert_eq!(log.outcomes(), ["minted"]);
}

#[tokio::test]
async fn a_throttled_transaction_rereads_the_claim_then_defers_without_touching_the_user() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Throttled,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert!(answer.is_ok());
    assert_eq!(
        aws.calls(),
        calls(1, 1, 0),
        "no attribute without a committed organisation"
    );
    assert_eq!(log.outcomes(), ["deferred"]);
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_token_and_settled_by_the_claim() {
    let aws = Aws::new(
        ClaimRead::AsCommitted,
        Transaction::AnswerLost,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert!(answer.is_ok());
    assert_eq!(
        aws.calls(),
        calls(1, 3, 1),
        "three attempts at one request, then a re-read"
    );
    let [sent] = &aws.transactions.all()[..] else {
        panic!("one request, sent three times");
    };
    let minted = org_of(sent);
    assert_eq!(
        sent.client_request_token(),
        Some(minted.as_str()),
        "each attempt is idempotent"
    );
    assert_eq!(
        aws.updated(),
        [minted],
        "the claim, re-read, names the organisation written"
    );
    assert_eq!(log.outcomes(), ["minted"]);
}

#[tokio::test]
async fn a_failing_user_pool_leaves_a_claim_that_the_next_token_finishes() {
    let first = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Fails,
    );
    let (answer, log) = first.invoke(fixtures::sign_up(None)).await;
    assert!(answer.is_ok());
    assert_eq!(
        first.calls(),
        calls(0, 1, 3),
        "three attempts at the update"
    );
    assert_eq!(log.outcomes(), ["deferred"]);
    let minted = first.transacted()[0].clone();

    // The user signs in: the claim written above now exists.
    let sign_in = Aws::new(
        ClaimRead::Of(minted.clone()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let (answer, log) = sign_in.invoke(fixtures::sign_in(None)).await;

    assert_eq!(token_claim(&answer.unwrap()), Some(minted.as_str()));
    assert_eq!(sign_in.calls(), calls(1, 0, 1));
    assert_eq!(sign_in.updated(), [minted]);
    assert_eq!(log.outcomes(), ["repaired"]);
}

#[tokio::test]
async fn a_corrupt_claim_is_never_a_second_organisation() {
    let aws = Aws::new(
        ClaimRead::Of("not-a-uuid".into()),
        Transaction::ClaimedBy("not-a-uuid"),
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_up(None)).await;

    assert!(answer.is_ok());
    assert_eq!(aws.calls(), calls(0, 1, 0));
    assert_eq!(log.outcomes(), ["deferred"]);
    assert!(log.field("error")[0].contains("no valid organisation id"));
}

#[tokio::test]
async fn a_silent_table_endpoint_defers_instead_of_hanging() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dynamo = DynamoClient::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .with_test_defaults_v2()
            .endpoint_url(format!("http://{}", silent.local_addr().unwrap()))
            .retry_config(config::retries())
            .timeout_config(config::timeouts())
            .build(),
    );
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let provisioner = Provisioner::from_parts(OrgStore::new(dynamo, "tenants"), aws.user_pool());

    let (answer, log) = invoke_with(&provisioner, fixtures::sign_up(None)).await;

    assert!(answer.is_ok());
    assert_eq!(aws.update.num_calls(), 0);
    assert_eq!(log.outcomes(), ["deferred"]);
    assert!(log.field("error")[0].contains("timeout"), "{:?}", log.0);
}

// ---------------------------------------------------------------- init

#[tokio::test]
async fn connecting_at_init_reads_a_claim_no_one_has_and_survives_a_failure() {
    let mut aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    aws.claim = mock!(DynamoClient::get_item)
        .match_requests(|input| {
            input.table_name() == Some("tenants")
                && input.key().unwrap()["PK"]
                    == AttributeValue::S("USER#00000000-0000-0000-0000-000000000000".into())
        })
        .then_output(|| GetItemOutput::builder().build());
    aws.provisioner()
        .open_connections(config::INIT_CONNECT_DEADLINE)
        .await;
    assert_eq!(
        aws.calls(),
        calls(1, 0, 0),
        "one read of the nil sub's claim"
    );

    let throttled = Aws::new(
        ClaimRead::Throttled,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    throttled
        .provisioner()
        .open_connections(config::INIT_CONNECT_DEADLINE)
        .await;
    assert_eq!(
        throttled.calls(),
        calls(3, 0, 0),
        "a failing table only costs the attempts"
    );
}

// ---------------------------------------------------------------- pre token generation

#[tokio::test]
async fn a_provisioned_user_costs_one_query_and_the_token_names_their_home_as_owner() {
    let aws = Aws::new(
        ClaimRead::Of(SIGNED_IN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let payload = fixtures::event(fixtures::SIGN_IN);

    let (answer, log) = aws.invoke(payload.clone()).await;

    let answer = answer.unwrap();
    assert_eq!(token_claim(&answer), Some(SIGNED_IN_ORG));
    assert_eq!(role_claim(&answer), Some("owner"));
    assert_eq!(aws.calls(), calls(1, 0, 0), "one Query, nothing written");
    assert_eq!(aws.memberships.num_calls(), 1);
    assert_eq!(log.outcomes(), ["verified"]);
    assert_eq!(log.field("attribute"), ["unchanged"]);
}

#[tokio::test]
async fn the_token_names_the_chosen_organisation_with_the_users_role_in_it() {
    let aws = Aws::new(
        ClaimRead::Of(SIGNED_IN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    )
    .with_partition([member_of(OTHER_ORG, "admin"), active(OTHER_ORG)]);

    let (answer, log) = aws.invoke(fixtures::event(fixtures::SIGN_IN)).await;

    let answer = answer.unwrap();
    assert_eq!(token_claim(&answer), Some(OTHER_ORG));
    assert_eq!(role_claim(&answer), Some("admin"));
    assert_eq!(
        aws.calls(),
        calls(1, 0, 0),
        "the attribute keeps the home organisation: nothing to repair"
    );
    assert_eq!(log.outcomes(), ["verified"]);
    assert_eq!(log.field("home_org_id"), [SIGNED_IN_ORG]);
}

#[tokio::test]
async fn a_choice_without_a_membership_behind_it_falls_back_to_home() {
    // Removed since choosing it, or a membership item the table cannot clearly read: either
    // way the table does not confirm it, so the token never names it.
    for partition in [
        vec![active(OTHER_ORG)],
        vec![member_of(OTHER_ORG, "superuser"), active(OTHER_ORG)],
        vec![member_of("not-a-uuid", "admin"), active("not-a-uuid")],
    ] {
        let aws = Aws::new(
            ClaimRead::Of(SIGNED_IN_ORG.into()),
            Transaction::Commits,
            AttributeUpdate::Succeeds,
        )
        .with_partition(partition);

        let (answer, _) = aws.invoke(fixtures::event(fixtures::SIGN_IN)).await;

        let answer = answer.unwrap();
        assert_eq!(token_claim(&answer), Some(SIGNED_IN_ORG));
        assert_eq!(role_claim(&answer), Some("owner"));
    }
}

#[tokio::test]
async fn a_missing_attribute_is_repaired_and_the_token_carries_the_claim() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let payload = fixtures::sign_in(None);

    let (answer, log) = aws.invoke(payload.clone()).await;

    let answer = answer.unwrap();
    assert_eq!(token_claim(&answer), Some(OWN_ORG));
    assert_eq!(
        answer["response"]["claimsOverrideDetails"]["groupOverrideDetails"],
        payload["request"]["groupConfiguration"],
        "the user's groups are kept as they are"
    );
    let mut rest = answer.clone();
    rest["response"] = payload["response"].clone();
    assert_eq!(rest, payload, "nothing but the response changes");
    assert_eq!(aws.calls(), calls(1, 0, 1));
    assert_eq!(aws.updated(), [OWN_ORG]);
    assert_eq!(log.outcomes(), ["repaired"]);
    assert_eq!(log.field("attribute"), ["updated"]);
    assert!(
        log.security_warnings().is_empty(),
        "a missing attribute is no attack"
    );
}

#[tokio::test]
async fn a_differing_attribute_never_reaches_the_token() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_in(Some(OTHER_ORG))).await;

    assert_eq!(token_claim(&answer.unwrap()), Some(OWN_ORG));
    assert_eq!(aws.updated(), [OWN_ORG]);
    let [warning] = log.security_warnings()[..] else {
        panic!("one security warning: {:?}", log.0);
    };
    assert_eq!(warning["fields"]["supplied_org"], OTHER_ORG);
}

#[tokio::test]
async fn an_admin_created_user_is_provisioned_at_first_sign_in() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::event(fixtures::ADMIN_CREATED)).await;

    let minted = aws.transacted();
    assert_eq!(token_claim(&answer.unwrap()), Some(minted[0].as_str()));
    assert_eq!(aws.calls(), calls(1, 1, 1));
    assert_transaction_shape(&aws.transactions.all()[0]);
    assert_eq!(aws.updated(), minted);
    assert_eq!(log.outcomes(), ["minted"]);
}

#[tokio::test]
async fn an_attribute_with_no_claim_behind_it_is_replaced_by_a_new_organisation() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_in(Some(OTHER_ORG))).await;

    let minted = aws.transacted();
    assert_ne!(minted, [OTHER_ORG]);
    assert_eq!(token_claim(&answer.unwrap()), Some(minted[0].as_str()));
    assert_eq!(log.security_warnings().len(), 1);
}

#[tokio::test]
async fn an_unreadable_table_refuses_even_a_user_whose_attribute_is_set() {
    // The attribute is not the table's word: for an imported or admin-edited user it may name
    // another tenant. No token names an organisation the table has not confirmed.
    let aws = Aws::new(
        ClaimRead::Throttled,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::event(fixtures::SIGN_IN)).await;

    let diagnostic = Diagnostic::from(answer.unwrap_err());
    assert_eq!(diagnostic.error_type, "OrganisationUnavailable");
    assert_eq!(aws.calls(), calls(3, 0, 0), "nothing written");
    assert_eq!(log.outcomes(), ["refused"]);
}

#[tokio::test]
async fn an_unreadable_table_refuses_a_user_with_no_organisation_with_a_generic_error() {
    let aws = Aws::new(
        ClaimRead::Throttled,
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_in(None)).await;

    let diagnostic = Diagnostic::from(answer.unwrap_err());
    assert_eq!(diagnostic.error_type, "OrganisationUnavailable");
    for secret in ["Throttling", "tenants", "dynamodb", "arn:", fixtures::POOL] {
        assert!(
            !diagnostic.error_message.contains(secret),
            "{}",
            diagnostic.error_message
        );
    }
    assert_eq!(aws.calls(), calls(3, 0, 0), "nothing written");
    assert_eq!(log.outcomes(), ["refused"]);
}

#[tokio::test]
async fn a_failed_write_refuses_the_token_rather_than_trust_an_unbacked_attribute() {
    let aws = Aws::new(
        ClaimRead::Absent,
        Transaction::Throttled,
        AttributeUpdate::Succeeds,
    );

    let (answer, log) = aws.invoke(fixtures::sign_in(Some(OTHER_ORG))).await;

    assert!(matches!(answer, Err(TriggerError::NoOrganisation)));
    assert_eq!(aws.calls(), calls(2, 1, 0));
    assert_eq!(log.outcomes(), ["refused"]);
}

#[tokio::test]
async fn a_failed_attribute_repair_still_gives_the_right_token() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Fails,
    );

    let (answer, log) = aws.invoke(fixtures::sign_in(None)).await;

    assert_eq!(token_claim(&answer.unwrap()), Some(OWN_ORG));
    assert_eq!(aws.calls(), calls(1, 0, 3));
    assert_eq!(log.outcomes(), ["repaired"]);
    assert_eq!(log.field("attribute"), ["deferred"]);
}

#[tokio::test]
async fn claims_cognito_already_overrides_are_kept() {
    let aws = Aws::new(
        ClaimRead::Of(OWN_ORG.into()),
        Transaction::Commits,
        AttributeUpdate::Succeeds,
    );
    let details = json!({"claimsToAddOrOverride": {"plan": "gold"}, "claimsToSuppress": ["email"]});
    let payload = with(
        fixtures::sign_in(None),
        "/response/claimsOverrideDetails",
        details,
    );

    let (answer, _) = aws.invoke(payload).await;

    assert_eq!(
        answer.unwrap()["response"]["claimsOverrideDetails"],
        json!({"claimsToAddOrOverride": {"plan": "gold", "custom:org": OWN_ORG, "org_role": "owner"},
               "claimsToSuppress": ["email"]})
    );
}

// ---------------------------------------------------------------- any input at all

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9:_#@. -]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-zA-Z:]{1,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// The pointers a mutation may hit: every field of both sample events.
    const POINTERS: [&str; 14] = [
        "/version",
        "/region",
        "/userPoolId",
        "/userName",
        "/triggerSource",
        "/callerContext",
        "/callerContext/clientId",
        "/request",
        "/request/userAttributes",
        "/request/userAttributes/sub",
        "/request/userAttributes/custom:org",
        "/request/groupConfiguration",
        "/response",
        "/response/claimsOverrideDetails",
    ];

    fn check(payload: Value) -> Result<(), TestCaseError> {
        let aws = Aws::new(
            ClaimRead::Absent,
            Transaction::Commits,
            AttributeUpdate::Succeeds,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (answer, _) = runtime.block_on(aws.invoke(payload.clone()));
        match answer {
            Ok(answer) => {
                let mut rest = answer.clone();
                if let (Some(rest), Some(sent)) =
                    (rest.get_mut("response"), payload.get("response"))
                {
                    *rest = sent.clone();
                }
                prop_assert_eq!(rest, payload, "only the response may change");
            }
            Err(err) => {
                prop_assert!(matches!(err, TriggerError::Malformed(_)), "{}", err);
                prop_assert_eq!(aws.calls(), NO_CALLS, "no call on error");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_json_gives_the_event_back_or_a_clear_error(payload in json_value()) {
            check(payload)?;
        }

        #[test]
        fn any_field_of_a_real_event_replaced_gives_the_event_back_or_a_clear_error(
            sign_in in any::<bool>(),
            pointer in prop::sample::select(&POINTERS[..]),
            value in json_value(),
        ) {
            let event = if sign_in { fixtures::sign_in(None) } else { fixtures::sign_up(None) };
            check(with(event, pointer, value))?;
        }
    }
}
