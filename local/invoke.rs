//! `make invoke`: sends each sample event in events/ to the function through the Lambda invoke
//! API, as Cognito would, after pointing it at a real user in the local pool (the files' ids are
//! placeholders), and prints what the function answered and what the user's custom:org became.

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use support::{Invoked, LocalAws};

#[tokio::main]
async fn main() {
    let aws = LocalAws::connect().await;
    let pool = aws.create_pool("invoke").await;
    // Signed up but not confirmed: the pool never invokes the trigger for this user itself.
    let sub = aws.sign_up(&pool, "alice@example.com", &[]).await;

    let mut files: Vec<_> = std::fs::read_dir("events")
        .expect("events/")
        .map(|entry| entry.expect("events/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut failed = false;
    for path in files {
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("reading an event"))
                .expect("events are JSON");
        event["userPoolId"] = pool.id.clone().into();
        event["userName"] = sub.clone().into();
        event["request"]["userAttributes"]["sub"] = sub.clone().into();

        let answer = aws.invoke(&event);
        let org = aws.org_of(&pool, &sub).await;
        println!("{}", path.display());
        match answer {
            Invoked::Answer(returned) if returned == event => {
                println!("  answer:     the event, unchanged")
            }
            Invoked::Answer(returned) => {
                let token = &returned["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"];
                let mut rest = returned.clone();
                rest["response"] = event["response"].clone();
                if rest == event && token["custom:org"].is_string() {
                    println!(
                        "  answer:     the event, the token to carry custom:org = {}",
                        token["custom:org"]
                    );
                } else {
                    failed = true;
                    println!("  answer:     a CHANGED event");
                }
            }
            Invoked::Error {
                error_type,
                message,
            } => {
                failed = true;
                println!("  answer:     error {error_type}: {message}")
            }
            Invoked::NoAnswer => {
                failed = true;
                println!("  answer:     none within Cognito's 5 s")
            }
        }
        println!("  custom:org: {}", org.as_deref().unwrap_or("(not set)"));
    }
    if failed {
        std::process::exit(1);
    }
}
