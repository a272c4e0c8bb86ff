//! The report and its checkpoint, the pace, and the whole audit against a table held in memory
//! behind mocked SDK clients: what it finds, what `--fix` writes, and what it never does.

use super::*;
use serde_json::{Value, json};

#[test]
fn progress_survives_its_own_checkpoint() {
    let progress = Progress {
        user_pool_id: "pool".into(),
        page_token: Some("token".into()),
        done_in_page: 3,
        users_seen: 63,
        users_complete: false,
        records: vec![Record {
            finding: Finding::AttributeMismatch,
            user_name: Some("u".into()),
            sub: Some("s".into()),
            org: None,
            repaired: Some(true),
        }],
    };
    let text = progress.report();
    let read: Progress = serde_json::from_str(&text).unwrap();
    assert_eq!(read, progress);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["counts"]["attribute_mismatch"],
        json!({"found": 1, "repaired": 1})
    );
    assert_eq!(
        report["counts"]["no_claim"],
        json!({"found": 0, "repaired": 0})
    );
    assert_eq!(report["findings"][0]["orgId"], Value::Null);
    assert!(serde_json::from_str::<Progress>("{}").is_err());
}

#[test]
fn every_finding_has_a_distinct_name_that_parses_back() {
    for finding in Finding::iter() {
        let named = serde_json::to_value(finding).unwrap();
        assert_eq!(named, json!(finding.as_str()));
        assert_eq!(serde_json::from_value::<Finding>(named).unwrap(), finding);
    }
    let fixable: Vec<_> = Finding::iter().filter(|f| f.repairable()).collect();
    assert_eq!(fixable.len(), 9);
}

#[test]
fn a_rate_is_a_finite_number_within_bounds() {
    for good in ["0.01", "6", " 25 ", "1000"] {
        assert!(good.parse::<CallsPerSecond>().is_ok(), "{good:?}");
    }
    for bad in ["0", "-1", "nan", "NaN", "inf", "1e9", "0.001", "", "six"] {
        let err = bad.parse::<CallsPerSecond>().unwrap_err();
        assert!(err.to_string().contains("calls a second"), "{bad:?}: {err}");
    }
}

#[tokio::test(start_paused = true)]
async fn pace_spaces_calls_at_the_rate() {
    let mut pace = Pace::new(CallsPerSecond::new(4.0).unwrap());
    let start = Instant::now();
    for _ in 0..5 {
        pace.wait().await;
    }
    assert_eq!(start.elapsed(), Duration::from_millis(1_000));
}

// ------------------------------------------------------------ the audit on a table in memory

use crate::config;
use crate::store::OrgStore;
use crate::user_pool::UserPool;
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::operation::admin_update_user_attributes::AdminUpdateUserAttributesOutput;
use aws_sdk_cognitoidentityprovider::operation::list_users::ListUsersOutput;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserType};
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, ResourceNotFoundException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
};
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

type Item = HashMap<String, AttributeValue>;
type Key = (String, String);

const TABLE: &str = "tenants";
const POOL: &str = "us-east-1_pool";

fn s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn key_of(item: &Item) -> Key {
    (s(item, "PK"), s(item, "SK"))
}

fn item(fields: &[(&str, String)]) -> Item {
    fields
        .iter()
        .map(|(name, value)| (name.to_string(), AttributeValue::S(value.clone())))
        .collect()
}

/// The table in memory; the mocked operations answer from it and write to it, as DynamoDB
/// would for the requests the audit makes. BatchGetItem refuses more than 100 keys or a key
/// named twice, and serves only the first key of a request while `unprocessed_rounds` lasts
/// (as DynamoDB may, under throttling), the rest in `UnprocessedKeys`. Scan answers two items a
/// page. A cancelled transaction returns an existing item only for a put that asked for it.
#[derive(Clone)]
struct Table {
    items: Arc<Mutex<BTreeMap<Key, Item>>>,
    unprocessed_rounds: Arc<Mutex<usize>>,
    /// Written just before the next transaction: another sign-up getting there first.
    race: Arc<Mutex<Option<Item>>>,
    /// PutItem answers ResourceNotFoundException (not retried), as for a deleted table.
    puts_fail: Arc<Mutex<bool>>,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            items: Arc::default(),
            unprocessed_rounds: Arc::new(Mutex::new(1)),
            race: Arc::default(),
            puts_fail: Arc::default(),
        }
    }
}

impl Table {
    fn put(&self, item: Item) {
        self.items.lock().unwrap().insert(key_of(&item), item);
    }

    fn remove(&self, pk: &str, sk: &str) {
        self.items
            .lock()
            .unwrap()
            .remove(&(pk.to_owned(), sk.to_owned()));
    }

    fn get(&self, pk: &str, sk: &str) -> Option<Item> {
        self.items
            .lock()
            .unwrap()
            .get(&(pk.to_owned(), sk.to_owned()))
            .cloned()
    }

    fn keys(&self) -> BTreeSet<Key> {
        self.items.lock().unwrap().keys().cloned().collect()
    }

    /// A user's organisation as sign-up records it: the claim, the organisation, both sides
    /// of the owner's membership.
    fn sign_up(&self, sub: UserSub, org: OrgId, created_at: &str) {
        let (sub, org, at) = (sub.to_string(), org.to_string(), created_at.to_owned());
        self.put(item(&[
            ("PK", format!("USER#{sub}")),
            ("SK", "ORG_CLAIM".into()),
            ("orgId", org.clone()),
            ("sub", sub.clone()),
        ]));
        self.put(item(&[
            ("PK", format!("ORG#{org}")),
            ("SK", "ORG".into()),
            ("orgId", org.clone()),
            ("createdBy", sub.clone()),
            ("createdAt", at.clone()),
        ]));
        self.put(item(&[
            ("PK", format!("USER#{sub}")),
            ("SK", format!("MEMBER_OF#{org}")),
            ("orgId", org.clone()),
            ("sub", sub.clone()),
            ("role", "owner".into()),
        ]));
        self.put(item(&[
            ("PK", format!("ORG#{org}")),
            ("SK", format!("MEMBER#{sub}")),
            ("orgId", org),
            ("sub", sub),
            ("role", "owner".into()),
            ("createdAt", at),
        ]));
    }

    fn client(&self) -> DynamoClient {
        let table = self.clone();
        let batch_get = mock!(DynamoClient::batch_get_item).then_compute_output(move |input| {
            let requested = &input.request_items().unwrap()[TABLE];
            let keys: Vec<Key> = requested.keys().iter().map(key_of).collect();
            assert!(keys.len() <= 100, "BatchGetItem takes at most 100 keys");
            assert_eq!(
                keys.iter().collect::<BTreeSet<_>>().len(),
                keys.len(),
                "BatchGetItem refuses a key named twice"
            );
            assert_eq!(requested.consistent_read(), Some(true));
            let throttled = {
                let mut rounds = table.unprocessed_rounds.lock().unwrap();
                let throttled = *rounds > 0 && keys.len() > 1;
                *rounds = rounds.saturating_sub(usize::from(throttled));
                throttled
            };
            let served = if throttled { 1 } else { keys.len() };
            let items = table.items.lock().unwrap();
            let found: Vec<Item> = keys[..served]
                .iter()
                .filter_map(|k| items.get(k).cloned())
                .collect();
            let mut output = BatchGetItemOutput::builder().responses(TABLE, found);
            if served < keys.len() {
                let again = KeysAndAttributes::builder()
                    .set_keys(Some(requested.keys()[served..].to_vec()))
                    .consistent_read(true)
                    .build()
                    .unwrap();
                output = output.unprocessed_keys(TABLE, again);
            }
            output.build()
        });
        let table = self.clone();
        let scan = mock!(DynamoClient::scan).then_compute_output(move |input| {
            assert_eq!(
                input.filter_expression(),
                None,
                "the audit reads every item"
            );
            assert_eq!(input.consistent_read(), Some(true));
            let after = input.exclusive_start_key().map(key_of);
            let items = table.items.lock().unwrap();
            let mut rest = items
                .iter()
                .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after));
            let page: Vec<(&Key, &Item)> = rest.by_ref().take(2).collect();
            let more = rest.next().is_some();
            let found = page.iter().map(|(_, item)| (*item).clone()).collect();
            let last_key = page.last().filter(|_| more).map(|(_, item)| {
                HashMap::from([
                    ("PK".to_owned(), item["PK"].clone()),
                    ("SK".to_owned(), item["SK"].clone()),
                ])
            });
            ScanOutput::builder()
                .set_items(Some(found))
                .set_last_evaluated_key(last_key)
                .build()
        });
        let table = self.clone();
        let put = mock!(DynamoClient::put_item).then_compute_response(move |input| {
            assert_eq!(
                input.condition_expression(),
                Some("attribute_not_exists(#pk)")
            );
            let new = input.item().unwrap().clone();
            if *table.puts_fail.lock().unwrap() {
                return MockResponse::Error(PutItemError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().build(),
                ));
            }
            let mut items = table.items.lock().unwrap();
            if items.contains_key(&key_of(&new)) {
                return MockResponse::Error(PutItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder().build(),
                ));
            }
            items.insert(key_of(&new), new);
            MockResponse::Output(PutItemOutput::builder().build())
        });
        let table = self.clone();
        let transact =
            mock!(DynamoClient::transact_write_items).then_compute_response(move |input| {
                let puts: Vec<&Put> = input
                    .transact_items()
                    .iter()
                    .map(|write| write.put().unwrap())
                    .collect();
                let mut items = table.items.lock().unwrap();
                if let Some(raced) = table.race.lock().unwrap().take() {
                    items.insert(key_of(&raced), raced);
                }
                if puts
                    .iter()
                    .any(|put| items.contains_key(&key_of(put.item())))
                {
                    let reasons = puts
                        .iter()
                        .map(|put| match items.get(&key_of(put.item())) {
                            Some(old) => {
                                let asked = put.return_values_on_condition_check_failure()
                                    == Some(&ReturnValuesOnConditionCheckFailure::AllOld);
                                CancellationReason::builder()
                                    .code("ConditionalCheckFailed")
                                    .set_item(asked.then(|| old.clone()))
                                    .build()
                            }
                            None => CancellationReason::builder().code("None").build(),
                        })
                        .collect();
                    return MockResponse::Error(
                        TransactWriteItemsError::TransactionCanceledException(
                            TransactionCanceledException::builder()
                                .set_cancellation_reasons(Some(reasons))
                                .build(),
                        ),
                    );
                }
                for put in puts {
                    items.insert(key_of(put.item()), put.item().clone());
                }
                MockResponse::Output(TransactWriteItemsOutput::builder().build())
            });
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&batch_get, &scan, &put, &transact],
            |config| config.retry_config(config::retries())
        )
    }
}

/// (user name, sub, custom:org)
type PoolUser = (String, Option<String>, Option<String>);

/// The user pool in memory: one page of users; attribute updates change them.
#[derive(Clone, Default)]
struct Pool {
    users: Arc<Mutex<Vec<PoolUser>>>,
}

impl Pool {
    fn add(&self, name: &str, sub: Option<UserSub>, org: Option<String>) {
        self.users
            .lock()
            .unwrap()
            .push((name.to_owned(), sub.map(|sub| sub.to_string()), org));
    }

    fn org_of(&self, name: &str) -> Option<String> {
        let users = self.users.lock().unwrap();
        users.iter().find(|user| user.0 == name).unwrap().2.clone()
    }

    fn client(&self) -> CognitoClient {
        let pool = self.clone();
        let list = mock!(CognitoClient::list_users).then_compute_output(move |input| {
            assert_eq!(input.user_pool_id(), Some(POOL));
            // ListUsers answers at most 60 users a page, and a token for the next.
            let limit = usize::try_from(input.limit().unwrap_or(60)).unwrap();
            assert!(
                (1..=60).contains(&limit),
                "ListUsers takes a limit of 1 to 60"
            );
            let start: usize = input.pagination_token().map_or(0, |t| t.parse().unwrap());
            let users = pool.users.lock().unwrap();
            let listed = users
                .iter()
                .skip(start)
                .take(limit)
                .map(|(name, sub, org)| {
                    let attribute = |name: &str, value: &Option<String>| {
                        value.as_ref().map(|value| {
                            AttributeType::builder()
                                .name(name)
                                .value(value)
                                .build()
                                .unwrap()
                        })
                    };
                    UserType::builder()
                        .username(name)
                        .set_attributes(Some(
                            [attribute("sub", sub), attribute("custom:org", org)]
                                .into_iter()
                                .flatten()
                                .collect(),
                        ))
                        .build()
                })
                .collect();
            let next = (start + limit < users.len()).then(|| (start + limit).to_string());
            ListUsersOutput::builder()
                .set_users(Some(listed))
                .set_pagination_token(next)
                .build()
        });
        let pool = self.clone();
        let update =
            mock!(CognitoClient::admin_update_user_attributes).then_compute_output(move |input| {
                let [attribute] = input.user_attributes() else {
                    panic!("one attribute at a time: {input:?}");
                };
                assert_eq!(attribute.name(), "custom:org");
                let mut users = pool.users.lock().unwrap();
                let user = users
                    .iter_mut()
                    .find(|user| Some(user.0.as_str()) == input.username())
                    .unwrap();
                user.2 = attribute.value().map(str::to_owned);
                AdminUpdateUserAttributesOutput::builder().build()
            });
        mock_client!(
            aws_sdk_cognitoidentityprovider,
            RuleMode::MatchAny,
            [&list, &update],
            |config| config.retry_config(config::retries())
        )
    }
}

struct Quiet;
impl Observer for Quiet {}

async fn audit(table: &Table, pool: &Pool, fix: bool) -> Progress {
    try_audit(table, pool, fix).await.unwrap()
}

async fn try_audit(table: &Table, pool: &Pool, fix: bool) -> Result<Progress, AuditError> {
    run_audit(
        table,
        pool,
        Options {
            fix,
            ..options(POOL)
        },
    )
    .await
}

/// Options for an audit of `pool_id` that paces nothing and keeps no checkpoint.
fn options(pool_id: &str) -> Options {
    Options {
        user_pool_id: pool_id.into(),
        fix: false,
        list_rate: CallsPerSecond::new(1000.0).unwrap(),
        update_rate: CallsPerSecond::new(1000.0).unwrap(),
        checkpoint: None,
        stop_after: None,
    }
}

async fn run_audit(table: &Table, pool: &Pool, options: Options) -> Result<Progress, AuditError> {
    let provisioner = Provisioner::from_parts(
        OrgStore::new(table.client(), TABLE),
        UserPool::new(pool.client(), "custom:org"),
    );
    Audit::new(&provisioner, options).run(&Quiet).await
}

fn sub() -> UserSub {
    UserSub::parse(&uuid::Uuid::new_v4().to_string()).unwrap()
}

/// An RFC 3339 time within a minute of now.
fn assert_recent(text: &str) {
    let at = DateTime::from_str(text, DateTimeFormat::DateTime)
        .unwrap_or_else(|err| panic!("{text}: {err}"));
    let now = DateTime::from(SystemTime::now());
    assert!((now.secs() - at.secs()).abs() < 60, "{text} is not now");
}

const LONG_AGO: &str = "2020-01-01T00:00:00Z";

/// One user per finding, and one healthy user.
struct World {
    table: Table,
    pool: Pool,
    healthy: (UserSub, OrgId),
    no_claim: UserSub,
    attribute_missing: (UserSub, OrgId),
    attribute_mismatch: (UserSub, OrgId),
    organisation_missing: (UserSub, OrgId),
    membership_missing: (UserSub, OrgId),
    /// Its organisation is one without an owner too: the claim names no valid organisation.
    corrupt_claim: (UserSub, OrgId),
    /// An organisation whose creator's claim names another.
    orphan: (UserSub, OrgId),
}

fn world() -> World {
    let (table, pool) = (Table::default(), Pool::default());
    let signed_up = |name: &str, attribute: fn(OrgId) -> Option<String>| {
        let (sub, org) = (sub(), OrgId::mint());
        table.sign_up(sub, org, LONG_AGO);
        pool.add(name, Some(sub), attribute(org));
        (sub, org)
    };
    let healthy = signed_up("healthy", |org| Some(org.to_string()));
    let attribute_missing = signed_up("attribute-missing", |_| None);
    let attribute_mismatch = signed_up("attribute-mismatch", |_| Some(OrgId::mint().to_string()));
    let organisation_missing = signed_up("organisation-missing", |org| Some(org.to_string()));
    table.remove(&format!("ORG#{}", organisation_missing.1), "ORG");
    let membership_missing = signed_up("membership-missing", |org| Some(org.to_string()));
    let member = format!("MEMBER#{}", membership_missing.0);
    table.remove(&format!("ORG#{}", membership_missing.1), &member);
    let no_claim = sub();
    pool.add("no-claim", Some(no_claim), None);
    let corrupt_claim = signed_up("corrupt-claim", |org| Some(org.to_string()));
    let claim = format!("USER#{}", corrupt_claim.0);
    let mut corrupt = table.get(&claim, "ORG_CLAIM").unwrap();
    corrupt.insert("orgId".into(), AttributeValue::S("not-a-uuid".into()));
    table.put(corrupt);
    pool.add("no-sub", None, None);
    // The healthy user's creator record, on an organisation their claim does not name.
    let orphan = (healthy.0, OrgId::mint());
    table.put(item(&[
        ("PK", format!("ORG#{}", orphan.1)),
        ("SK", "ORG".into()),
        ("orgId", orphan.1.to_string()),
        ("createdBy", orphan.0.to_string()),
    ]));
    World {
        table,
        pool,
        healthy,
        no_claim,
        attribute_missing,
        attribute_mismatch,
        organisation_missing,
        membership_missing,
        corrupt_claim,
        orphan,
    }
}

/// (finding, sub, org, repaired) of a record.
type Found = (Finding, Option<String>, Option<String>, Option<bool>);

/// Every record, as found.
fn findings(progress: &Progress) -> BTreeSet<Found> {
    progress
        .records
        .iter()
        .map(|r| (r.finding, r.sub.clone(), r.org.clone(), r.repaired))
        .collect()
}

fn expected(world: &World, repaired: Option<bool>) -> BTreeSet<Found> {
    let named = |(sub, org): (UserSub, OrgId)| (Some(sub.to_string()), Some(org.to_string()));
    let found = |finding, (sub, org): (Option<String>, Option<String>), repaired| {
        (finding, sub, org, repaired)
    };
    let no_claim_org = world
        .table
        .get(&format!("USER#{}", world.no_claim), "ORG_CLAIM")
        .map(|claim| s(&claim, "orgId"));
    // What a person must look at is reported, never repaired.
    let unrepairable = None;
    BTreeSet::from([
        found(
            Finding::NoClaim,
            (Some(world.no_claim.to_string()), no_claim_org),
            repaired,
        ),
        found(
            Finding::AttributeMissing,
            named(world.attribute_missing),
            repaired,
        ),
        found(
            Finding::AttributeMismatch,
            named(world.attribute_mismatch),
            repaired,
        ),
        found(
            Finding::OrganisationMissing,
            named(world.organisation_missing),
            repaired,
        ),
        found(
            Finding::MembershipMissing,
            named(world.membership_missing),
            repaired,
        ),
        found(
            Finding::CorruptClaim,
            (Some(world.corrupt_claim.0.to_string()), None),
            unrepairable,
        ),
        found(Finding::NoSub, (None, None), unrepairable),
        // The corrupt claimant's organisation still has its owner: both sides of the
        // membership say so.
        found(
            Finding::OrganisationWithoutOwner,
            named(world.orphan),
            unrepairable,
        ),
    ])
}

#[tokio::test]
async fn a_healthy_pool_has_no_findings() {
    let (table, pool) = (Table::default(), Pool::default());
    for name in ["a", "b", "c"] {
        let (sub, org) = (sub(), OrgId::mint());
        table.sign_up(sub, org, LONG_AGO);
        pool.add(name, Some(sub), Some(org.to_string()));
    }
    let progress = audit(&table, &pool, true).await;
    assert_eq!(progress.records, vec![]);
    assert!(progress.users_complete);
    assert_eq!(progress.users_seen, 3);
}

#[tokio::test]
async fn it_finds_every_kind_of_fault_and_writes_nothing_without_fix() {
    let world = world();
    let before = world.table.keys();
    let progress = audit(&world.table, &world.pool, false).await;
    assert_eq!(findings(&progress), expected(&world, None));
    assert_eq!(world.table.keys(), before, "nothing written");
    assert_eq!(world.pool.org_of("attribute-missing"), None);
}

#[tokio::test]
async fn fix_repairs_what_it_may_through_the_triggers_code_path() {
    let world = world();
    let progress = audit(&world.table, &world.pool, true).await;
    assert_eq!(findings(&progress), expected(&world, Some(true)));
    let table = &world.table;

    // No claim: provisioned as on sign-up, now.
    let claim = table
        .get(&format!("USER#{}", world.no_claim), "ORG_CLAIM")
        .unwrap();
    let org = s(&claim, "orgId");
    let organisation = table.get(&format!("ORG#{org}"), "ORG").unwrap();
    assert_eq!(s(&organisation, "createdBy"), world.no_claim.to_string());
    assert_recent(&s(&organisation, "createdAt"));
    assert!(
        table
            .get(&format!("ORG#{org}"), &format!("MEMBER#{}", world.no_claim))
            .is_some()
    );
    assert_eq!(world.pool.org_of("no-claim"), Some(org));

    // The attribute set to the claim's organisation.
    for (name, (_, org)) in [
        ("attribute-missing", world.attribute_missing),
        ("attribute-mismatch", world.attribute_mismatch),
    ] {
        assert_eq!(world.pool.org_of(name), Some(org.to_string()), "{name}");
    }

    // Lost records written again, by the claim's holder, as its owner, now.
    let (sub, org) = world.organisation_missing;
    let organisation = table.get(&format!("ORG#{org}"), "ORG").unwrap();
    assert_eq!(s(&organisation, "createdBy"), sub.to_string());
    assert_eq!(s(&organisation, "orgId"), org.to_string());
    assert_recent(&s(&organisation, "createdAt"));
    let (sub, org) = world.membership_missing;
    let membership = table
        .get(&format!("ORG#{org}"), &format!("MEMBER#{sub}"))
        .unwrap();
    assert_eq!(s(&membership, "role"), "owner");
    assert_eq!(s(&membership, "sub"), sub.to_string());
    assert_recent(&s(&membership, "createdAt"));
    // ... never replacing what was there: the organisation item kept its own time.
    let kept = table.get(&format!("ORG#{org}"), "ORG").unwrap();
    assert_eq!(s(&kept, "createdAt"), LONG_AGO);

    // Nothing else: the corrupt claim and the orphan organisation are left for a person.
    let claim = table
        .get(&format!("USER#{}", world.corrupt_claim.0), "ORG_CLAIM")
        .unwrap();
    assert_eq!(s(&claim, "orgId"), "not-a-uuid");
    assert!(
        table
            .get(&format!("ORG#{}", world.orphan.1), "ORG")
            .is_some()
    );
    let healthy = format!("USER#{}", world.healthy.0);
    assert_eq!(
        s(&table.get(&healthy, "ORG_CLAIM").unwrap(), "orgId"),
        world.healthy.1.to_string()
    );

    // A second run finds only what a person must look at.
    let again = audit(&world.table, &world.pool, true).await;
    let left: BTreeSet<_> = again.records.iter().map(|r| r.finding).collect();
    assert_eq!(
        left,
        BTreeSet::from([
            Finding::CorruptClaim,
            Finding::NoSub,
            Finding::OrganisationWithoutOwner
        ])
    );
}

#[tokio::test]
async fn many_users_are_read_in_batches_of_at_most_a_hundred() {
    let (table, pool) = (Table::default(), Pool::default());
    let mut lost = BTreeSet::new();
    for i in 0..150 {
        let (sub, org) = (sub(), OrgId::mint());
        table.sign_up(sub, org, LONG_AGO);
        pool.add(&format!("user-{i}"), Some(sub), Some(org.to_string()));
        if i % 50 == 7 {
            table.remove(&format!("ORG#{org}"), &format!("MEMBER#{sub}"));
            lost.insert(sub.to_string());
        }
    }
    let progress = audit(&table, &pool, false).await;
    let found: BTreeSet<_> = progress
        .records
        .iter()
        .map(|r| {
            assert_eq!(r.finding, Finding::MembershipMissing);
            r.sub.clone().unwrap()
        })
        .collect();
    assert_eq!(found, lost);
}

#[tokio::test]
async fn a_repair_that_fails_is_reported_as_failed() {
    let world = world();
    *world.table.puts_fail.lock().unwrap() = true;
    let progress = audit(&world.table, &world.pool, true).await;
    let restores: Vec<_> = progress
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.finding,
                Finding::OrganisationMissing | Finding::MembershipMissing
            )
        })
        .map(|r| r.repaired)
        .collect();
    assert_eq!(restores, vec![Some(false), Some(false)]);
    let (_, org) = world.organisation_missing;
    assert!(world.table.get(&format!("ORG#{org}"), "ORG").is_none());
}

#[tokio::test(start_paused = true)]
async fn keys_left_unprocessed_are_asked_for_again_then_given_up_on() {
    let world = world();
    *world.table.unprocessed_rounds.lock().unwrap() = 5;
    let progress = audit(&world.table, &world.pool, false).await;
    assert_eq!(findings(&progress), expected(&world, None));

    *world.table.unprocessed_rounds.lock().unwrap() = usize::MAX;
    let started = Instant::now();
    let err = try_audit(&world.table, &world.pool, false)
        .await
        .unwrap_err();
    // Eight pauses from 100 ms, each twice the last, 25.5 s, before it gives up on a chunk.
    assert!(
        started.elapsed() >= Duration::from_millis(25_500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, AuditError::Read(crate::store::StoreError::Unprocessed)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_sign_up_that_gets_there_first_is_reused_not_duplicated() {
    let (table, pool) = (Table::default(), Pool::default());
    let (late, theirs) = (sub(), OrgId::mint());
    pool.add("late", Some(late), None);
    // The user's own sign-up lands between the audit's read and its repair.
    *table.race.lock().unwrap() = Some(item(&[
        ("PK", format!("USER#{late}")),
        ("SK", "ORG_CLAIM".into()),
        ("orgId", theirs.to_string()),
        ("sub", late.to_string()),
    ]));
    let progress = audit(&table, &pool, true).await;
    assert_eq!(progress.records.len(), 1);
    assert_eq!(progress.records[0].finding, Finding::NoClaim);
    assert_eq!(progress.records[0].org, Some(theirs.to_string()));
    assert_eq!(pool.org_of("late"), Some(theirs.to_string()));
    let organisations = table
        .keys()
        .into_iter()
        .filter(|(_, sk)| sk == "ORG")
        .count();
    assert_eq!(organisations, 0, "no second organisation was written");
}

/// An audit with a checkpoint, stopping after `stop_after` users if given.
async fn audit_with_checkpoint(
    table: &Table,
    pool: &Pool,
    pool_id: &str,
    checkpoint: &std::path::Path,
    stop_after: Option<usize>,
) -> Result<Progress, AuditError> {
    let options = Options {
        checkpoint: Some(checkpoint.to_owned()),
        stop_after: stop_after.and_then(std::num::NonZeroUsize::new),
        ..options(pool_id)
    };
    run_audit(table, pool, options).await
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("audit-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn an_interrupted_audit_resumes_where_it_stopped() {
    let world = world();
    let dir = scratch();
    let checkpoint = dir.join("audit.json");
    let users = world.pool.users.lock().unwrap().len();

    let stopped = audit_with_checkpoint(&world.table, &world.pool, POOL, &checkpoint, Some(3))
        .await
        .unwrap();
    assert_eq!((stopped.users_seen, stopped.done_in_page), (3, 3));
    assert!(!stopped.users_complete);
    let saved: Progress =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    assert_eq!(saved, stopped, "the checkpoint is the progress at the stop");

    let resumed = audit_with_checkpoint(&world.table, &world.pool, POOL, &checkpoint, None)
        .await
        .unwrap();
    assert_eq!(resumed.users_seen, users, "every user once, none twice");
    assert!(resumed.users_complete);
    assert_eq!(findings(&resumed), expected(&world, None));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_checkpoint_it_cannot_use_is_refused() {
    let world = world();
    let dir = scratch();
    let checkpoint = dir.join("audit.json");
    audit_with_checkpoint(&world.table, &world.pool, POOL, &checkpoint, Some(1))
        .await
        .unwrap();
    // Another pool's checkpoint, and one that cannot be read (not UTF-8): never started over.
    let unreadable = dir.join("unreadable.json");
    std::fs::write(&unreadable, [0xff, 0xfe]).unwrap();
    for (pool_id, path, says) in [
        ("us-east-1_other", checkpoint.as_path(), "another user pool"),
        (POOL, unreadable.as_path(), "valid UTF-8"),
    ] {
        let err = audit_with_checkpoint(&world.table, &world.pool, pool_id, path, None)
            .await
            .unwrap_err();
        assert!(matches!(&err, AuditError::Checkpoint { .. }), "{err:?}");
        assert!(err.to_string().contains(says), "{err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
