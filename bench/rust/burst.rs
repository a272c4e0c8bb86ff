//! `make bench`, on the local stack (the release bootstrap behind `cargo lambda watch`, moto,
//! cognito-local). Local stand-ins, not AWS: use it to compare changes, and to see the margin
//! to Cognito's 5 s.
//! 1. Latency: sign-ups one after another. SignUp does not invoke the trigger, so its latency
//!    is the stand-ins' own baseline; ConfirmSignUp waits for PostConfirmation; a sign-in waits
//!    for pre token generation (one read for a provisioned user).
//! 2. Burst: BURST_USERS (default 1,000) confirmations at concurrency 32 while the user pool
//!    throttles attribute updates past 25 a second (Cognito's default UserUpdate quota), then
//!    every user's first sign-in; then the table is checked user by user.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::burst::{Burst, Timings};
use support::{LocalAws, PASSWORD};

const SEQUENTIAL_USERS: usize = 40;

#[tokio::main]
async fn main() {
    let aws = Arc::new(LocalAws::connect().await);
    sequential(&aws).await;

    let users = std::env::var("BURST_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let burst = Burst {
        users,
        concurrency: 32,
        attribute_quota: 25,
    };
    println!(
        "\nBurst: {users} users, concurrency {}, attribute updates throttled past {} a second",
        burst.concurrency, burst.attribute_quota
    );
    let report = burst.run(Arc::clone(&aws), "bench-burst").await;
    timings("ConfirmSignUp (PostConfirmation)", &report.confirm);
    timings("first sign-in (pre token generation)", &report.sign_in);
    println!("  attribute updates throttled: {}", report.throttled);
    println!(
        "  sign-ins refused and retried: {}",
        report.sign_ins_retried
    );
    println!("  outcomes logged: {:?}", report.outcomes);
    println!(
        "  after every first sign-in: {} organisations, {} duplicates, {} users without one",
        report.organisations, report.duplicates, report.without
    );
    if report.organisations != users || report.duplicates != 0 || report.without != 0 {
        std::process::exit(1);
    }
}

async fn sequential(aws: &LocalAws) {
    let pool = aws.create_pool("bench").await;
    let (mut sign_up, mut confirm, mut sign_in) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..SEQUENTIAL_USERS {
        let email = format!("user{n}@example.com");
        let start = Instant::now();
        let sub = aws.sign_up(&pool, &email, &[]).await;
        sign_up.push(start.elapsed());
        let start = Instant::now();
        aws.confirm(&pool, &email).await;
        confirm.push(start.elapsed());
        let start = Instant::now();
        aws.id_token_claims(&pool, &email, PASSWORD).await;
        sign_in.push(start.elapsed());
        assert!(
            aws.org_of(&pool, &sub).await.is_some(),
            "{email} was not provisioned"
        );
    }
    println!("Latency: {SEQUENTIAL_USERS} users, one after another; every one provisioned");
    let report = |what, samples: Vec<Duration>| {
        timings(
            what,
            &Timings {
                elapsed: samples.iter().sum(),
                samples,
            },
        )
    };
    report("SignUp (no trigger)", sign_up);
    report("ConfirmSignUp (PostConfirmation)", confirm);
    report("sign-in (pre token generation)", sign_in);
}

fn timings(what: &str, timings: &Timings) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {what:<38} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   {:>6.1} a second",
        ms(timings.quantile(0.5)),
        ms(timings.quantile(0.99)),
        ms(timings.quantile(1.0)),
        timings.per_second(),
    );
}
