//! The one provisioning code path, shared by both triggers and the audit: find or create the
//! user's one organisation, then make the user pool say so.

use crate::config::Settings;
use crate::domain::{Memberships, OrgId, User, UserSub};
use crate::store::{NewOrg, OrgStore, Recorded, StoreError};
use crate::user_pool::{UserPool, UserPoolError};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new organisation was created for the user.
    Minted,
    /// The user already had an organisation (a retry, or a race lost to another attempt).
    Reused,
    /// The user already had an organisation and the attribute already names it.
    AlreadySet,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Provisioned {
    pub org: OrgId,
    pub outcome: Outcome,
    /// The organisation the attribute named, where it was not this user's own: replaced.
    pub supplied_org: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    UserPool(#[from] UserPoolError),
    #[error("the clock is out of range: {0}")]
    Clock(String),
}

/// The table and the user pool: built once per process and shared by every invocation. The
/// triggers ask it, not its adapters, what they need.
pub struct Provisioner {
    store: OrgStore,
    user_pool: UserPool,
}

impl Provisioner {
    /// The table and user pool named by the settings, reached with the SDK configuration given.
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Self {
        Self::from_parts(
            OrgStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table_name),
            UserPool::new(
                aws_sdk_cognitoidentityprovider::Client::new(sdk),
                settings.org_attribute,
            ),
        )
    }

    /// From adapters already built (tests give it mocked clients).
    pub fn from_parts(store: OrgStore, user_pool: UserPool) -> Self {
        Self { store, user_pool }
    }

    /// The organisation the table says the user has, if any (a consistent read).
    pub async fn claimed_org(&self, sub: UserSub) -> Result<Option<OrgId>, StoreError> {
        self.store.claimed_org(sub).await
    }

    /// What the user's partition says of their organisations (one consistent Query).
    pub async fn memberships(&self, sub: UserSub) -> Result<Memberships, StoreError> {
        self.store.memberships(sub).await
    }

    /// The user attribute that carries the organisation (`custom:org`).
    pub fn org_attribute(&self) -> &str {
        self.user_pool.org_attribute()
    }

    /// The adapters themselves, for the audit: an operator's tool that walks both.
    pub(crate) fn store(&self) -> &OrgStore {
        &self.store
    }

    pub(crate) fn user_pool(&self) -> &UserPool {
        &self.user_pool
    }

    /// For init: the table's connection opened, within `deadline`, so that the first sign-up
    /// does not pay for it. A failure costs nothing but the saving: the first call connects.
    pub async fn open_connections(&self, deadline: std::time::Duration) {
        match tokio::time::timeout(deadline, self.store.open_connection()).await {
            Ok(Ok(())) => tracing::debug!("table connection opened during init"),
            Ok(Err(err)) => {
                tracing::warn!(error = %DisplayErrorContext(&err), "could not open the table connection during init")
            }
            Err(_) => tracing::warn!("opening the table connection during init took too long"),
        }
    }

    /// The whole job: the claim's organisation (or a new one), and the attribute set to it.
    ///
    /// The transaction comes first, with no read before it: it records a new organisation, or
    /// its cancellation carries the claim that already exists (`ALL_OLD` on the claim's
    /// condition), so a sign-up costs two round trips (the transaction and the attribute
    /// update) and so does a retry. A read happens only when a transaction fails without
    /// saying whose the claim is (`OrgStore::record`).
    pub async fn provision(&self, user: &User) -> Result<Provisioned, ProvisionError> {
        let (org, outcome) = self.mint(user.sub).await?;
        // The attribute is compared, never believed: a client may have written it.
        let current = user.org_attribute.as_deref();
        if current == Some(org.to_string().as_str()) {
            return Ok(Provisioned {
                org,
                outcome: Outcome::AlreadySet,
                supplied_org: None,
            });
        }
        self.set_attribute(user, org).await?;
        Ok(Provisioned {
            org,
            outcome,
            supplied_org: current.map(str::to_owned),
        })
    }

    /// A new organisation for the user: `Minted`, or `Reused` when the user already has a
    /// claim (an earlier attempt, or another attempt that got there first).
    pub async fn mint(&self, owner: UserSub) -> Result<(OrgId, Outcome), ProvisionError> {
        let new = NewOrg {
            org: OrgId::mint(),
            creator: owner,
            created_at: now()?,
        };
        Ok(match self.store.record(&new).await? {
            Recorded::Created => (new.org, Outcome::Minted),
            Recorded::AlreadyClaimed(org) => (org, Outcome::Reused),
        })
    }

    pub async fn set_attribute(&self, user: &User, org: OrgId) -> Result<(), UserPoolError> {
        self.user_pool
            .set_org(&user.user_pool_id, &user.user_name, org)
            .await
    }
}

pub fn now() -> Result<String, ProvisionError> {
    DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .map_err(|err| ProvisionError::Clock(err.to_string()))
}
