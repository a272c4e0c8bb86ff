//! One invocation: check the event, dispatch on its trigger source, answer Cognito, and print
//! the invocation's metrics line ([`crate::metrics`]).
//!
//! | trigger source                   | module              |
//! |----------------------------------|---------------------|
//! | `PostConfirmation_ConfirmSignUp` | [`post_confirmation`] |
//! | `TokenGeneration_*`              | [`pre_token`]       |
//! | anything else                    | returned unchanged  |

pub mod post_confirmation;
pub mod pre_token;

use crate::domain::{OrgId, User};
use crate::event::{self, EventError, Trigger};
use crate::metrics::Metrics;
use crate::outcome::{Outcome, Report, TriggerKind};
use crate::provision::Provisioner;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;
use tracing::{error, info, warn};

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("malformed event, nothing written: {0}")]
    Malformed(#[from] EventError),
    /// Pre token generation only: no organisation could be established or confirmed for a
    /// user who has none on record, so no token may be issued.
    #[error("no organisation could be established for the user in time")]
    NoOrganisation,
}

/// What Lambda reports, and what Cognito shows the caller ("<trigger> failed with error
/// <message>"): a type per kind of failure and a short, generic message. The detail (field
/// names, SDK errors, ids) goes to the log only.
impl From<TriggerError> for Diagnostic {
    fn from(err: TriggerError) -> Self {
        let (error_type, message) = match err {
            TriggerError::Malformed(_) => ("MalformedEvent", "The request could not be processed."),
            TriggerError::NoOrganisation => (
                "OrganisationUnavailable",
                "Sign-in is temporarily unavailable. Please try again.",
            ),
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: message.to_owned(),
        }
    }
}

/// The Lambda handler: the answer for Cognito, then one metrics line.
pub async fn handle(
    event: LambdaEvent<Value>,
    provisioner: &Provisioner,
    metrics: &Metrics,
) -> Result<Value, TriggerError> {
    let started = Instant::now();
    let (answer, report) = dispatch(event.payload, provisioner).await;
    metrics.publish(&report, &event.context.request_id, started.elapsed());
    answer
}

/// The answer for Cognito, and what the invocation did.
pub async fn dispatch(
    payload: Value,
    provisioner: &Provisioner,
) -> (Result<Value, TriggerError>, Report) {
    let org_attribute = provisioner.org_attribute();
    match event::parse(&payload, org_attribute) {
        Ok(Trigger::ConfirmSignUp(user)) => {
            let (answer, report) = post_confirmation::handle(payload, &user, provisioner).await;
            (Ok(answer), report)
        }
        Ok(Trigger::TokenGeneration(user)) => pre_token::handle(payload, &user, provisioner).await,
        Ok(Trigger::Other(source)) => {
            let outcome = Outcome::Skipped;
            info!(outcome = outcome.as_str(), trigger_source = %source, "nothing to do for this trigger source");
            (Ok(payload), Report::new(TriggerKind::Other, outcome))
        }
        Err(malformed) => {
            let outcome = Outcome::Rejected;
            error!(outcome = outcome.as_str(), error = %malformed, "malformed event");
            (
                Err(malformed.error.into()),
                Report::new(malformed.trigger, outcome),
            )
        }
    }
}

/// The security warning both triggers give when a user's attribute names an organisation the
/// table does not give them: one shape, so that one alert catches it wherever it happens.
fn warn_foreign_org(user: &User, supplied: &str, org: OrgId) {
    warn!(
        security = true,
        sub = %user.sub,
        supplied_org = %supplied,
        org_id = %org,
        "the user's attribute named an organisation they do not own; replaced by their own"
    );
}

#[cfg(test)]
mod tests;
