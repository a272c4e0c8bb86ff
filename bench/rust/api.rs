//! `make bench`, part 2: the tenant API's handler, warm, against a bare `lambda_http` echo.
//! Sends the same REST API proxy event (GET /orgs/{org} by a real, provisioned user) straight
//! to the function's invoke API, WARM_UP times and then INVOCATIONS times one after another,
//! and reports the latency. `make bench` runs it twice, once with `tenant-api` as the API
//! function and once with `bench/rust/api_echo.rs` in its place, appending each run's figures to
//! $API_BENCH; the second run prints the handler's share over the echo. Local stand-ins: the
//! handler's two reads go to moto, so the share is mostly moto's.

#![allow(clippy::unwrap_used)] // a developer tool: a panic is its error report

#[path = "../../tests/support/mod.rs"]
mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::LocalAws;

const WARM_UP: usize = 20;
const INVOCATIONS: usize = 300;
const EVENT: &str = include_str!("../../events/api/get-organisation.json");

#[tokio::main]
async fn main() {
    let label = std::env::var("API_BENCH_LABEL").expect("API_BENCH_LABEL");
    let out = std::env::var("API_BENCH").expect("API_BENCH");
    let url = format!(
        "{}/2015-03-31/functions/_/invocations",
        std::env::var("LOCAL_API_LAMBDA_URL")
            .expect("LOCAL_API_LAMBDA_URL: run through make bench")
    );
    let aws = LocalAws::connect().await;
    let pool = aws.stack_pool();
    let email = format!("api-bench-{}@example.com", std::process::id());
    let sub = aws.sign_up_and_confirm(&pool, &email).await;
    let org = support::text(&aws.claim(&sub).await.expect("the user's claim"), "orgId").to_owned();

    let mut event: Value = serde_json::from_str(EVENT).expect("the sample API event");
    event["pathParameters"]["org"] = json!(org);
    event["path"] = json!(format!("/orgs/{org}"));
    let provider = event["requestContext"]["identity"]["cognitoAuthenticationProvider"]
        .as_str()
        .unwrap()
        .rsplit_once(":CognitoSignIn:")
        .unwrap()
        .0
        .to_owned();
    event["requestContext"]["identity"]["cognitoAuthenticationProvider"] =
        json!(format!("{provider}:CognitoSignIn:{sub}"));
    let body = event.to_string();

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let invoke = || {
        let started = Instant::now();
        let answer: Value = agent
            .post(&url)
            .send(&body)
            .expect("the invoke API answers")
            .body_mut()
            .read_json()
            .expect("a JSON answer");
        assert_eq!(answer["statusCode"], 200, "{answer}");
        started.elapsed()
    };
    for _ in 0..WARM_UP {
        invoke();
    }
    let mut times: Vec<Duration> = (0..INVOCATIONS).map(|_| invoke()).collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {INVOCATIONS} warm invocations: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(mean)
    );
    let line = json!({"label": label, "p50": ms(at(0.5)), "p99": ms(at(0.99)), "mean": ms(mean)});
    let mut runs: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    runs.push(line);
    std::fs::write(
        &out,
        runs.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .expect("writing API_BENCH");
    if let [handler, echo] = runs.as_slice() {
        let (h, e) = (
            handler["p50"].as_f64().unwrap(),
            echo["p50"].as_f64().unwrap(),
        );
        println!(
            "the handler's share over a bare lambda_http echo, p50: {:.2} ms of {:.2} ms ({:.0} %): its claim read and organisation read, against moto",
            h - e,
            h,
            100.0 * (h - e) / h
        );
    }
}
