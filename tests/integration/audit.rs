//! `tenantctl audit` on 500 users seeded with every kind of anomaly it knows: the dry run finds
//! exactly what was seeded and changes nothing, an interrupted run resumes where it stopped,
//! `--fix` repairs what it can through the triggers' code path, and what it cannot is left for
//! a person. The audit runs against a table of its own, since it scans for organisations.
//! Run through `make test`, which starts the servers; plain `cargo test` skips these.

use crate::support;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use support::{ATTRIBUTE_UPDATE, Fault, Item, LocalAws, Pool};
use uuid::Uuid;

const TABLE: &str = "audit-tenants";
const USERS: usize = 500;

/// What is wrong with one seeded user, as the audit names it (None: nothing).
fn anomaly(n: usize) -> Option<&'static str> {
    match n {
        0..50 => Some("no_claim"),  // never provisioned
        50..70 => Some("no_claim"), // an attribute with no claim behind it
        70..100 => Some("attribute_missing"),
        100..130 => Some("attribute_mismatch"),
        130..150 => Some("organisation_missing"),
        150..170 => Some("membership_missing"),
        170..175 => Some("corrupt_claim"),
        // Signed up before teams: the organisation records them, their own side is missing.
        175..185 => Some("member_of_missing"),
        _ => None,
    }
}
const ORPHANS: usize = 10;
/// A user with nothing wrong who also created a second organisation.
const SECOND_ORG_OWNER: usize = 200;
/// Two users with nothing wrong of their own, whose teams' records are.
const TEAM_USERS: usize = 210;

struct Seeded {
    pool: Pool,
    /// (finding, sub) of every anomaly seeded.
    expected: BTreeSet<(String, String)>,
    subs: Vec<String>,
}

async fn seed(aws: &LocalAws) -> Seeded {
    let pool = aws.create_pool("audit").await;
    let mut items = Vec::new();
    let mut expected = BTreeSet::new();
    let mut subs = Vec::new();
    for n in 0..USERS {
        let sub = aws
            .admin_create_user(&pool, &format!("audited{n}@example.com"))
            .await;
        let org = Uuid::new_v4().to_string();
        let finding = anomaly(n);
        if let Some(finding) = finding {
            expected.insert((finding.to_owned(), sub.clone()));
        }
        let attribute = match (n, finding) {
            (50..70, _) | (100..130, _) => Some(Uuid::new_v4().to_string()),
            (_, Some("no_claim" | "attribute_missing")) => None,
            _ => Some(org.clone()),
        };
        if let Some(value) = attribute {
            aws.cognito
                .admin_update_user_attributes()
                .user_pool_id(&pool.id)
                .username(&sub)
                .user_attributes(
                    aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                        .name("custom:org")
                        .value(value)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .expect("AdminUpdateUserAttributes");
        }
        if finding != Some("no_claim") {
            let claimed = if finding == Some("corrupt_claim") {
                "garbage"
            } else {
                &org
            };
            items.push(item(
                &format!("USER#{sub}"),
                "ORG_CLAIM",
                "claim",
                claimed,
                "sub",
                &sub,
            ));
            if finding != Some("organisation_missing") {
                items.push(organisation(&org, &sub));
            }
            if finding != Some("membership_missing") {
                items.push(with_role(item(
                    &format!("ORG#{org}"),
                    &format!("MEMBER#{sub}"),
                    "membership",
                    &org,
                    "sub",
                    &sub,
                )));
            }
            if finding != Some("member_of_missing") {
                items.push(with_role(item(
                    &format!("USER#{sub}"),
                    &format!("MEMBER_OF#{org}"),
                    "member_of",
                    &org,
                    "sub",
                    &sub,
                )));
            }
        }
        subs.push(sub);
    }
    // A user who created a second organisation: the claim names only the first. The audit
    // reads each creator's claim once (BatchGetItem refuses a key named twice).
    let second = &subs[SECOND_ORG_OWNER];
    assert_eq!(anomaly(SECOND_ORG_OWNER), None);
    let second_org = Uuid::new_v4().to_string();
    items.push(organisation(&second_org, second));
    expected.insert(("organisation_without_owner".to_owned(), second.clone()));
    // Organisations whose creator has no claim naming them (a deleted user, say).
    for _ in 0..ORPHANS {
        let (org, owner) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        items.push(organisation(&org, &owner));
        expected.insert(("organisation_without_owner".to_owned(), owner));
    }
    // Teams' records: a user's side of a membership and an active choice naming a deleted
    // organisation; a user's side the (second) organisation does not record; an invitation to
    // it past its expiry, with its invitee's copy.
    let (wanderer, stranger) = (&subs[TEAM_USERS], &subs[TEAM_USERS + 1]);
    assert_eq!((anomaly(TEAM_USERS), anomaly(TEAM_USERS + 1)), (None, None));
    let deleted = Uuid::new_v4().to_string();
    items.push(with_role(item(
        &format!("USER#{wanderer}"),
        &format!("MEMBER_OF#{deleted}"),
        "member_of",
        &deleted,
        "sub",
        wanderer,
    )));
    items.push(item(
        &format!("USER#{wanderer}"),
        "ACTIVE",
        "active",
        &deleted,
        "sub",
        wanderer,
    ));
    expected.insert((
        "points_at_missing_organisation".to_owned(),
        wanderer.clone(),
    ));
    items.push(with_role(item(
        &format!("USER#{stranger}"),
        &format!("MEMBER_OF#{second_org}"),
        "member_of",
        &second_org,
        "sub",
        stranger,
    )));
    expected.insert(("member_of_without_membership".to_owned(), stranger.clone()));
    let invitation = Uuid::new_v4().to_string();
    let invitee = "lapsed@example.com";
    for (pk, sk) in [
        (format!("INVITATION#{second_org}"), invitation.clone()),
        (
            format!("EMAIL#{invitee}"),
            format!("INVITATION#{second_org}#{invitation}"),
        ),
    ] {
        let mut lapsed = item(&pk, &sk, "invitation", &second_org, "email", invitee);
        for (name, value) in [
            ("invitationId", invitation.as_str()),
            ("role", "member"),
            ("state", "pending"),
        ] {
            lapsed.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
        }
        lapsed.insert("expiresAt".to_owned(), AttributeValue::N("1".to_owned()));
        items.push(lapsed);
    }
    // An invitation's finding names no user.
    expected.insert(("invitation_expired".to_owned(), String::new()));
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        aws.dynamo
            .batch_write_item()
            .request_items(TABLE, writes)
            .send()
            .await
            .expect("BatchWriteItem");
    }
    Seeded {
        pool,
        expected,
        subs,
    }
}

fn organisation(org: &str, owner: &str) -> Item {
    item(
        &format!("ORG#{org}"),
        "ORG",
        "organisation",
        org,
        "createdBy",
        owner,
    )
}

/// A membership's side, as sign-up writes it: the owner's.
fn with_role(mut item: Item) -> Item {
    item.insert("role".to_owned(), AttributeValue::S("owner".to_owned()));
    item
}

fn item(pk: &str, sk: &str, kind: &str, org: &str, who: &str, sub: &str) -> Item {
    [
        ("PK", pk),
        ("SK", sk),
        ("kind", kind),
        ("orgId", org),
        (who, sub),
        ("createdAt", "2026-01-01T00:00:00Z"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), AttributeValue::S(value.to_owned())))
    .collect()
}

struct Run {
    status: i32,
    report: Value,
    summary: String,
}

fn tenantctl(pool: &Pool, args: &[&str]) -> Run {
    tenantctl_with(pool, args, &[])
}

fn tenantctl_with(pool: &Pool, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["audit", "--user-pool-id", &pool.id])
        .args(["--list-rate", "100", "--update-rate", "100"])
        .args(args)
        .env("TABLE_NAME", TABLE)
        .envs(env.iter().copied())
        .output()
        .expect("running tenantctl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = String::from_utf8_lossy(&output.stderr).into_owned();
    Run {
        status: output.status.code().unwrap_or(-1),
        report: serde_json::from_str(&stdout)
            .unwrap_or_else(|_| panic!("no JSON report: {stdout}{summary}")),
        summary,
    }
}

fn findings(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["finding"].as_str().unwrap().to_owned(),
                f["sub"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn counts(report: &Value) -> BTreeMap<String, (u64, u64)> {
    report["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                (
                    c["found"].as_u64().unwrap(),
                    c["repaired"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Everything the audit could change: the table and every user's attribute.
async fn state(aws: &LocalAws, seeded: &Seeded) -> (usize, Vec<Option<String>>) {
    let mut attributes = Vec::new();
    for sub in &seeded.subs {
        attributes.push(aws.org_of(&seeded.pool, sub).await);
    }
    (aws.all_items().await.len(), attributes)
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn the_audit_finds_every_anomaly_resumes_and_repairs() {
    let aws = LocalAws::connect_to(TABLE).await;
    let seeded = seed(&aws).await;
    let before = state(&aws, &seeded).await;
    let work = tempdir();
    let checkpoint = format!("{work}/audit.checkpoint");

    // Interrupted after 200 users, then resumed from the checkpoint.
    let stopped = tenantctl(
        &seeded.pool,
        &["--checkpoint", &checkpoint, "--stop-after", "200"],
    );
    assert_eq!(stopped.status, 3, "{}", stopped.summary);
    assert_eq!(stopped.report["usersSeen"], 200);
    assert!(stopped.summary.contains("resume"), "{}", stopped.summary);
    let resumed = tenantctl(&seeded.pool, &["--checkpoint", &checkpoint]);
    assert_eq!(resumed.status, 1, "findings remain: {}", resumed.summary);
    assert_eq!(resumed.report["usersSeen"], USERS);
    assert_eq!(
        findings(&resumed.report),
        seeded.expected,
        "exactly what was seeded"
    );
    assert_eq!(
        state(&aws, &seeded).await,
        before,
        "a dry run changes nothing"
    );
    println!("dry run:\n{}", resumed.summary);

    // One repair fails (the user pool answers 5xx to every attempt): it is reported as such,
    // the log goes to stderr, and the JSON report on stdout stays whole.
    let unlucky = &seeded.subs[70];
    assert_eq!(anomaly(70), Some("attribute_missing"));
    aws.arm(Fault {
        operation: ATTRIBUTE_UPDATE,
        kind: "5xx",
        only_for: unlucky,
        times: 3,
    });
    let proxy = std::env::var("LOCAL_FAULT_PROXY").unwrap();
    let failing = tenantctl_with(
        &seeded.pool,
        &["--fix"],
        &[("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", &proxy)],
    );
    assert_eq!(failing.status, 1);
    assert_eq!(counts(&failing.report)["attribute_missing"], (30, 29));
    let failed: Vec<_> = failing.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["repaired"] == false)
        .map(|f| f["sub"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, std::slice::from_ref(unlucky));
    assert!(
        failing.summary.contains("repair failed"),
        "{}",
        failing.summary
    );

    // Run again: the one left is repaired.
    let fixed = tenantctl(&seeded.pool, &["--fix"]);
    assert_eq!(
        fixed.status, 1,
        "what needs a person remains: {}",
        fixed.summary
    );
    for (finding, (found, repaired)) in counts(&fixed.report) {
        let repairable = ![
            "corrupt_claim",
            "no_sub",
            "organisation_without_owner",
            "roles_disagree",
        ]
        .contains(&finding.as_str());
        assert_eq!(repaired, if repairable { found } else { 0 }, "{finding}");
    }
    println!("--fix:\n{}", fixed.summary);

    let after = tenantctl(&seeded.pool, &[]);
    let left: BTreeSet<_> = findings(&after.report)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        left,
        BTreeSet::from([
            "corrupt_claim".to_owned(),
            "organisation_without_owner".to_owned()
        ])
    );
    let corrupt = (0..USERS)
        .filter(|n| anomaly(*n) == Some("corrupt_claim"))
        .count() as u64;
    assert_eq!(counts(&after.report)["corrupt_claim"].0, corrupt);
    assert_eq!(
        counts(&after.report)["organisation_without_owner"].0,
        ORPHANS as u64 + 1,
        "the orphans and the second organisation (a corrupt claimant's still has its owner: both sides of the membership say so)"
    );
    // Every repaired user: one claim, its organisation and membership (both sides), the
    // attribute naming it.
    for (n, sub) in seeded.subs.iter().enumerate() {
        if anomaly(n) == Some("corrupt_claim") {
            continue;
        }
        let claim = aws.claim(sub).await.expect("a claim");
        let org = support::text(&claim, "orgId");
        assert_eq!(
            aws.org_of(&seeded.pool, sub).await.as_deref(),
            Some(org),
            "user {n}"
        );
        assert_eq!(aws.org_partition(org).await.len(), 2, "user {n}");
    }
    std::fs::remove_dir_all(work).unwrap();
}

fn tempdir() -> String {
    let dir = std::env::temp_dir().join(format!("audit-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}
