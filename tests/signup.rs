//! End to end on local stand-ins: the real cognito-local user pool invokes this function
//! (the release bootstrap, behind `cargo lambda watch`) on confirmation, and the function writes
//! to moto's DynamoDB.
//! Run through `make test`, which starts the servers; plain `cargo test` skips these.

mod support;

use support::{LocalAws, PASSWORD, confirm_sign_up_event, text};
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

    let logged = aws.function_log_of(&sub);
    let [minted] = logged.as_slice() else {
        panic!("one log line for this sign-up: {logged:?}");
    };
    assert_eq!(minted["fields"]["outcome"], "minted");
    assert_eq!(minted["fields"]["org_id"], org.as_str());
    assert!(minted["span"]["requestId"].is_string(), "{minted}");
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
        3,
        "org, membership, claim"
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
    let sent: serde_json::Value = serde_json::from_str(&event).unwrap();

    for _ in 0..2 {
        let answer = aws.invoke(&event).expect("the retry succeeds");
        assert_eq!(answer, sent, "the event goes back unchanged");
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
    aws.invoke(&event).expect("the retry succeeds");

    assert_eq!(aws.org_of(&pool, &sub).await, Some(org.clone()));
    let items = aws.items_of_user(&sub).await;
    let kinds: Vec<_> = items.iter().map(|item| text(item, "kind")).collect();
    assert_eq!(items.len(), 3, "{kinds:?}");
    assert!(items.iter().all(|item| text(item, "orgId") == org));
    let outcomes: Vec<_> = aws
        .function_log()
        .into_iter()
        .filter(|line| line["fields"]["sub"] == sub.as_str())
        .map(|line| {
            line["fields"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(outcomes, ["minted", "reused", "reused", "reused"]);
}

#[tokio::test]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn malformed_events_are_refused_and_write_nothing() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("malformed").await;
    let sub = aws.sign_up(&pool, "frank@example.com", &[]).await;
    let mut attributes = aws.user_attributes(&pool, &sub).await;
    let complete: serde_json::Value =
        serde_json::from_str(&confirm_sign_up_event(&pool, &sub, &attributes)).unwrap();
    let mut no_pool = complete.clone();
    no_pool.as_object_mut().unwrap().remove("userPoolId");
    attributes.insert("sub".into(), "not-a-uuid".into());
    let bad_sub = confirm_sign_up_event(&pool, &sub, &attributes);

    for (payload, says) in [
        ("not json at all".to_owned(), "deserialize"),
        ("[1, 2, 3]".to_owned(), "not a JSON object"),
        (no_pool.to_string(), "`userPoolId` is missing"),
        (bad_sub, "not a UUID"),
    ] {
        let err = aws.invoke(&payload).expect_err(&payload);
        // cargo lambda wraps the message in a box: read it as one line.
        let err = err.replace('│', " ");
        let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(err.contains(says), "{payload}: {err}");
    }

    assert!(aws.claim(&sub).await.is_none());
    assert!(aws.items_of_user(&sub).await.is_empty());
    assert_eq!(aws.org_of(&pool, &sub).await, None);
    assert!(
        aws.function_log()
            .iter()
            .any(|line| line["fields"]["outcome"] == "rejected")
    );
}
