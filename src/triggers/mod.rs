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

use crate::event::{self, EventError, Trigger, User};
use crate::ids::OrgId;
use crate::metrics::Metrics;
use crate::provision::{self, Provisioner};
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

/// How one invocation ended: the `outcome` field of its log line, and a metric of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new organisation was recorded for the user.
    Minted,
    /// The user's recorded organisation was found and the attribute set to it.
    Reused,
    /// The attribute already named the recorded organisation: nothing written.
    AlreadySet,
    /// PostConfirmation could not finish in time; the first token provisions the user.
    Deferred,
    /// The token carries the recorded organisation, which the attribute already named.
    Verified,
    /// The token carries the recorded organisation; the attribute was missing or differed.
    Repaired,
    /// No organisation could be confirmed or recorded: no token.
    Refused,
    /// The event was malformed: nothing written.
    Rejected,
    /// A trigger source with nothing to do (a password reset, say).
    Skipped,
}

impl Outcome {
    pub const ALL: [Self; 9] = [
        Self::Minted,
        Self::Reused,
        Self::AlreadySet,
        Self::Deferred,
        Self::Verified,
        Self::Repaired,
        Self::Refused,
        Self::Rejected,
        Self::Skipped,
    ];

    /// As the log's `outcome` field says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minted => "minted",
            Self::Reused => "reused",
            Self::AlreadySet => "already_set",
            Self::Deferred => "deferred",
            Self::Verified => "verified",
            Self::Repaired => "repaired",
            Self::Refused => "refused",
            Self::Rejected => "rejected",
            Self::Skipped => "skipped",
        }
    }

    /// The CloudWatch metric that counts it.
    pub fn metric_name(self) -> &'static str {
        match self {
            Self::Minted => "Minted",
            Self::Reused => "Reused",
            Self::AlreadySet => "AlreadySet",
            Self::Deferred => "Deferred",
            Self::Verified => "Verified",
            Self::Repaired => "Repaired",
            Self::Refused => "Refused",
            Self::Rejected => "Rejected",
            Self::Skipped => "Skipped",
        }
    }
}

impl From<provision::Outcome> for Outcome {
    fn from(outcome: provision::Outcome) -> Self {
        match outcome {
            provision::Outcome::Minted => Self::Minted,
            provision::Outcome::Reused => Self::Reused,
            provision::Outcome::AlreadySet => Self::AlreadySet,
        }
    }
}

/// Which trigger an invocation was, as far as the event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerKind {
    PostConfirmation,
    TokenGeneration,
    /// Another source, or an event too malformed to tell.
    Other,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostConfirmation => "PostConfirmation",
            Self::TokenGeneration => "TokenGeneration",
            Self::Other => "Other",
        }
    }

    /// The trigger a (possibly malformed) event claims to be.
    fn of(payload: &Value) -> Self {
        match payload.get("triggerSource").and_then(Value::as_str) {
            Some(source) if source.starts_with(event::POST_CONFIRMATION) => Self::PostConfirmation,
            Some(source) if source.starts_with(event::TOKEN_GENERATION) => Self::TokenGeneration,
            _ => Self::Other,
        }
    }
}

/// What one invocation did, for its metrics line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub trigger: TriggerKind,
    pub outcome: Outcome,
    /// The security warning was given: the attribute named an organisation not the user's.
    pub foreign_org: bool,
}

impl Report {
    pub fn new(trigger: TriggerKind, outcome: Outcome) -> Self {
        Self {
            trigger,
            outcome,
            foreign_org: false,
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
    let org_attribute = provisioner.user_pool.org_attribute();
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
        Err(err) => {
            let outcome = Outcome::Rejected;
            error!(outcome = outcome.as_str(), error = %err, "malformed event");
            (
                Err(err.into()),
                Report::new(TriggerKind::of(&payload), outcome),
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
