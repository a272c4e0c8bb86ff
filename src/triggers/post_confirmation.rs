//! PostConfirmation_ConfirmSignUp: give the user their one organisation, and never strand them.
//!
//! By the time this runs the user is confirmed, and an error answer is not retried by Cognito
//! (see `config::HANDLER_DEADLINE`). An error would only fail the caller's ConfirmSignUp call
//! while changing nothing else. So whatever happens, the answer is the event: when
//! provisioning cannot finish in its budget the outcome is logged as `deferred`, at error level
//! for the alarm, and the user's first token provisions them through the same code path.

use crate::config::HANDLER_DEADLINE;
use crate::domain::User;
use crate::outcome::{Outcome, Report, TriggerKind};
use crate::provision::Provisioner;
use crate::triggers::warn_foreign_org;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde_json::Value;
use tracing::{error, info};

pub async fn handle(payload: Value, user: &User, provisioner: &Provisioner) -> (Value, Report) {
    let result = tokio::time::timeout(HANDLER_DEADLINE, provisioner.provision(user)).await;
    let report = match result {
        Ok(Ok(provisioned)) => {
            let mut report = Report::new(TriggerKind::PostConfirmation, provisioned.outcome.into());
            if let Some(supplied) = &provisioned.supplied_org {
                warn_foreign_org(user, supplied, provisioned.org);
                report.foreign_org = true;
            }
            info!(
                outcome = report.outcome.as_str(),
                sub = %user.sub,
                org_id = %provisioned.org,
                "user provisioned"
            );
            report
        }
        Ok(Err(err)) => deferred(user, &DisplayErrorContext(&err).to_string()),
        Err(_) => deferred(user, &format!("no answer within {HANDLER_DEADLINE:?}")),
    };
    (payload, report)
}

fn deferred(user: &User, reason: &str) -> Report {
    let outcome = Outcome::Deferred;
    error!(
        outcome = outcome.as_str(),
        sub = %user.sub,
        error = reason,
        "provisioning deferred to the user's first token"
    );
    Report::new(TriggerKind::PostConfirmation, outcome)
}
