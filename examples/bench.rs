//! `make bench`: how long a sign-up confirmation takes through the local stack, where
//! cognito-local waits for this function (the release bootstrap, behind `cargo lambda watch`).
//! SignUp does not invoke the trigger, so its latency is the stand-ins' own baseline.
//! Local stand-ins, not AWS: use it to compare changes, and to see the margin to Cognito's 5 s.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::LocalAws;

const USERS: usize = 40;

#[tokio::main]
async fn main() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("bench").await;
    let (mut sign_up, mut confirm) = (Vec::new(), Vec::new());
    for n in 0..USERS {
        let email = format!("user{n}@example.com");
        let start = Instant::now();
        let sub = aws.sign_up(&pool, &email, &[]).await;
        sign_up.push(start.elapsed());
        let start = Instant::now();
        aws.confirm(&pool, &email).await;
        confirm.push(start.elapsed());
        assert!(
            aws.org_of(&pool, &sub).await.is_some(),
            "{email} was not provisioned"
        );
    }
    println!("{USERS} users, one after another; every one provisioned");
    report("SignUp (no trigger)", sign_up);
    report("ConfirmSignUp (runs the trigger)", confirm);
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<34} p50 {:>6.1} ms   p90 {:>6.1} ms   max {:>6.1} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}
