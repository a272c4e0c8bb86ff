//! End to end on local stand-ins: the real cognito-local user pool invokes this function
//! (the release bootstrap, behind `cargo lambda watch`) on confirmation and at every token,
//! and the function writes to moto's DynamoDB.
//! Run through `make test`, which starts the servers; plain `cargo test` skips these.

use crate::support;

use serde_json::json;
use support::{
    Fault, ITEMS_PER_USER, Invoked, LocalAws, PASSWORD, TRANSACTION, confirm_sign_up_event, text,
};
use uuid::Uuid;

fn assert_uuid_v4(org: &str) {
    let parsed = Uuid::parse_str(org).unwrap_or_else(|_| panic!("{org:?} is not a UUID"));
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(parsed.hyphenated().to_string(), org, "canonical form");
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn sign_up_provisions_one_organisation_seen_by_cognito_the_table_and_the_token() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("sign-up").await;

    let sub = aws.sign_up_and_confirm(&pool, "alice@example.com").await;

    let org = aws
        .org_of(&pool, &sub)
        .await
        .expect("custom:org set on the user");
    assert_uuid_v4(&org);

    let partition = aws.org_partition(&org).await;
    let sort_keys: Vec<_> = partition.iter().map(|item| text(item, "SK")).collect();
    assert_eq!(sort_keys, ["MEMBER#".to_owned() + &sub, "ORG".to_owned()]);
    let (membership, record) = (&partition[0], &partition[1]);
    assert_eq!(text(record, "orgId"), org);
    assert_eq!(text(record, "createdBy"), sub);
    assert!(text(record, "createdAt").ends_with('Z'), "{record:?}");
    assert_eq!(text(membership, "role"), "owner");
    let claim = aws.claim(&sub).await.expect("the user's claim");
    assert_eq!(text(&claim, "orgId"), org);

    let claims = aws
        .id_token_claims(&pool, "alice@example.com", PASSWORD)
        .await;
    assert_eq!(claims["custom:org"], org.as_str());
    assert_eq!(claims["sub"], sub.as_str());

    // Two round trips for the sign-up (no read before the transaction), one for the token.
    assert_eq!(
        aws.calls_mentioning(&[&sub, &org]),
        json!({"TransactWriteItems": 1, "AdminUpdateUserAttributes": 1, "Query": 1})
    );

    let logged = aws.function_log_of(&sub);
    let [minted, verified] = logged.as_slice() else {
        panic!("one line for the sign-up, one for the token: {logged:?}");
    };
    assert_eq!(minted["fields"]["outcome"], "minted");
    assert_eq!(minted["fields"]["org_id"], org.as_str());
    assert!(minted["span"]["requestId"].is_string(), "{minted}");
    assert_eq!(
        verified["fields"]["outcome"], "verified",
        "a provisioned user costs one read"
    );
    // Each invocation also printed its metrics, in the Embedded Metric Format.
    for (line, metric) in [(minted, "Minted"), (verified, "Verified")] {
        let emf = aws.metrics_line(line["span"]["requestId"].as_str().unwrap());
        assert_eq!(emf[metric], 1, "{emf}");
        assert_eq!(emf["outcome"], line["fields"]["outcome"]);
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "TenantProvisioning");
        assert_eq!(directive["Metrics"][0]["Name"], metric);
        assert!(emf["Duration"].as_f64().unwrap() > 0.0, "{emf}");
    }
    let everything = aws
        .function_log()
        .iter()
        .map(|l| l.to_string())
        .collect::<String>();
    assert!(!everything.contains("@example.com"), "no addresses in logs");
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn password_reset_keeps_the_organisation() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("reset").await;
    let sub = aws.sign_up_and_confirm(&pool, "carol@example.com").await;
    let org = aws.org_of(&pool, &sub).await.expect("provisioned");

    aws.cognito
        .forgot_password()
        .client_id(&pool.client_id)
        .username("carol@example.com")
        .send()
        .await
        .expect("ForgotPassword");
    aws.cognito
        .confirm_forgot_password()
        .client_id(&pool.client_id)
        .username("carol@example.com")
        .confirmation_code(support::CODE)
        .password("Another-Horse-43")
        .send()
        .await
        .expect("ConfirmForgotPassword");

    assert_eq!(aws.org_of(&pool, &sub).await, Some(org.clone()));
    assert_eq!(
        aws.items_of_user(&sub).await.len(),
        ITEMS_PER_USER,
        "org, both sides of the membership, claim"
    );
    let claims = aws
        .id_token_claims(&pool, "carol@example.com", "Another-Horse-43")
        .await;
    assert_eq!(claims["custom:org"], org.as_str());
    let skipped = aws.function_log().into_iter().any(|line| {
        line["fields"]["trigger_source"] == "PostConfirmation_ConfirmForgotPassword"
            && line["fields"]["outcome"] == "skipped"
    });
    assert!(skipped, "the trigger fired for the reset and was skipped");
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn sign_up_naming_another_tenants_org_gets_its_own() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("client-supplied").await;
    let victim = aws.sign_up_and_confirm(&pool, "dave@example.com").await;
    let victims_org = aws.org_of(&pool, &victim).await.expect("provisioned");

    // cognito-local, unlike Cognito with the template's app client, lets the client write it.
    let attacker = aws
        .sign_up(
            &pool,
            "mallory@example.com",
            &[("custom:org", &victims_org)],
        )
        .await;
    assert_eq!(
        aws.org_of(&pool, &attacker).await,
        Some(victims_org.clone())
    );
    aws.confirm(&pool, "mallory@example.com").await;

    let attackers_org = aws.org_of(&pool, &attacker).await.expect("provisioned");
    assert_ne!(attackers_org, victims_org);
    assert_uuid_v4(&attackers_org);
    let victims_partition = aws.org_partition(&victims_org).await;
    assert!(
        victims_partition
            .iter()
            .all(|item| !text(item, "SK").contains(&attacker)),
        "no membership in the victim's organisation"
    );
    assert_eq!(aws.org_partition(&attackers_org).await.len(), 2);
    let claims = aws
        .id_token_claims(&pool, "mallory@example.com", PASSWORD)
        .await;
    assert_eq!(claims["custom:org"], attackers_org.as_str());

    let warning = aws
        .function_log_of(&attacker)
        .into_iter()
        .find(|line| line["level"] == "WARN")
        .expect("a security warning");
    assert_eq!(warning["fields"]["security"], true);
    assert_eq!(warning["fields"]["supplied_org"], victims_org.as_str());
    assert_eq!(warning["fields"]["org_id"], attackers_org.as_str());
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn redelivered_confirmation_leaves_exactly_one_organisation() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("retries").await;
    let sub = aws.sign_up_and_confirm(&pool, "erin@example.com").await;
    let org = aws.org_of(&pool, &sub).await.expect("provisioned");
    // The event as Cognito first sent it: before the function ran, so without custom:org.
    let mut attributes = aws.user_attributes(&pool, &sub).await;
    attributes.remove("custom:org");
    let event = confirm_sign_up_event(&pool, &sub, &attributes);

    for _ in 0..2 {
        assert_eq!(
            aws.invoke(&event),
            Invoked::Answer(event.clone()),
            "unchanged"
        );
    }
    // A crash after the transaction, before the attribute was set: the retry finishes it.
    aws.cognito
        .admin_delete_user_attributes()
        .user_pool_id(&pool.id)
        .username(&sub)
        .user_attribute_names("custom:org")
        .send()
        .await
        .expect("AdminDeleteUserAttributes");
    assert_eq!(aws.invoke(&event), Invoked::Answer(event.clone()));

    assert_eq!(aws.org_of(&pool, &sub).await, Some(org.clone()));
    let items = aws.items_of_user(&sub).await;
    let kinds: Vec<_> = items.iter().map(|item| text(item, "kind")).collect();
    assert_eq!(items.len(), ITEMS_PER_USER, "{kinds:?}");
    assert!(items.iter().all(|item| text(item, "orgId") == org));
    assert_eq!(
        aws.outcomes_of(&sub),
        ["minted", "reused", "reused", "reused"]
    );
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn malformed_events_are_refused_and_write_nothing() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("malformed").await;
    let sub = aws.sign_up(&pool, "frank@example.com", &[]).await;
    let mut attributes = aws.user_attributes(&pool, &sub).await;
    let complete = confirm_sign_up_event(&pool, &sub, &attributes);
    let mut no_pool = complete.clone();
    no_pool.as_object_mut().unwrap().remove("userPoolId");
    attributes.insert("sub".into(), "not-a-uuid".into());
    let bad_sub = confirm_sign_up_event(&pool, &sub, &attributes);
    let mut token_with_bad_groups = complete.clone();
    token_with_bad_groups["triggerSource"] = json!("TokenGeneration_Authentication");
    token_with_bad_groups["request"]["groupConfiguration"] = json!({"groupsToOverride": "admins"});

    for payload in [json!([1, 2, 3]), no_pool, bad_sub, token_with_bad_groups] {
        let Invoked::Error {
            error_type,
            message,
        } = aws.invoke(&payload)
        else {
            panic!("{payload} was accepted");
        };
        assert_eq!(error_type, "MalformedEvent", "{payload}");
        assert_eq!(
            message, "The request could not be processed.",
            "generic, for the client"
        );
    }

    assert!(aws.claim(&sub).await.is_none());
    assert!(aws.items_of_user(&sub).await.is_empty());
    assert_eq!(aws.org_of(&pool, &sub).await, None);
    let rejections: Vec<_> = aws
        .function_log()
        .into_iter()
        .filter(|line| line["fields"]["outcome"] == "rejected")
        .map(|line| {
            line["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for says in [
        "`userPoolId` is missing",
        "not a UUID",
        "request.groupConfiguration",
    ] {
        assert!(
            rejections.iter().any(|error| error.contains(says)),
            "{says}: {rejections:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn an_admin_created_user_gets_an_organisation_in_their_first_token() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("admin-created").await;
    let sub = aws.admin_create_user(&pool, "grace@example.com").await;
    assert!(
        aws.claim(&sub).await.is_none(),
        "PostConfirmation never fired"
    );

    let claims = aws
        .first_sign_in(&pool, "grace@example.com")
        .await
        .expect("signed in");

    let org = claims["custom:org"]
        .as_str()
        .expect("the first token carries an organisation");
    assert_uuid_v4(org);
    assert_eq!(text(&aws.claim(&sub).await.expect("a claim"), "orgId"), org);
    assert_eq!(
        aws.org_partition(org).await.len(),
        2,
        "organisation and membership"
    );
    assert_eq!(
        aws.org_of(&pool, &sub).await.as_deref(),
        Some(org),
        "the attribute, repaired"
    );
    assert_eq!(aws.outcomes_of(&sub), ["minted"]);
    let again = aws
        .id_token_claims(&pool, "grace@example.com", PASSWORD)
        .await;
    assert_eq!(again["custom:org"], org);
    assert_eq!(aws.outcomes_of(&sub), ["minted", "verified"]);
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn a_deferred_sign_up_is_provisioned_at_first_sign_in() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("deferred").await;
    let sub = aws.sign_up(&pool, "heidi@example.com", &[]).await;
    // Every attempt at the transaction is throttled, as in a burst.
    aws.arm(Fault {
        operation: TRANSACTION,
        kind: "throttle",
        only_for: &sub,
        times: 3,
    });

    aws.confirm(&pool, "heidi@example.com").await;

    assert_eq!(
        aws.outcomes_of(&sub),
        ["deferred"],
        "confirmed, and told so"
    );
    assert!(aws.claim(&sub).await.is_none());
    let claims = aws
        .id_token_claims(&pool, "heidi@example.com", PASSWORD)
        .await;
    let org = claims["custom:org"]
        .as_str()
        .expect("the first token carries an organisation");
    assert_eq!(text(&aws.claim(&sub).await.expect("a claim"), "orgId"), org);
    assert_eq!(
        aws.items_of_user(&sub).await.len(),
        ITEMS_PER_USER,
        "org, both sides of the membership, claim"
    );
    assert_eq!(aws.outcomes_of(&sub), ["deferred", "minted"]);
    // The function set the attribute; cognito-local's InitiateAuth then saves the copy of the
    // user it read before the trigger, so the stand-in loses it (Cognito keeps it). The next
    // token, or the audit, sets it again: the token is right either way.
    assert_eq!(
        aws.function_log_of(&sub)[1]["fields"]["attribute"],
        "updated"
    );
}
