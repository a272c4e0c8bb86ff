//! The teams' routes against mocked clients: who may do what (the handler's own check, behind
//! IAM's), how the table's refusals become answers, what a bad body gets, and that an
//! invitation's secret is never stored.

use super::*;
use crate::fixtures::{self, API_GET_ORGANISATION, SIGNED_IN_ORG, SUB, with};
use crate::user_pool::UserPool;
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use aws_sdk_cognitoidentityprovider::operation::list_users::ListUsersOutput;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserType};
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const ORG: &str = SIGNED_IN_ORG;
const OTHER: &str = "22222222-2222-4222-8222-222222222222";
const INVITATION: &str = "33333333-3333-4333-8333-333333333333";
const EMAIL: &str = "caller@example.com";

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// The table as the handler reads it: the caller's role in ORG (and OTHER's role, where
/// asked), an invitation, and transactions answered by `cancel` (None: they commit), each
/// recorded.
struct Table {
    roles: Rule,
    claim: Rule,
    /// DeleteItem: clearing the active choice.
    delete: Rule,
    /// The organisation's record: no name (a home organisation).
    record: Rule,
    invitation: Rule,
    transact: Rule,
    sent: Arc<Mutex<Vec<TransactWriteItemsInput>>>,
}

fn mocked_table(
    caller: Option<&'static str>,
    other: Option<&'static str>,
    cancel: &'static [&'static str],
) -> Table {
    let roles = mock!(DynamoClient::get_item)
        .match_requests(|input| {
            input.key().unwrap()["SK"]
                .as_s()
                .unwrap()
                .starts_with("MEMBER#")
        })
        .then_compute_output(move |input| {
            let sort = input.key().unwrap()["SK"].as_s().unwrap().clone();
            let role = if sort == format!("MEMBER#{SUB}") {
                caller
            } else {
                other
            };
            GetItemOutput::builder()
                .set_item(role.map(|role| [("role".to_owned(), s(role))].into()))
                .build()
        });
    let invitation = mock!(DynamoClient::get_item)
        .match_requests(|input| {
            input.key().unwrap()["PK"]
                .as_s()
                .unwrap()
                .starts_with("INVITATION#")
        })
        .then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(
                    [
                        ("orgId", ORG),
                        ("invitationId", INVITATION),
                        ("email", EMAIL),
                        ("role", "member"),
                        ("state", "pending"),
                    ]
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), s(value)))
                    .chain([(
                        "expiresAt".to_owned(),
                        AttributeValue::N("4102444800".into()),
                    )])
                    .collect(),
                ))
                .build()
        });
    // The caller's home claim: another organisation than both ORG and OTHER.
    let claim = mock!(DynamoClient::get_item)
        .match_requests(|input| input.key().unwrap()["SK"] == s("ORG_CLAIM"))
        .then_output(|| {
            GetItemOutput::builder()
                .item("orgId", s("44444444-4444-4444-8444-444444444444"))
                .build()
        });
    let delete = mock!(DynamoClient::delete_item)
        .match_requests(|input| input.key().unwrap()["SK"] == s("ACTIVE"))
        .then_output(|| {
            aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput::builder().build()
        });
    let record = mock!(DynamoClient::get_item)
        .match_requests(|input| input.key().unwrap()["SK"] == s("ORG"))
        .then_output(|| GetItemOutput::builder().build());
    let sent = Arc::<Mutex<Vec<TransactWriteItemsInput>>>::default();
    let recorded = Arc::clone(&sent);
    let transact = mock!(DynamoClient::transact_write_items).then_compute_response(move |input| {
        recorded.lock().unwrap().push(input.clone());
        if cancel.is_empty() {
            return aws_smithy_mocks::MockResponse::Output(
                TransactWriteItemsOutput::builder().build(),
            );
        }
        let mut cancelled = TransactionCanceledException::builder().message("cancelled");
        for code in cancel {
            cancelled =
                cancelled.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        aws_smithy_mocks::MockResponse::Error(
            TransactWriteItemsError::TransactionCanceledException(cancelled.build()),
        )
    });
    Table {
        roles,
        claim,
        delete,
        record,
        invitation,
        transact,
        sent,
    }
}

/// The user pool: the caller, with their e-mail verified or not.
fn pool(verified: bool) -> Rule {
    mock!(CognitoClient::list_users).then_output(move || {
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .unwrap()
        };
        ListUsersOutput::builder()
            .users(
                UserType::builder()
                    .username(SUB)
                    .attributes(attribute("sub", SUB))
                    .attributes(attribute("email", EMAIL))
                    .attributes(attribute(
                        "email_verified",
                        if verified { "true" } else { "false" },
                    ))
                    .build(),
            )
            .build()
    })
}

fn api(table: &Table, users: &Rule) -> Api {
    Api {
        store: OrgStore::new(
            mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [
                    &table.roles,
                    &table.claim,
                    &table.delete,
                    &table.record,
                    &table.invitation,
                    &table.transact
                ]
            ),
            "tenants",
        ),
        user_pool: UserPool::new(
            mock_client!(aws_sdk_cognitoidentityprovider, RuleMode::MatchAny, [users]),
            "custom:org",
        ),
        user_pool_id: fixtures::POOL.to_owned(),
        mailer: None,
        origin: AllowedOrigin::parse(Some("https://app.example.com")).unwrap(),
    }
}

/// A request to `resource` (the route's template) at `path`, as API Gateway sends it.
fn request(
    method: &str,
    resource: &str,
    path: &str,
    parameters: Value,
    body: Option<&str>,
    content_type: &str,
) -> Request {
    let mut event = fixtures::event(API_GET_ORGANISATION);
    for (pointer, value) in [
        ("/httpMethod", json!(method)),
        ("/requestContext/httpMethod", json!(method)),
        ("/resource", json!(resource)),
        ("/requestContext/resourcePath", json!(resource)),
        ("/path", json!(path)),
        ("/pathParameters", parameters),
        ("/headers/content-type", json!(content_type)),
        ("/multiValueHeaders/content-type", json!([content_type])),
        ("/body", body.map_or(Value::Null, |body| json!(body))),
    ] {
        event = with(event, pointer, value);
    }
    lambda_http::request::from_str(&event.to_string()).expect("a REST API proxy event")
}

fn post(resource: &str, path: &str, parameters: Value, body: Value) -> Request {
    request(
        "POST",
        resource,
        path,
        parameters,
        Some(&body.to_string()),
        "application/json",
    )
}

async fn call(api: &Api, request: Request) -> (u16, Value) {
    let response = handle(request, api).await.unwrap();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("a JSON body, not {other:?}"),
    };
    (response.status().as_u16(), body)
}

fn invite(body: Value) -> Request {
    post(
        "/orgs/{org}/invitations",
        &format!("/orgs/{ORG}/invitations"),
        json!({ "org": ORG }),
        body,
    )
}

#[tokio::test]
async fn an_invitation_keeps_only_the_secrets_hash_and_its_link_carries_the_secret() {
    let (table, users) = (mocked_table(Some("admin"), None, &[]), pool(true));
    let (status, body) = call(
        &api(&table, &users),
        invite(json!({"email": " Bob@Example.COM ", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "bob@example.com");
    assert_eq!(body["sent"], false, "no SES identity: the link comes back");
    let link = body["link"].as_str().unwrap();
    let secret = link.rsplit('.').next().unwrap();
    assert!(
        link.starts_with(&format!("https://app.example.com/#invite={ORG}.")),
        "{link}"
    );
    assert_eq!(secret.len(), 64);
    let sent = table.sent.lock().unwrap();
    let stored = format!("{:?}", sent[0]);
    assert!(
        !stored.contains(secret),
        "the secret itself is never stored"
    );
    assert!(stored.contains(&crate::domain::SecretHash::of(secret).to_string()));
    assert_eq!(
        sent[0].transact_items().len(),
        3,
        "the inviter's role checked, both copies put"
    );
}

#[tokio::test]
async fn who_may_invite_whom() {
    for (caller, role, status) in [
        ("member", "member", 403),
        ("admin", "owner", 403),
        ("admin", "admin", 201),
        ("owner", "owner", 201),
    ] {
        let (table, users) = (mocked_table(Some(caller), None, &[]), pool(true));
        let (answer, body) = call(
            &api(&table, &users),
            invite(json!({"email": "bob@example.com", "role": role})),
        )
        .await;
        assert_eq!(answer, status, "{caller} inviting an {role}: {body}");
        assert_eq!(table.transact.num_calls(), usize::from(status == 201));
        if status == 403 {
            assert_eq!(body, json!({"message": "Forbidden"}));
        }
    }
}

#[tokio::test]
async fn a_bad_body_is_a_clear_4xx_and_writes_nothing() {
    let long = "x".repeat(MAX_BODY);
    for (request, status, message) in [
        (
            invite(json!({"email": "bob@example.com", "role": "member", "x": 1})),
            400,
            "unknown field `x`",
        ),
        (
            invite(json!({"email": "bоb@example.com", "role": "member"})),
            400,
            "printable ASCII",
        ),
        (
            invite(json!({"email": "bob@example.com", "role": "root"})),
            400,
            "owner, admin or member",
        ),
        (
            invite(json!({"email": "bob@example.com", "role": "member", "expiresInDays": 0})),
            400,
            "1 to 30",
        ),
        (
            invite(json!({"email": 7, "role": "member"})),
            400,
            "invalid type",
        ),
        (
            invite(json!({"email": "bob@example.com", "role": "member", "pad": long})),
            413,
            "larger than",
        ),
        (
            request(
                "POST",
                "/orgs/{org}/invitations",
                &format!("/orgs/{ORG}/invitations"),
                json!({"org": ORG}),
                Some("{}"),
                "text/plain",
            ),
            415,
            "application/json",
        ),
        (
            request(
                "DELETE",
                "/orgs/{org}/membership",
                &format!("/orgs/{ORG}/membership"),
                json!({"org": ORG}),
                Some("{}"),
                "application/json",
            ),
            400,
            "takes no body",
        ),
    ] {
        let (table, users) = (mocked_table(Some("owner"), None, &[]), pool(true));
        let (answer, body) = call(&api(&table, &users), request).await;
        assert_eq!(answer, status, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{body}"
        );
        assert_eq!(table.transact.num_calls(), 0, "nothing written");
    }
}

fn change_role(role: &str) -> Request {
    request(
        "PUT",
        "/orgs/{org}/members/{sub}",
        &format!("/orgs/{ORG}/members/{OTHER}"),
        json!({"org": ORG, "sub": OTHER}),
        Some(&json!({ "role": role }).to_string()),
        "application/json",
    )
}

#[tokio::test]
async fn an_admin_never_makes_an_owner_nor_touches_one() {
    for (target, to, status) in [
        ("member", "owner", 403),
        ("owner", "member", 403),
        ("member", "admin", 200),
    ] {
        let (table, users) = (mocked_table(Some("admin"), Some(target), &[]), pool(true));
        let (answer, body) = call(&api(&table, &users), change_role(to)).await;
        assert_eq!(answer, status, "{target} to {to}: {body}");
        assert_eq!(table.transact.num_calls(), usize::from(status == 200));
    }
}

#[tokio::test]
async fn the_tables_refusals_become_clear_conflicts() {
    let leave = || {
        request(
            "DELETE",
            "/orgs/{org}/membership",
            &format!("/orgs/{ORG}/membership"),
            json!({"org": ORG}),
            None,
            "application/json",
        )
    };
    const NONE: &str = "None";
    const FAILED: &str = "ConditionalCheckFailed";
    // An owner leaving: both sides, the owner count, the claim (home check and count).
    for (reasons, message) in [
        (
            &[NONE, NONE, FAILED, NONE][..],
            "an organisation keeps at least one owner",
        ),
        (
            &[NONE, NONE, FAILED, FAILED][..],
            "the home organisation is its creator's own",
        ),
        (
            &[FAILED, NONE, NONE, NONE][..],
            "the membership changed meanwhile",
        ),
        (
            &[NONE, "TransactionConflict", NONE, NONE][..],
            "the membership changed meanwhile",
        ),
    ] {
        let reasons: &'static [&'static str] = Box::leak(reasons.to_vec().into_boxed_slice());
        let (table, users) = (mocked_table(Some("owner"), None, reasons), pool(true));
        let (answer, body) = call(&api(&table, &users), leave()).await;
        assert_eq!(
            (answer, body["message"].as_str()),
            (409, Some(message)),
            "{reasons:?}"
        );
    }
}

fn accept() -> Request {
    post(
        "/me/invitations/accept",
        "/me/invitations/accept",
        Value::Null,
        json!({"orgId": ORG, "invitationId": INVITATION, "secret": "a".repeat(64)}),
    )
}

#[tokio::test]
async fn accepting_needs_a_verified_email_and_a_usable_invitation() {
    let (table, users) = (mocked_table(None, None, &[]), pool(false));
    let (status, body) = call(&api(&table, &users), accept()).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            403,
            Some("accepting an invitation needs a verified e-mail address")
        )
    );
    assert_eq!(table.transact.num_calls(), 0);

    for (reasons, status) in [
        (
            &[
                "ConditionalCheckFailed",
                "None",
                "None",
                "None",
                "None",
                "None",
            ][..],
            410,
        ),
        (
            &[
                "None",
                "None",
                "None",
                "ConditionalCheckFailed",
                "None",
                "None",
            ][..],
            409,
        ),
        (
            &[
                "None",
                "None",
                "None",
                "None",
                "None",
                "ConditionalCheckFailed",
            ][..],
            409,
        ),
    ] {
        let reasons: &'static [&'static str] = Box::leak(reasons.to_vec().into_boxed_slice());
        let (table, users) = (mocked_table(None, None, reasons), pool(true));
        let (answer, body) = call(&api(&table, &users), accept()).await;
        assert_eq!(answer, status, "{reasons:?}: {body}");
    }
    let (table, users) = (mocked_table(None, None, &[]), pool(true));
    let (status, body) = call(&api(&table, &users), accept()).await;
    assert_eq!(
        (status, body),
        (200, json!({"orgId": ORG, "role": "member"}))
    );
    let sent = table.sent.lock().unwrap();
    assert_eq!(sent[0].transact_items().len(), 6);
    let accepted = sent[0].transact_items()[0].update().unwrap();
    assert_eq!(
        accepted.expression_attribute_values().unwrap()[":email"],
        s(EMAIL),
        "bound to the caller's verified e-mail"
    );
}

#[tokio::test]
async fn a_switch_to_an_organisation_one_does_not_belong_to_is_refused() {
    let switch = || {
        request(
            "PUT",
            "/me/active",
            "/me/active",
            Value::Null,
            Some(&json!({ "orgId": OTHER }).to_string()),
            "application/json",
        )
    };
    let (table, users) = (
        mocked_table(None, None, &["ConditionalCheckFailed", "None"]),
        pool(true),
    );
    let (status, _) = call(&api(&table, &users), switch()).await;
    assert_eq!(status, 403);
    let (table, users) = (mocked_table(None, None, &[]), pool(true));
    let (status, body) = call(&api(&table, &users), switch()).await;
    assert_eq!((status, body), (200, json!({ "active": OTHER })));
}

#[tokio::test]
async fn a_removed_member_is_refused_at_once_whatever_their_token_says() {
    // IAM let the request through (the token still names ORG); the table no longer does.
    let (table, users) = (mocked_table(None, None, &[]), pool(true));
    let (status, body) = call(
        &api(&table, &users),
        request(
            "GET",
            "/orgs/{org}/invitations",
            &format!("/orgs/{ORG}/invitations"),
            json!({"org": ORG}),
            None,
            "application/json",
        ),
    )
    .await;
    assert_eq!((status, body), (403, json!({"message": "Forbidden"})));
}

const HOME: &str = "44444444-4444-4444-8444-444444444444";

#[tokio::test]
async fn choosing_ones_home_clears_the_choice_even_without_a_membership_item() {
    // A user from before teams has no MEMBER_OF item of their home; a token falls back to it.
    let switch = request(
        "PUT",
        "/me/active",
        "/me/active",
        Value::Null,
        Some(&json!({ "orgId": HOME }).to_string()),
        "application/json",
    );
    let (table, users) = (mocked_table(None, None, &[]), pool(true));
    let (status, body) = call(&api(&table, &users), switch).await;
    assert_eq!((status, body), (200, json!({ "active": HOME })));
    assert_eq!(
        (table.delete.num_calls(), table.transact.num_calls()),
        (1, 0)
    );
}

#[tokio::test]
async fn a_change_holds_only_while_the_actor_keeps_the_role_it_was_judged_on() {
    let (table, users) = (mocked_table(Some("admin"), Some("member"), &[]), pool(true));
    let (status, _) = call(&api(&table, &users), change_role("admin")).await;
    assert_eq!(status, 200);
    let sent = table.sent.lock().unwrap();
    let checks: Vec<_> = sent[0]
        .transact_items()
        .iter()
        .filter_map(|item| item.condition_check())
        .collect();
    let [actor] = checks.as_slice() else {
        panic!("one check, on the actor: {:?}", sent[0]);
    };
    assert_eq!(actor.key()["SK"], s(&format!("MEMBER#{SUB}")));
    assert_eq!(
        actor.expression_attribute_values().unwrap()[":role"],
        s("admin")
    );
}

#[tokio::test]
async fn a_promotion_to_owner_counts_one_more_owner_of_an_organisation_that_exists() {
    let (table, users) = (mocked_table(Some("owner"), Some("admin"), &[]), pool(true));
    let (status, _) = call(&api(&table, &users), change_role("owner")).await;
    assert_eq!(status, 200);
    let sent = table.sent.lock().unwrap();
    let owners = sent[0]
        .transact_items()
        .iter()
        .filter_map(|item| item.update())
        .find(|update| update.key()["SK"] == s("ORG"))
        .expect("the owner count");
    assert_eq!(
        owners.expression_attribute_values().unwrap()[":change"],
        AttributeValue::N("1".into())
    );
    assert_eq!(owners.condition_expression(), Some("attribute_exists(#pk)"));
}

#[tokio::test]
async fn every_teams_route_refuses_what_it_cannot_read_and_writes_nothing() {
    let put = |resource: &str, path: String, parameters: Value, body: Value| {
        request(
            "PUT",
            resource,
            &path,
            parameters,
            Some(&body.to_string()),
            "application/json",
        )
    };
    let secret = "a".repeat(64);
    for (request, status, message) in [
        (
            post("/me/orgs", "/me/orgs", Value::Null, json!({"name": "  "})),
            400,
            "1 to 100 characters",
        ),
        (
            post(
                "/me/orgs",
                "/me/orgs",
                Value::Null,
                json!({"name": "x".repeat(101)}),
            ),
            400,
            "1 to 100 characters",
        ),
        (
            post(
                "/me/orgs",
                "/me/orgs",
                Value::Null,
                json!({"name": "a\u{7}b"}),
            ),
            400,
            "control or invisible",
        ),
        (
            post(
                "/me/orgs",
                "/me/orgs",
                Value::Null,
                json!({"name": "Ac\u{202E}me"}),
            ),
            400,
            "control or invisible",
        ),
        (
            post(
                "/me/orgs",
                "/me/orgs",
                Value::Null,
                json!({"name": "Acme", "plan": "pro"}),
            ),
            400,
            "unknown field `plan`",
        ),
        (
            put(
                "/me/active",
                "/me/active".into(),
                Value::Null,
                json!({"orgId": ORG.to_uppercase()}),
            ),
            400,
            "orgId must be",
        ),
        (
            put(
                "/me/active",
                "/me/active".into(),
                Value::Null,
                json!({"org": ORG}),
            ),
            400,
            "unknown field `org`",
        ),
        (
            post(
                "/me/invitations/accept",
                "/me/invitations/accept",
                Value::Null,
                json!({"orgId": ORG, "invitationId": "x", "secret": secret}),
            ),
            400,
            "invitationId must be",
        ),
        (
            post(
                "/me/invitations/accept",
                "/me/invitations/accept",
                Value::Null,
                json!({"orgId": ORG, "invitationId": INVITATION, "secret": secret.to_uppercase()}),
            ),
            400,
            "64 hexadecimal digits",
        ),
        (
            post(
                "/me/invitations/accept",
                "/me/invitations/accept",
                Value::Null,
                json!({"orgId": ORG, "invitationId": INVITATION, "secret": secret, "role": "owner"}),
            ),
            400,
            "unknown field `role`",
        ),
        (
            request(
                "DELETE",
                "/orgs/{org}/invitations/{invitation}",
                &format!("/orgs/{ORG}/invitations/x"),
                json!({"org": ORG, "invitation": "x"}),
                None,
                "application/json",
            ),
            400,
            "invitation id must be",
        ),
        (change_role("superuser"), 400, "owner, admin or member"),
    ] {
        let (table, users) = (mocked_table(Some("owner"), Some("member"), &[]), pool(true));
        let (answer, body) = call(&api(&table, &users), request).await;
        assert_eq!(answer, status, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{body}"
        );
        assert_eq!(
            table.transact.num_calls() + table.delete.num_calls(),
            0,
            "nothing written"
        );
    }
}
