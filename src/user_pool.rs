//! The user pool: where the organisation id is set on the user, and where the audit lists users.

use crate::domain::{OrgId, UserSub};
use crate::store::SdkFailure;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::BuildError;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserType};

#[derive(Debug, thiserror::Error)]
pub enum UserPoolError {
    #[error("setting {attribute} on the user failed")]
    Update {
        attribute: String,
        #[source]
        source: SdkFailure,
    },
    #[error("listing users failed")]
    List(#[source] SdkFailure),
    #[error("building the attribute update failed: {0}")]
    Build(#[from] BuildError),
}

pub struct UserPool {
    client: Client,
    org_attribute: String,
}

/// One user as ListUsers reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    pub user_name: String,
    /// None when the pool reports no `sub` or one that is not a UUID.
    pub sub: Option<UserSub>,
    pub org_attribute: Option<String>,
}

/// A page of ListUsers, and the token for the next one.
pub struct UserPage {
    pub users: Vec<ListedUser>,
    pub next: Option<String>,
}

impl UserPool {
    pub fn new(client: Client, org_attribute: impl Into<String>) -> Self {
        Self {
            client,
            org_attribute: org_attribute.into(),
        }
    }

    /// The attribute's full name, e.g. `custom:org`.
    pub fn org_attribute(&self) -> &str {
        &self.org_attribute
    }

    /// Sets the organisation attribute. Setting the same value again is harmless, which is
    /// what makes every repeat (a retry, a token-time repair, the audit) safe.
    pub async fn set_org(
        &self,
        user_pool_id: &str,
        user_name: &str,
        org: OrgId,
    ) -> Result<(), UserPoolError> {
        let attribute = AttributeType::builder()
            .name(&self.org_attribute)
            .value(org.to_string())
            .build()?;
        self.client
            .admin_update_user_attributes()
            .user_pool_id(user_pool_id)
            .username(user_name)
            .user_attributes(attribute)
            .send()
            .await
            .map_err(|err| UserPoolError::Update {
                attribute: self.org_attribute.clone(),
                source: err.into(),
            })?;
        Ok(())
    }

    /// One page of the pool's users (at most 60, ListUsers' own limit).
    pub async fn list_users(
        &self,
        user_pool_id: &str,
        token: Option<String>,
    ) -> Result<UserPage, UserPoolError> {
        let output = self
            .client
            .list_users()
            .user_pool_id(user_pool_id)
            .limit(60)
            .set_pagination_token(token)
            .send()
            .await
            .map_err(|err| UserPoolError::List(err.into()))?;
        let users = output
            .users()
            .iter()
            .filter_map(|user| self.listed(user))
            .collect();
        Ok(UserPage {
            users,
            next: output.pagination_token().map(str::to_owned),
        })
    }

    /// The user's e-mail, only if the pool has verified it: what an invitation is bound to.
    /// ListUsers filtered on `sub` (a filterable attribute: ListUsers API reference), since the
    /// API knows the caller by sub alone. A user with no verified e-mail has none here.
    pub async fn verified_email(
        &self,
        user_pool_id: &str,
        sub: UserSub,
    ) -> Result<Option<String>, UserPoolError> {
        let output = self
            .client
            .list_users()
            .user_pool_id(user_pool_id)
            .filter(format!("sub = \"{sub}\""))
            .limit(2)
            .send()
            .await
            .map_err(|err| UserPoolError::List(err.into()))?;
        let [user] = output.users() else {
            return Ok(None);
        };
        let attribute = |name: &str| {
            user.attributes()
                .iter()
                .find(|attribute| attribute.name() == name)
                .and_then(|attribute| attribute.value())
        };
        if attribute("sub") != Some(sub.to_string().as_str())
            || attribute("email_verified") != Some("true")
        {
            return Ok(None);
        }
        Ok(attribute("email").map(str::to_owned))
    }

    fn listed(&self, user: &UserType) -> Option<ListedUser> {
        let attribute = |name: &str| {
            user.attributes()
                .iter()
                .find(|attribute| attribute.name() == name)
                .and_then(|attribute| attribute.value())
                .map(str::to_owned)
        };
        Some(ListedUser {
            user_name: user.username()?.to_owned(),
            sub: attribute("sub").and_then(|sub| UserSub::parse(&sub)),
            org_attribute: attribute(&self.org_attribute),
        })
    }
}
