//! What a confirmed sign-up does: find or create the user's one organisation, then make the
//! user pool say so.

use crate::directory::{DirectoryError, UserDirectory};
use crate::event::SignUp;
use crate::org::OrgId;
use crate::store::{NewOrg, OrgStore, Recorded, StoreError};
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new organisation was created and set on the user.
    Minted,
    /// The user already had an organisation (a retry): it was set on the user again.
    Reused,
    /// The user already had an organisation and the event shows it set: nothing to do.
    AlreadySet,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minted => "minted",
            Self::Reused => "reused",
            Self::AlreadySet => "already_set",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Provisioned {
    pub org: OrgId,
    pub outcome: Outcome,
    /// The event carried an organisation id that is not this user's own.
    pub replaced: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("the clock is out of range: {0}")]
    Clock(String),
}

pub async fn provision(
    sign_up: &SignUp,
    store: &OrgStore,
    directory: &UserDirectory,
) -> Result<Provisioned, ProvisionError> {
    let (org, outcome) = match store.claimed_org(sign_up.sub).await? {
        Some(org) => (org, Outcome::Reused),
        None => {
            let new = NewOrg {
                org: OrgId::mint(),
                owner: sign_up.sub,
                created_at: now()?,
            };
            match store.record(&new).await? {
                Recorded::Created => (new.org, Outcome::Minted),
                Recorded::AlreadyClaimed(org) => (org, Outcome::Reused),
            }
        }
    };

    // The event's attribute is compared, never believed: a client may have written it.
    let current = sign_up.org_attribute.as_deref();
    if current == Some(org.to_string().as_str()) {
        return Ok(Provisioned {
            org,
            outcome: Outcome::AlreadySet,
            replaced: None,
        });
    }
    directory
        .set_org(&sign_up.user_pool_id, &sign_up.user_name, org)
        .await?;
    Ok(Provisioned {
        org,
        outcome,
        replaced: current.map(str::to_owned),
    })
}

fn now() -> Result<String, ProvisionError> {
    DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .map_err(|err| ProvisionError::Clock(err.to_string()))
}
