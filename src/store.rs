//! The organisation records in the tenant table.
//!
//! One sign-up writes three items in one transaction, each only if it does not exist yet:
//!
//! | item         | PK              | SK              | readable by the tenant |
//! |--------------|-----------------|-----------------|------------------------|
//! | organisation | `ORG#<org>`     | `ORG`           | yes                    |
//! | membership   | `ORG#<org>`     | `MEMBER#<sub>`  | yes                    |
//! | claim        | `USER#<sub>`    | `ORG_CLAIM`     | no (outside `ORG#`)    |
//!
//! The claim is the idempotency record: whoever writes it first owns the user's one
//! organisation, and every later attempt finds it and reuses that organisation.

use crate::org::{OrgId, UserSub};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::HashMap;

pub const PARTITION_KEY: &str = "PK";
pub const SORT_KEY: &str = "SK";
pub const ORG_SORT_KEY: &str = "ORG";
pub const CLAIM_SORT_KEY: &str = "ORG_CLAIM";
const ORG_ID: &str = "orgId";
/// Position of the claim in the transaction, for reading its cancellation reason.
const CLAIM_POSITION: usize = 2;

pub fn org_partition(org: OrgId) -> String {
    format!("ORG#{org}")
}

pub fn member_sort_key(sub: UserSub) -> String {
    format!("MEMBER#{sub}")
}

pub fn claim_partition(sub: UserSub) -> String {
    format!("USER#{sub}")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading the user's claim failed: {0}")]
    ReadClaim(String),
    #[error("the organisation transaction failed: {0}")]
    Transaction(String),
    #[error("the organisation transaction was cancelled (reasons: {0})")]
    Cancelled(String),
    #[error("the claim of user {0} holds no valid organisation id")]
    CorruptClaim(UserSub),
    #[error("building the transaction failed: {0}")]
    Build(#[from] BuildError),
}

/// A new organisation, as the store records it.
#[derive(Debug)]
pub struct NewOrg {
    pub org: OrgId,
    pub owner: UserSub,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    Created,
    /// Another attempt for the same user got there first: this is its organisation.
    AlreadyClaimed(OrgId),
}

pub struct OrgStore {
    client: Client,
    table: String,
}

impl OrgStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The organisation this user was given, if any. A strongly consistent read, so a
    /// retry right after a successful transaction sees it.
    pub async fn claimed_org(&self, sub: UserSub) -> Result<Option<OrgId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, text(claim_partition(sub)))
            .key(SORT_KEY, text(CLAIM_SORT_KEY))
            .consistent_read(true)
            .projection_expression(ORG_ID)
            .send()
            .await
            .map_err(|err| StoreError::ReadClaim(DisplayErrorContext(err).to_string()))?;
        output.item().map(|item| org_in(item, sub)).transpose()
    }

    /// Writes the organisation, its owner's membership and the owner's claim, all or none.
    pub async fn record(&self, new: &NewOrg) -> Result<Recorded, StoreError> {
        let org_partition = org_partition(new.org);
        let owner = new.owner.to_string();
        let member = member_sort_key(new.owner);
        let organisation = Item::new(&org_partition, ORG_SORT_KEY, "organisation", new)
            .with("createdBy", text(&owner));
        let membership = Item::new(&org_partition, &member, "membership", new)
            .with("sub", text(&owner))
            .with("role", text("owner"));
        let claim = Item::new(&claim_partition(new.owner), CLAIM_SORT_KEY, "claim", new)
            .with("sub", text(owner));
        let items = vec![
            self.put_new(organisation, None)?,
            self.put_new(membership, None)?,
            self.put_new(claim, Some(ReturnValuesOnConditionCheckFailure::AllOld))?,
        ];

        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Recorded::Created),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(StoreError::Transaction(
                DisplayErrorContext(err).to_string(),
            ));
        };
        let reasons = cancelled.cancellation_reasons();
        match reasons.get(CLAIM_POSITION) {
            Some(claim) if claim.code() == Some("ConditionalCheckFailed") => match claim.item() {
                Some(item) => Ok(Recorded::AlreadyClaimed(org_in(item, new.owner)?)),
                // Not every implementation returns the old item: read it instead.
                None => match self.claimed_org(new.owner).await? {
                    Some(org) => Ok(Recorded::AlreadyClaimed(org)),
                    None => Err(StoreError::Cancelled(codes(reasons))),
                },
            },
            _ => Err(StoreError::Cancelled(codes(reasons))),
        }
    }

    /// A put that never replaces an existing item.
    fn put_new(
        &self,
        item: Item,
        on_conflict: Option<ReturnValuesOnConditionCheckFailure>,
    ) -> Result<TransactWriteItem, BuildError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.0))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .set_return_values_on_condition_check_failure(on_conflict)
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

struct Item(HashMap<String, AttributeValue>);

impl Item {
    /// What every item of a new organisation carries.
    fn new(partition: &str, sort: &str, kind: &str, new: &NewOrg) -> Self {
        Self(HashMap::from([
            (PARTITION_KEY.to_owned(), text(partition)),
            (SORT_KEY.to_owned(), text(sort)),
            ("kind".to_owned(), text(kind)),
            (ORG_ID.to_owned(), text(new.org.to_string())),
            ("createdAt".to_owned(), text(&new.created_at)),
        ]))
    }

    fn with(mut self, name: &str, value: AttributeValue) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn org_in(item: &HashMap<String, AttributeValue>, sub: UserSub) -> Result<OrgId, StoreError> {
    item.get(ORG_ID)
        .and_then(|value| value.as_s().ok())
        .and_then(|value| OrgId::parse(value))
        .ok_or(StoreError::CorruptClaim(sub))
}

fn codes(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(|reason| reason.code().unwrap_or("unknown"))
        .collect::<Vec<_>>()
        .join(", ")
}
