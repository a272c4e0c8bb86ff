//! The event contract, field by field: the one place the malformed-event matrix lives.

use super::*;
use crate::fixtures::{self, ALL, SUB, event, with, without};
use serde_json::json;

#[test]
fn every_sample_event_is_listed_and_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    // The trigger events; events/api/ holds the tenant API's.
    let mut on_disk: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<_> = ALL.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fixtures::ALL lists every file in events/");
    for (name, text) in ALL {
        parse(&event(text), "custom:org").unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}

#[test]
fn reads_a_sign_up_confirmation() {
    let Trigger::ConfirmSignUp(user) = parse(&fixtures::sign_up(None), "custom:org").unwrap()
    else {
        panic!("expected a sign-up");
    };
    assert_eq!(user.user_pool_id, fixtures::POOL);
    assert_eq!(user.user_name, SUB);
    assert_eq!(user.sub.to_string(), SUB);
    assert_eq!(user.org_attribute, None);
}

#[test]
fn reads_a_token_generation_with_the_configured_attribute() {
    let event = with(
        fixtures::sign_in(None),
        "/request/userAttributes/custom:tenant",
        json!("abc"),
    );
    let Trigger::TokenGeneration(user) = parse(&event, "custom:tenant").unwrap() else {
        panic!("expected a token generation");
    };
    assert_eq!(user.org_attribute.as_deref(), Some("abc"));
}

#[test]
fn every_token_source_is_a_token_generation() {
    for source in [
        "TokenGeneration_HostedAuth",
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
        "TokenGeneration_SomethingNew",
    ] {
        let event = with(fixtures::sign_in(None), "/triggerSource", json!(source));
        assert!(
            matches!(parse(&event, "custom:org"), Ok(Trigger::TokenGeneration(_))),
            "{source}"
        );
    }
}

#[test]
fn other_sources_are_left_alone() {
    for source in [
        "PostConfirmation_ConfirmForgotPassword",
        "PostConfirmation_SomethingNew",
    ] {
        let event = with(fixtures::sign_up(None), "/triggerSource", json!(source));
        assert_eq!(
            parse(&event, "custom:org"),
            Ok(Trigger::Other(source.into()))
        );
    }
    // Another trigger's event is not ours to check: even an incomplete one is left alone.
    let event = without(
        with(
            fixtures::sign_up(None),
            "/triggerSource",
            json!("PreSignUp_SignUp"),
        ),
        "/request",
    );
    assert_eq!(
        parse(&event, "custom:org"),
        Ok(Trigger::Other("PreSignUp_SignUp".into()))
    );
}

/// Cognito's documented shape, as cognito-local also sends it: version "0", region "local",
/// an empty group configuration, no client metadata, a null client id.
#[test]
fn accepts_what_the_contract_allows() {
    let cases = [
        with(
            fixtures::sign_in(None),
            "/request/groupConfiguration",
            json!({}),
        ),
        with(
            fixtures::sign_in(None),
            "/request/groupConfiguration",
            json!(null),
        ),
        without(fixtures::sign_in(None), "/request/groupConfiguration"),
        with(
            fixtures::sign_in(None),
            "/response/claimsOverrideDetails",
            json!({}),
        ),
        with(
            fixtures::sign_in(None),
            "/response/claimsOverrideDetails",
            json!({"claimsToAddOrOverride": {"a": "b"}, "claimsToSuppress": ["email"],
                   "groupOverrideDetails": {"groupsToOverride": ["x"], "preferredRole": "r"}}),
        ),
        with(
            fixtures::sign_in(None),
            "/callerContext/clientId",
            json!(null),
        ),
        with(
            fixtures::sign_up(None),
            "/request/clientMetadata",
            json!({"k": "v"}),
        ),
        with(fixtures::sign_up(None), "/version", json!("0")),
        with(
            fixtures::sign_up(None),
            "/somethingCognitoAddedLater",
            json!([1]),
        ),
    ];
    for event in cases {
        assert!(parse(&event, "custom:org").is_ok(), "{event}");
    }
}

#[test]
fn malformed_events_say_which_field_is_wrong() {
    use EventError::*;
    let wrong = |field, expected| WrongType { field, expected };
    let sign_up = fixtures::sign_up;
    let sign_in = || fixtures::sign_in(None);
    let cases = [
        (json!("not an object"), NotAnObject),
        (json!(null), NotAnObject),
        (
            without(sign_up(None), "/triggerSource"),
            Missing("triggerSource"),
        ),
        (
            with(sign_up(None), "/triggerSource", json!(1)),
            wrong("triggerSource", "a string"),
        ),
        (without(sign_up(None), "/userName"), Missing("userName")),
        (
            with(sign_up(None), "/userName", json!("")),
            Missing("userName"),
        ),
        (without(sign_up(None), "/userPoolId"), Missing("userPoolId")),
        (
            with(sign_up(None), "/userPoolId", json!(42)),
            wrong("userPoolId", "a string"),
        ),
        (without(sign_up(None), "/version"), Missing("version")),
        (
            with(sign_up(None), "/region", json!(true)),
            wrong("region", "a string"),
        ),
        (
            without(sign_up(None), "/callerContext"),
            Missing("callerContext"),
        ),
        (
            with(sign_up(None), "/callerContext/clientId", json!(7)),
            wrong("callerContext.clientId", "a string or null"),
        ),
        (
            without(sign_up(None), "/callerContext/awsSdkVersion"),
            Missing("callerContext.awsSdkVersion"),
        ),
        (without(sign_up(None), "/response"), Missing("response")),
        (
            with(sign_up(None), "/response", json!([])),
            wrong("response", "an object"),
        ),
        (
            with(sign_up(None), "/request", json!("x")),
            wrong("request", "an object"),
        ),
        (
            without(sign_up(None), "/request/userAttributes"),
            Missing("request.userAttributes"),
        ),
        (
            with(sign_up(None), "/request/userAttributes", json!([])),
            wrong("request.userAttributes", "an object"),
        ),
        (
            without(sign_up(None), "/request/userAttributes/sub"),
            Missing("request.userAttributes.sub"),
        ),
        (
            with(sign_up(None), "/request/userAttributes/sub", json!(7)),
            wrong("request.userAttributes", "a map of strings"),
        ),
        (
            with(sign_up(None), "/request/userAttributes/sub", json!("alice")),
            SubNotUuid,
        ),
        (
            with(
                sign_up(None),
                "/request/userAttributes/custom:org",
                json!({"id": 1}),
            ),
            wrong("request.userAttributes", "a map of strings"),
        ),
        (
            with(
                sign_up(None),
                "/request/userAttributes/email_verified",
                json!(true),
            ),
            wrong("request.userAttributes", "a map of strings"),
        ),
        (
            with(sign_up(None), "/request/clientMetadata", json!({"k": 1})),
            wrong("request.clientMetadata", "a map of strings"),
        ),
        (
            with(sign_up(None), "/request/clientMetadata", json!("k")),
            wrong("request.clientMetadata", "a map of strings"),
        ),
        (
            with(sign_in(), "/request/groupConfiguration", json!([])),
            wrong("request.groupConfiguration", "an object"),
        ),
        (
            with(
                sign_in(),
                "/request/groupConfiguration/groupsToOverride",
                json!("admins"),
            ),
            wrong(
                "request.groupConfiguration",
                "lists of strings and a string preferredRole",
            ),
        ),
        (
            with(
                sign_in(),
                "/request/groupConfiguration/preferredRole",
                json!(1),
            ),
            wrong(
                "request.groupConfiguration",
                "lists of strings and a string preferredRole",
            ),
        ),
        (
            with(sign_in(), "/response/claimsOverrideDetails", json!("x")),
            wrong("response.claimsOverrideDetails", "an object"),
        ),
        (
            with(
                sign_in(),
                "/response/claimsOverrideDetails",
                json!({"claimsToAddOrOverride": {"a": 1}}),
            ),
            wrong(
                "response.claimsOverrideDetails.claimsToAddOrOverride",
                "a map of strings",
            ),
        ),
        (
            with(
                sign_in(),
                "/response/claimsOverrideDetails",
                json!({"claimsToSuppress": "email"}),
            ),
            wrong(
                "response.claimsOverrideDetails.claimsToSuppress",
                "a list of strings",
            ),
        ),
        (
            with(
                sign_in(),
                "/response/claimsOverrideDetails",
                json!({"groupOverrideDetails": {"iamRolesToOverride": [1]}}),
            ),
            wrong(
                "response.claimsOverrideDetails.groupOverrideDetails",
                "lists of strings and a string preferredRole",
            ),
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(
            parse(&event, "custom:org").map_err(|malformed| malformed.error),
            Err(expected),
            "{event}"
        );
    }
}

#[test]
fn error_messages_never_echo_values() {
    for (pointer, value) in [
        ("/request/userAttributes/sub", json!("alice@example.com")),
        (
            "/request/userAttributes/email",
            json!(["alice@example.com"]),
        ),
        ("/userPoolId", json!({"alice@example.com": 1})),
    ] {
        let event = with(fixtures::sign_up(None), pointer, value);
        let message = parse(&event, "custom:org").unwrap_err().to_string();
        assert!(!message.contains("alice"), "{message}");
    }
}

#[test]
fn a_malformed_event_is_counted_under_the_trigger_its_source_names() {
    let bad_sub = "/request/userAttributes/sub";
    let cases = [
        (
            with(fixtures::sign_up(None), bad_sub, json!("x")),
            TriggerKind::PostConfirmation,
        ),
        (
            with(fixtures::sign_in(None), bad_sub, json!("x")),
            TriggerKind::TokenGeneration,
        ),
        (
            without(fixtures::sign_up(None), "/triggerSource"),
            TriggerKind::Other,
        ),
        (json!([1]), TriggerKind::Other),
    ];
    for (event, trigger) in cases {
        let malformed = parse(&event, "custom:org").unwrap_err();
        assert_eq!(malformed.trigger, trigger, "{event}");
    }
}
