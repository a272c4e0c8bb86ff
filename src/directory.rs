//! The user pool: where the organisation id is set on the user.

use crate::org::OrgId;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{BuildError, DisplayErrorContext};
use aws_sdk_cognitoidentityprovider::types::AttributeType;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("setting {attribute} on the user failed: {message}")]
    Update { attribute: String, message: String },
    #[error("building the attribute update failed: {0}")]
    Build(#[from] BuildError),
}

pub struct UserDirectory {
    client: Client,
    org_attribute: String,
}

impl UserDirectory {
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
    /// what makes a retried invocation safe.
    pub async fn set_org(
        &self,
        user_pool_id: &str,
        user_name: &str,
        org: OrgId,
    ) -> Result<(), DirectoryError> {
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
            .map_err(|err| DirectoryError::Update {
                attribute: self.org_attribute.clone(),
                message: DisplayErrorContext(err).to_string(),
            })?;
        Ok(())
    }
}
