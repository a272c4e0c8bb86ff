//! `tenantctl audit`: finds every user whose organisation is missing or wrong, and with
//! `--fix` repairs them through the triggers' own code path. See `provision_tenant::audit`.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use provision_tenant::audit::{Audit, CallsPerSecond, Observer, Options, Progress};
use provision_tenant::config::{self, Settings};
use provision_tenant::provision::Provisioner;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

/// The operator's command for the tenant table and the user pool.
#[derive(Parser)]
#[command(name = "tenantctl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walks the user pool and the tenant table (TABLE_NAME, default `tenants`) and reports
    /// users with no organisation, an attribute that disagrees with the claim, claims whose
    /// organisation or membership is missing, and organisations with no owner. Dry run unless
    /// --fix.
    #[command(
        after_help = "Exit status: 0 nothing left to repair, 1 findings remain, 2 error, 3 stopped early."
    )]
    Audit(AuditArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// The user pool to walk.
    #[arg(long, value_name = "ID")]
    user_pool_id: String,
    /// Repair what can be repaired, through the triggers' own code path (each attribute
    /// written counts that user as a monthly active user).
    #[arg(long)]
    fix: bool,
    /// Record progress in FILE and resume from it if it exists.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Write the JSON report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// ListUsers calls a second (Cognito's quota is 30).
    #[arg(long, value_name = "N", default_value = "6")]
    list_rate: CallsPerSecond,
    /// Attribute updates a second (Cognito's quota is 25).
    #[arg(long, value_name = "N", default_value = "5")]
    update_rate: CallsPerSecond,
    /// Stop after N users, as an interruption would.
    #[arg(long, value_name = "N")]
    stop_after: Option<NonZeroUsize>,
}

/// A progress bar on standard error (hidden when that is not a terminal).
struct Bar(ProgressBar);

impl Observer for Bar {
    fn user_done(&self, progress: &Progress) {
        self.0.set_position(progress.users_seen as u64);
        self.0
            .set_message(format!("{} findings", progress.records.len()));
    }
    fn phase(&self, name: &str) {
        self.0.set_prefix(name.to_owned());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Logs (repairs that fail) go to standard error: standard output is the JSON report.
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let Command::Audit(args) = Cli::parse().command;
    let options = Options {
        user_pool_id: args.user_pool_id,
        fix: args.fix,
        list_rate: args.list_rate,
        update_rate: args.update_rate,
        checkpoint: args.checkpoint,
        stop_after: args.stop_after,
    };
    let settings = Settings::from_env();
    let sdk = aws_config::from_env()
        .retry_config(config::retries())
        .load()
        .await;
    let provisioner = Provisioner::new(&sdk, settings);
    let fix = options.fix;
    let bar = Bar(ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{prefix:>13} {spinner} {pos} users  {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    ));
    let mut audit = Audit::new(&provisioner, options);
    let result = audit.run(&bar).await;
    bar.0.finish_and_clear();
    let progress = match result {
        Ok(progress) => progress,
        Err(err) => {
            // The whole chain: what failed, and the service's own words.
            eprintln!("tenantctl: {}", DisplayErrorContext(&err));
            return ExitCode::from(2);
        }
    };

    let report = progress.report();
    match &args.report {
        Some(path) => {
            if let Err(err) = std::fs::write(path, report + "\n") {
                eprintln!("tenantctl: writing {}: {err}", path.display());
                return ExitCode::from(2);
            }
        }
        None => println!("{report}"),
    }
    summarise(&progress, fix)
}

/// The readable summary, on standard error; the exit status says what is left to do.
fn summarise(progress: &Progress, fix: bool) -> ExitCode {
    let counts = progress.counts();
    eprintln!(
        "{} users checked{}{}",
        progress.users_seen,
        if progress.users_complete {
            ""
        } else {
            " (stopped early: run again with the same --checkpoint to resume)"
        },
        if fix {
            ", repairs applied"
        } else {
            ", dry run"
        },
    );
    let mut left = 0;
    for (finding, (found, repaired)) in &counts {
        let note = if !finding.repairable() {
            "  (needs a person)"
        } else if fix {
            ""
        } else {
            "  (--fix repairs these)"
        };
        eprintln!(
            "  {:<28} {found:>6} found {repaired:>6} repaired{note}",
            finding.as_str()
        );
        left += found - repaired;
    }
    if counts.is_empty() {
        eprintln!("  nothing to report: every user has exactly their own organisation");
    }
    if !progress.users_complete {
        ExitCode::from(3)
    } else if left > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
