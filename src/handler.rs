//! One invocation: read the event, provision when it is a sign-up, log the outcome, and hand
//! the event back unchanged, as Cognito requires.

use crate::config::HANDLER_DEADLINE;
use crate::directory::UserDirectory;
use crate::event::{self, EventError, Trigger};
use crate::provision::{ProvisionError, provision};
use crate::store::OrgStore;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::{error, info, warn};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("malformed event, nothing written: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error("no answer within {} ms; a retry finishes the work", HANDLER_DEADLINE.as_millis())]
    Deadline,
}

/// Lambda reports `errorType` to Cognito's logs: one name per kind of failure.
impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Provision(_) => "ProvisioningFailed",
            HandlerError::Deadline => "DeadlineExceeded",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

pub async fn handle(
    event: LambdaEvent<Value>,
    store: &OrgStore,
    directory: &UserDirectory,
) -> Result<Value, HandlerError> {
    let payload = event.payload;
    let trigger = match event::parse(&payload, directory.org_attribute()) {
        Ok(trigger) => trigger,
        Err(err) => {
            error!(outcome = "rejected", error = %err, "malformed PostConfirmation event");
            return Err(err.into());
        }
    };
    let sign_up = match trigger {
        Trigger::ConfirmSignUp(sign_up) => sign_up,
        Trigger::Other(source) => {
            info!(outcome = "skipped", trigger_source = %source, "not a sign-up confirmation");
            return Ok(payload);
        }
    };

    let result = tokio::time::timeout(HANDLER_DEADLINE, provision(&sign_up, store, directory))
        .await
        .map_err(|_| HandlerError::Deadline)
        .and_then(|result| result.map_err(HandlerError::from));
    match result {
        Ok(provisioned) => {
            if let Some(supplied) = &provisioned.replaced {
                warn!(
                    security = true,
                    sub = %sign_up.sub,
                    supplied_org = %supplied,
                    org_id = %provisioned.org,
                    "the event carried an organisation this user does not own; replaced it"
                );
            }
            info!(
                outcome = provisioned.outcome.as_str(),
                sub = %sign_up.sub,
                org_id = %provisioned.org,
                "user provisioned"
            );
            Ok(payload)
        }
        Err(err) => {
            error!(outcome = "failed", sub = %sign_up.sub, error = %err, "provisioning failed");
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests;
