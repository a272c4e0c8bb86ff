//! `tenantctl audit`: finds every user whose organisation is missing or wrong, and with
//! `--fix` repairs them through the triggers' own code path. See `provision_tenant::audit`.

use indicatif::{ProgressBar, ProgressStyle};
use provision_tenant::audit::{Audit, Observer, Options, Progress};
use provision_tenant::config::{self, Settings};
use provision_tenant::provision::Provisioner;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: tenantctl audit --user-pool-id ID [--fix] [--checkpoint FILE] [--report FILE]
                       [--list-rate N] [--update-rate N] [--stop-after N]

Walks the user pool and the tenant table (TABLE_NAME, default `tenants`) and reports users
with no organisation, an attribute that disagrees with the claim, claims whose organisation
or membership is missing, and organisations with no owner. Dry run unless --fix.

  --fix              repair what can be repaired, through the triggers' own code path
  --checkpoint FILE  record progress in FILE and resume from it if it exists
  --report FILE      write the JSON report to FILE instead of standard output
  --list-rate N      ListUsers calls a second (default 6; Cognito's quota is 30)
  --update-rate N    attribute updates a second (default 5; Cognito's quota is 25)
  --stop-after N     stop after N users, as an interruption would

Exit status: 0 nothing left to repair, 1 findings remain, 2 error, 3 stopped early.";

struct Args {
    options: Options,
    report: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    if args.next().as_deref() != Some("audit") {
        return Err("the one command is `audit`".into());
    }
    let mut options = Options {
        user_pool_id: String::new(),
        fix: false,
        list_rate: 6.0,
        update_rate: 5.0,
        checkpoint: None,
        stop_after: None,
    };
    let mut report = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--user-pool-id" => options.user_pool_id = value()?,
            "--fix" => options.fix = true,
            "--checkpoint" => options.checkpoint = Some(value()?.into()),
            "--report" => report = Some(value()?.into()),
            "--list-rate" => options.list_rate = number(&flag, &value()?)?,
            "--update-rate" => options.update_rate = number(&flag, &value()?)?,
            "--stop-after" => options.stop_after = Some(number(&flag, &value()?)?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.user_pool_id.is_empty() {
        return Err("--user-pool-id is required".into());
    }
    Ok(Args { options, report })
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag} takes a positive number"))
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
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("tenantctl: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings::from_env();
    let sdk = aws_config::from_env()
        .retry_config(config::retries())
        .load()
        .await;
    let provisioner = Provisioner::new(&sdk, settings);
    let fix = args.options.fix;
    let bar = Bar(ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{prefix:>13} {spinner} {pos} users  {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    ));
    let mut audit = Audit::new(&provisioner, args.options);
    let result = audit.run(&bar).await;
    bar.0.finish_and_clear();
    let progress = match result {
        Ok(progress) => progress,
        Err(err) => {
            eprintln!("tenantctl: {err}");
            return ExitCode::from(2);
        }
    };

    let report = progress.to_json().to_string();
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
