//! Many at once: the same event delivered several times together (duplicate deliveries are
//! seen in the wild), the same first sign-in several times together, and a launch-day burst
//! of sign-ups against a throttling user pool. One organisation per user, always.
//! Run through `make test`, which starts the servers; plain `cargo test` skips these.

use crate::support;

use std::sync::Arc;
use support::burst::Burst;
use support::{ITEMS_PER_USER, Invoked, LocalAws, PASSWORD, confirm_sign_up_event, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn the_same_confirmation_delivered_up_to_eight_times_at_once_makes_one_organisation() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("races").await;
    for copies in 2..=8 {
        let email = format!("race{copies}@example.com");
        let sub = aws.sign_up(&pool, &email, &[]).await;
        let event = confirm_sign_up_event(&pool, &sub, &aws.user_attributes(&pool, &sub).await);

        let answers: Vec<Invoked> = std::thread::scope(|scope| {
            let deliveries: Vec<_> = (0..copies)
                .map(|_| scope.spawn(|| aws.invoke(&event)))
                .collect();
            deliveries.into_iter().map(|d| d.join().unwrap()).collect()
        });

        for answer in answers {
            assert_eq!(answer, Invoked::Answer(event.clone()), "{copies} copies");
        }
        let items = aws.items_of_user(&sub).await;
        assert_eq!(
            items.len(),
            ITEMS_PER_USER,
            "{copies} copies: one organisation, both sides of its membership, claim"
        );
        let org = text(&aws.claim(&sub).await.unwrap(), "orgId").to_owned();
        assert!(items.iter().all(|item| text(item, "orgId") == org));
        assert_eq!(aws.org_of(&pool, &sub).await, Some(org.clone()));
        let outcomes = aws.outcomes_of(&sub);
        assert_eq!(outcomes.len(), copies, "{outcomes:?}");
        assert_eq!(
            outcomes.iter().filter(|o| *o == "minted").count(),
            1,
            "{outcomes:?}"
        );
        println!("{copies} copies at once: {outcomes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn the_same_first_sign_in_four_times_at_once_makes_one_organisation() {
    let aws = Arc::new(LocalAws::connect().await);
    let pool = Arc::new(aws.create_pool("token-races").await);
    let sub = aws.admin_create_user(&pool, "ivan@example.com").await;
    aws.cognito
        .admin_set_user_password()
        .user_pool_id(&pool.id)
        .username("ivan@example.com")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");

    let mut sign_ins = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (aws, pool) = (Arc::clone(&aws), Arc::clone(&pool));
        sign_ins.spawn(async move {
            aws.id_token_claims(&pool, "ivan@example.com", PASSWORD)
                .await
        });
    }
    let tokens: Vec<_> = sign_ins.join_all().await;

    let org = text(&aws.claim(&sub).await.expect("a claim"), "orgId").to_owned();
    for claims in tokens {
        assert_eq!(
            claims["custom:org"],
            org.as_str(),
            "every token names the one organisation"
        );
    }
    assert_eq!(aws.items_of_user(&sub).await.len(), ITEMS_PER_USER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local stand-ins: run `make test`"]
async fn a_burst_of_sign_ups_against_a_throttling_user_pool_leaves_nobody_without_one() {
    let burst = Burst {
        users: 100,
        concurrency: 32,
        attribute_quota: 10,
    };

    let report = burst
        .run(Arc::new(LocalAws::connect().await), "burst")
        .await;

    println!(
        "{} users: {} organisations, {} duplicates, {} without; {} attribute updates throttled; outcomes {:?}",
        burst.users,
        report.organisations,
        report.duplicates,
        report.without,
        report.throttled,
        report.outcomes
    );
    assert_eq!(report.organisations, burst.users);
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.without, 0);
    assert!(
        report.throttled > 0,
        "the quota must have bitten for this to prove anything"
    );
}
