//! `make demo`: two people sign up and confirm through the local user pool, and an administrator
//! creates a third, whom PostConfirmation never sees; each gets an organisation of their own
//! (the third at her first sign-in). Prints what Cognito, the table, the ID tokens and the
//! function's log say; then, live, what the tenant role lets each of them read through the
//! local identity pool and IAM gateway, and a screenshot of the web app
//! (tests/web/demo.mjs). Run through local/aws.sh, which starts the servers.

#[path = "../tests/support/mod.rs"]
mod support;

use support::{LocalAws, PASSWORD, text};

const PEOPLE: [&str; 2] = ["alice@example.com", "bob@example.com"];
const ADMIN_CREATED: &str = "carol@example.com";

#[tokio::main]
async fn main() {
    let aws = LocalAws::connect().await;
    let pool = aws.stack_pool();
    println!("User pool {} (app client {})\n", pool.id, pool.client_id);

    let mut users = Vec::new();
    for email in PEOPLE {
        println!("{email}: SignUp, then ConfirmSignUp with the emailed code");
        let sub = aws.sign_up_and_confirm(&pool, email).await;
        users.push((email, sub));
    }
    println!("{ADMIN_CREATED}: created by an administrator (AdminCreateUser): no PostConfirmation");
    let carol = aws.admin_create_user(&pool, ADMIN_CREATED).await;
    let first = aws
        .first_sign_in(&pool, ADMIN_CREATED)
        .await
        .expect("the first sign-in succeeds");
    println!(
        "  her first sign-in: the token trigger found no organisation, made one, and the token carries {}",
        first["custom:org"]
    );
    users.push((ADMIN_CREATED, carol));

    println!("\nWhat Cognito says (AdminGetUser) and what each ID token carries:");
    println!(
        "  {:<20} {:<38} {:<38} custom:org (ID token)",
        "user", "sub", "custom:org (Cognito)"
    );
    let (mut orgs, mut tokens) = (Vec::new(), Vec::new());
    for (email, sub) in &users {
        let org = aws
            .org_of(&pool, sub)
            .await
            .unwrap_or_else(|| "(none)".into());
        let claims = aws.id_token_claims(&pool, email, PASSWORD).await;
        let in_token = claims["custom:org"].as_str().unwrap_or("(none)");
        println!("  {email:<20} {sub:<38} {org:<38} {in_token}");
        orgs.push(org);
        tokens.push(in_token.to_owned());
    }

    println!("\nWhat the table holds:");
    println!("  {:<44} {:<46} kind", "PK", "SK");
    for org in &orgs {
        for item in aws.org_partition(org).await {
            println!(
                "  {:<44} {:<46} {}",
                text(&item, "PK"),
                text(&item, "SK"),
                text(&item, "kind")
            );
        }
    }
    for (_, sub) in &users {
        if let Some(item) = aws.claim(sub).await {
            println!(
                "  {:<44} {:<46} {} -> {}",
                text(&item, "PK"),
                text(&item, "SK"),
                text(&item, "kind"),
                text(&item, "orgId")
            );
        }
    }

    println!("\nWhat the function logged (structured JSON, one line per invocation):");
    for line in aws.function_log() {
        if line["fields"]["sub"].is_string() {
            println!("  {}", line["fields"]);
        }
    }

    println!(
        "\nWhat the tenant role lets each of them do, asked for real: a signed request through"
    );
    println!("the local IAM gateway with the credentials the identity pool gave for their own ID");
    println!(
        "token (live), and what the IAM policy simulator says of template.yaml's policy offline:"
    );
    let screenshot =
        std::env::var("DEMO_SCREENSHOT").expect("DEMO_SCREENSHOT (the Makefile sets it)");
    let explained = std::process::Command::new("node")
        .arg("tests/web/demo.mjs")
        .arg(&screenshot)
        .args(users.iter().map(|(email, _)| *email))
        .status()
        .expect("running node tests/web/demo.mjs");

    let distinct = orgs.iter().collect::<std::collections::HashSet<_>>().len() == orgs.len()
        && tokens == orgs
        && !orgs.iter().any(|org| org == "(none)");
    println!(
        "\n{}",
        if distinct {
            "Each user has an organisation of their own."
        } else {
            "Something went wrong: the users' organisations are not distinct, or a token disagrees."
        }
    );
    if !distinct || !explained.success() {
        std::process::exit(1);
    }
}
