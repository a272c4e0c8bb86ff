//! The tenant API's handler on REST API proxy events (events/api/), against a mocked table:
//! the answer, its status, and which reads were made.

use super::*;
use crate::fixtures::{self, API_GET_ORGANISATION, SIGNED_IN_ORG, SUB, with, without};
use crate::user_pool::UserPool;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};

const OWN: &str = SIGNED_IN_ORG;
const MEMBER_A: &str = "11111111-1111-4111-8111-111111111111";
const MEMBER_B: &str = "22222222-2222-4222-8222-222222222222";
const THROTTLED: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// The caller's membership, read from the organisation's side: SUB is an owner of `org`, or
/// of nothing.
fn member_of(org: Option<&'static str>) -> Rule {
    mock!(DynamoClient::get_item)
        .match_requests(|input| {
            input.key().unwrap()["SK"] == s(&format!("MEMBER#{SUB}"))
                && input.consistent_read() == Some(true)
        })
        .then_compute_output(move |input| {
            let item = org
                .filter(|org| input.key().unwrap()["PK"] == s(&format!("ORG#{org}")))
                .map(|_| [("role".to_owned(), s("owner"))].into());
            GetItemOutput::builder().set_item(item).build()
        })
}

fn organisation_record(present: bool) -> Rule {
    mock!(DynamoClient::get_item)
        .match_requests(|input| {
            input.key().unwrap()["PK"] == s(&format!("ORG#{OWN}"))
                && input.key().unwrap()["SK"] == s("ORG")
        })
        .then_output(move || {
            let item = present.then(|| {
                [
                    ("PK".to_owned(), s(&format!("ORG#{OWN}"))),
                    ("orgId".to_owned(), s(OWN)),
                    ("createdAt".to_owned(), s("2026-12-02T10:00:00Z")),
                    ("createdBy".to_owned(), s(SUB)),
                ]
                .into()
            });
            GetItemOutput::builder().set_item(item).build()
        })
}

fn member(sub: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("PK".to_owned(), s(&format!("ORG#{OWN}"))),
        ("SK".to_owned(), s(&format!("MEMBER#{sub}"))),
        ("sub".to_owned(), s(sub)),
        ("role".to_owned(), s("owner")),
        ("createdAt".to_owned(), s("2026-12-02T10:00:00Z")),
    ]
    .into()
}

/// A page of members, matched only by the query this request must send.
fn members_page(
    limit: i32,
    after: Option<&'static str>,
    items: &'static [&'static str],
    more: bool,
) -> Rule {
    mock!(DynamoClient::query)
        .match_requests(move |input| {
            let values = input.expression_attribute_values().unwrap();
            let start = input.exclusive_start_key();
            values[":pk"] == s(&format!("ORG#{OWN}"))
                && values[":member"] == s("MEMBER#")
                && input.limit() == Some(limit)
                && match after {
                    None => start.is_none(),
                    Some(sub) => start.is_some_and(|key| {
                        key["PK"] == s(&format!("ORG#{OWN}"))
                            && key["SK"] == s(&format!("MEMBER#{sub}"))
                    }),
                }
        })
        .then_output(move || {
            let last = items.last().map(|sub| member(sub));
            QueryOutput::builder()
                .set_items(Some(items.iter().map(|sub| member(sub)).collect()))
                .set_last_evaluated_key(if more { last } else { None })
                .build()
        })
}

fn store(rules: &[&Rule]) -> OrgStore {
    OrgStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules),
        "tenants",
    )
}

/// The handler's clients: the table given, a user pool that must not be called, no mail.
fn api(store: OrgStore, origin: Option<AllowedOrigin>) -> Api {
    Api {
        store,
        user_pool: UserPool::new(
            mock_client!(aws_sdk_cognitoidentityprovider, RuleMode::MatchAny, []),
            "custom:org",
        ),
        user_pool_id: fixtures::POOL.to_owned(),
        mailer: None,
        origin,
    }
}

/// The sample request, changed at these JSON pointers.
fn request(changes: &[(&str, Value)]) -> Request {
    let mut event = fixtures::event(API_GET_ORGANISATION);
    for (pointer, value) in changes {
        event = if value.is_null() {
            without(event, pointer)
        } else {
            with(event, pointer, value.clone())
        };
    }
    lambda_http::request::from_str(&event.to_string()).expect("a REST API proxy event")
}

fn members_request(query: Value) -> Request {
    let multi: serde_json::Map<String, Value> = query
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), json!([value])))
        .collect();
    request(&[
        ("/resource", json!("/orgs/{org}/members")),
        ("/requestContext/resourcePath", json!("/orgs/{org}/members")),
        ("/path", json!(format!("/orgs/{OWN}/members"))),
        ("/queryStringParameters", query),
        ("/multiValueQueryStringParameters", Value::Object(multi)),
    ])
}

async fn call(request: Request, store: OrgStore) -> (u16, Value) {
    let response = handle(request, &api(store, None)).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("a JSON body, not {other:?}"),
    };
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn the_organisation_is_served_from_one_read() {
    let (membership, record) = (member_of(Some(OWN)), organisation_record(true));
    let (status, body) = call(request(&[]), store(&[&membership, &record])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"orgId": OWN, "name": null, "createdAt": "2026-12-02T10:00:00Z", "createdBy": SUB})
    );
    assert_eq!((membership.num_calls(), record.num_calls()), (0, 1));
}

#[tokio::test]
async fn the_cached_reads_rely_on_iam_alone_and_never_answer_a_refusal_the_cache_would_keep() {
    // A caller IAM let in (their token's org tag names the path) who is no member any more: a
    // 403 here would be cached under the organisation's key and served to every member. What
    // the answer shows, the same session may read from DynamoDB until its credentials expire.
    let (membership, record) = (member_of(None), organisation_record(true));
    let (status, _) = call(request(&[]), store(&[&membership, &record])).await;
    assert_eq!(status, 200);
    assert_eq!((membership.num_calls(), record.num_calls()), (0, 1));
}

#[tokio::test]
async fn a_missing_or_malformed_identity_is_forbidden_before_any_read() {
    let provider = "/requestContext/identity/cognitoAuthenticationProvider";
    for change in [
        Value::Null,
        json!("cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"),
        json!("cognito-idp.us-east-1.amazonaws.com/us-east-1_Example:CognitoSignIn:not-a-sub"),
        json!(""),
    ] {
        let membership = member_of(Some(OWN));
        let (status, body) = call(
            request(&[(provider, change.clone())]),
            store(&[&membership]),
        )
        .await;
        assert_eq!(
            (status, body),
            (403, json!({"message": "Forbidden"})),
            "{change}"
        );
        assert_eq!(membership.num_calls(), 0, "{change}");
    }
}

#[tokio::test]
async fn a_malformed_organisation_in_the_path_is_a_bad_request() {
    for bad in [
        "not-a-uuid".to_owned(),
        OWN.to_uppercase(),
        OWN.replace('-', ""),
        format!("{{{OWN}}}"),
        format!("{OWN}0"),
    ] {
        let membership = member_of(Some(OWN));
        let (status, body) = call(
            request(&[("/pathParameters/org", json!(bad))]),
            store(&[&membership]),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            body["message"],
            "the organisation id must be a lower-case hyphenated UUID"
        );
        assert_eq!(membership.num_calls(), 0);
    }
}

#[tokio::test]
async fn members_come_a_page_at_a_time() {
    let membership = member_of(Some(OWN));
    let first = members_page(2, None, &[MEMBER_A, MEMBER_B], true);
    let (status, body) = call(
        members_request(json!({"limit": "2"})),
        store(&[&membership, &first]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["members"][0],
        json!({"sub": MEMBER_A, "role": "owner", "email": null, "createdAt": "2026-12-02T10:00:00Z"})
    );
    assert_eq!(body["next"], MEMBER_B);

    let membership = member_of(Some(OWN));
    let last = members_page(2, Some(MEMBER_B), &[SUB], false);
    let (status, body) = call(
        members_request(json!({"limit": "2", "cursor": MEMBER_B})),
        store(&[&membership, &last]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"][0]["sub"], SUB);
    assert_eq!(body["next"], Value::Null, "the last page");
}

#[tokio::test]
async fn the_default_page_is_25() {
    let membership = member_of(Some(OWN));
    let page = members_page(DEFAULT_PAGE, None, &[SUB], false);
    let (status, _) = call(members_request(json!({})), store(&[&membership, &page])).await;
    assert_eq!(status, 200);
    assert_eq!(page.num_calls(), 1);
}

#[tokio::test]
async fn bad_paging_parameters_are_bad_requests() {
    for (query, message) in [
        (
            json!({"limit": "0"}),
            "limit must be a whole number from 1 to 100",
        ),
        (
            json!({"limit": "101"}),
            "limit must be a whole number from 1 to 100",
        ),
        (
            json!({"limit": "ten"}),
            "limit must be a whole number from 1 to 100",
        ),
        (
            json!({"cursor": "MEMBER#x"}),
            "cursor is not one this API gave",
        ),
        (
            json!({"cursor": "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA"}),
            "cursor is not one this API gave",
        ),
        (json!({"sort": "desc"}), "unknown query parameter"),
    ] {
        let membership = member_of(Some(OWN));
        let (status, body) = call(members_request(query.clone()), store(&[&membership])).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some(message)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn the_organisation_route_takes_no_query_parameters() {
    let membership = member_of(Some(OWN));
    let (status, body) = call(
        request(&[
            ("/queryStringParameters", json!({"limit": "1"})),
            ("/multiValueQueryStringParameters", json!({"limit": ["1"]})),
        ]),
        store(&[&membership]),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("unknown query parameter"))
    );
}

#[tokio::test]
async fn other_routes_and_methods_are_refused() {
    let membership = member_of(Some(OWN));
    let (status, _) = call(
        request(&[("/requestContext/resourcePath", json!("/orgs/{org}/secrets"))]),
        store(&[&membership]),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        request(&[("/httpMethod", json!("POST"))]),
        store(&[&membership]),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(membership.num_calls(), 0);
}

#[tokio::test]
async fn an_organisation_without_its_record_is_not_found() {
    let (membership, record) = (member_of(Some(OWN)), organisation_record(false));
    let (status, body) = call(request(&[]), store(&[&membership, &record])).await;
    assert_eq!(
        (status, body),
        (404, json!({"message": "the organisation has no record"}))
    );
}

#[tokio::test]
async fn a_failing_table_is_a_generic_error() {
    let throttled = mock!(DynamoClient::get_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(3)
        .build();
    let store = OrgStore::new(
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&throttled],
            |config| config.retry_config(crate::config::retries())
        ),
        "tenants",
    );
    let (status, body) = call(request(&[]), store).await;
    assert_eq!((status, body), (500, json!({"message": "Internal error"})));
}

#[tokio::test]
async fn a_repeated_query_parameter_is_a_bad_request() {
    let membership = member_of(Some(OWN));
    // As API Gateway sends it: the last value in the single map, every value in the other.
    let repeated = request(&[
        ("/resource", json!("/orgs/{org}/members")),
        ("/requestContext/resourcePath", json!("/orgs/{org}/members")),
        ("/path", json!(format!("/orgs/{OWN}/members"))),
        ("/queryStringParameters", json!({ "limit": "2" })),
        (
            "/multiValueQueryStringParameters",
            json!({ "limit": ["1", "2"] }),
        ),
    ]);
    let (status, body) = call(repeated, store(&[&membership])).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "a query parameter is given more than once");
}

#[tokio::test]
async fn every_answer_names_the_allowed_origin() {
    let origin = AllowedOrigin::parse(Some("https://app.example.com"))
        .unwrap()
        .unwrap();
    let membership = member_of(Some(OWN));
    let record = organisation_record(true);
    for request in [request(&[]), members_request(json!({ "limit": "0" }))] {
        let response = handle(
            request,
            &api(store(&[&membership, &record]), Some(origin.clone())),
        )
        .await
        .unwrap();
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(response.headers()["vary"], "origin");
    }
    let response = handle(request(&[]), &api(store(&[&membership, &record]), None))
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[test]
fn the_allowed_origin_is_one_origin() {
    assert_eq!(AllowedOrigin::parse(None).unwrap(), None);
    assert_eq!(AllowedOrigin::parse(Some("")).unwrap(), None);
    assert!(
        AllowedOrigin::parse(Some("http://127.0.0.1:5173"))
            .unwrap()
            .is_some()
    );
    for bad in [
        "*",
        "https://*.example.com",
        "https://app.example.com/path",
        "app.example.com",
        "https://",
    ] {
        assert!(AllowedOrigin::parse(Some(bad)).is_err(), "{bad}");
    }
}
