//! The organisation records in the tenant table.
//!
//! One sign-up writes four items in one transaction, each only if it does not exist yet:
//!
//! | item                      | PK              | SK                 | readable by the tenant |
//! |---------------------------|-----------------|--------------------|------------------------|
//! | organisation              | `ORG#<org>`     | `ORG`              | yes                    |
//! | membership, its org's side | `ORG#<org>`    | `MEMBER#<sub>`     | yes                    |
//! | claim (the home organisation) | `USER#<sub>` | `ORG_CLAIM`       | no (outside `ORG#`)    |
//! | membership, its user's side | `USER#<sub>`  | `MEMBER_OF#<org>`  | no                     |
//!
//! The claim is the idempotency record: whoever writes it first owns the user's home
//! organisation, and every later attempt finds it and reuses that organisation. The user's
//! partition also holds the active choice (`ACTIVE`), so that one Query of it answers what a
//! token needs (docs/teams.md).

use crate::domain::{Memberships, OrgId, Role, UserSub};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::{HashMap, HashSet};

const PARTITION_KEY: &str = "PK";
const SORT_KEY: &str = "SK";
const ORG_SORT_KEY: &str = "ORG";
const CLAIM_SORT_KEY: &str = "ORG_CLAIM";
const ORG_ID: &str = "orgId";
const CREATED_BY: &str = "createdBy";
const CREATED_AT: &str = "createdAt";
const SUB: &str = "sub";
const ROLE: &str = "role";
const MEMBER_PREFIX: &str = "MEMBER#";
const MEMBER_OF_PREFIX: &str = "MEMBER_OF#";
const ACTIVE_SORT_KEY: &str = "ACTIVE";
/// Position of the claim in the transaction, for reading its cancellation reason.
const CLAIM_POSITION: usize = 2;
/// BatchGetItem's own limit.
const BATCH_GET_LIMIT: usize = 100;
/// How often keys BatchGetItem left unprocessed are asked for again, and the first pause
/// before that, doubled each time: the BatchGetItem API reference "strongly recommend[s]" an
/// exponential backoff for unprocessed keys, and a table that never serves them must end the
/// audit with an error rather than hold it forever. About 25 s of pauses at the most.
const UNPROCESSED_RETRIES: u32 = 8;
const UNPROCESSED_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);
/// After the SDK's own attempts, how often a transaction that met its own in-flight attempt
/// (`TransactionInProgressException`) is sent again, and the first pause before that.
const IN_PROGRESS_RETRIES: u32 = 3;
const IN_PROGRESS_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

fn org_partition(org: OrgId) -> String {
    format!("ORG#{org}")
}

fn member_sort_key(sub: UserSub) -> String {
    format!("{MEMBER_PREFIX}{sub}")
}

fn claim_partition(sub: UserSub) -> String {
    format!("USER#{sub}")
}

fn member_of_sort_key(org: OrgId) -> String {
    format!("{MEMBER_OF_PREFIX}{org}")
}

/// An SDK error, kept whole: its kind for tests and callers, its chain for the log (render it
/// with `DisplayErrorContext`, as the log sites do).
pub type SdkFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading from the table failed")]
    Read(#[source] SdkFailure),
    #[error("the table left keys unprocessed after {UNPROCESSED_RETRIES} retries")]
    Unprocessed,
    #[error("the organisation transaction failed and no claim was found after it")]
    Transaction(#[source] SdkFailure),
    #[error("writing a missing item failed")]
    Restore(#[source] SdkFailure),
    #[error("the claim of user {0} holds no valid organisation id")]
    CorruptClaim(UserSub),
    #[error("building a request failed: {0}")]
    Build(#[from] BuildError),
}

/// A new organisation, as the store records it: its creator is the user whose claim names
/// it, and its first member, an owner.
#[derive(Debug)]
pub struct NewOrg {
    pub org: OrgId,
    pub creator: UserSub,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    Created,
    /// Another attempt for the same user got there first: this is its organisation.
    AlreadyClaimed(OrgId),
}

/// What the table holds of one user's organisation, for the audit.
#[derive(Debug, PartialEq, Eq)]
pub struct OrgRecords {
    pub organisation: bool,
    pub membership: bool,
}

/// An organisation's own record, as the tenant API shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct OrgRecord {
    pub org: OrgId,
    pub name: Option<String>,
    pub created_at: Option<String>,
    pub created_by: Option<UserSub>,
}

/// One member of an organisation, as the tenant API shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Member {
    pub sub: UserSub,
    pub role: Option<String>,
    pub email: Option<String>,
    pub created_at: Option<String>,
}

/// A page of members, and the last one's sub where more may follow.
#[derive(Debug, PartialEq, Eq)]
pub struct Members {
    pub members: Vec<Member>,
    pub next: Option<UserSub>,
}

type Item = HashMap<String, AttributeValue>;

mod teams;
pub use teams::{
    Absent, Acceptance, Invitation, MAX_MEMBERSHIPS, MemberOf, MembershipChange, NewInvitation,
    Refusal, StoredInvitation, TeamError, TeamRecords,
};

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
            .set_key(Some(key(&claim_partition(sub), CLAIM_SORT_KEY)))
            .consistent_read(true)
            .projection_expression(ORG_ID)
            .send()
            .await
            .map_err(|err| StoreError::Read(err.into()))?;
        output.item().map(|item| org_in(item, sub)).transpose()
    }

    /// Everything the user's own partition says of their organisations: the home claim, each
    /// membership and the active choice, from one strongly consistent Query (the token path's
    /// one round trip). An item that cannot be read is left out, never guessed: a membership
    /// the table does not clearly record is no membership.
    pub async fn memberships(&self, sub: UserSub) -> Result<Memberships, StoreError> {
        memberships_in(&self.query_all(&claim_partition(sub), None).await?, sub)
    }
    /// Every item of a partition (after `prefix` in its sort key, if given), consistent.
    async fn query_all(
        &self,
        partition: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", text(partition))
            .consistent_read(true);
        query = match prefix {
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":prefix", text(prefix)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let mut pages = query.into_paginator().send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| StoreError::Read(err.into()))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }

    /// Opens the connection to the table, for init: the claim read of a user no one can be
    /// (the nil UUID is never a Cognito `sub`), which the function's role may make. Its answer
    /// is dropped; what it leaves is a connection in the SDK's pool, TLS done.
    pub async fn open_connection(&self) -> Result<(), StoreError> {
        self.claimed_org(UserSub::NIL).await.map(drop)
    }

    /// Writes the organisation, its owner's membership and the owner's claim, all or none.
    ///
    /// The transaction carries a client request token derived from the attempt (the new
    /// organisation's id), so the SDK's own retry of a call whose answer was lost is
    /// idempotent at DynamoDB (DynamoDB API reference, TransactWriteItems
    /// `ClientRequestToken`: identical calls within 10 minutes have the effect of one). Any
    /// failure other than a lost race (a conflict with another transaction, a time-out, a
    /// throttle that outlived the retries) ends with a re-read of the claim: the claim, not
    /// the error, says whether this user has an organisation.
    pub async fn record(&self, new: &NewOrg) -> Result<Recorded, StoreError> {
        let claim = NewItem::new(&claim_partition(new.creator), CLAIM_SORT_KEY, "claim", new)
            .with(SUB, text(new.creator.to_string()));
        let items = vec![
            self.put_new(NewItem::organisation(new), None)?,
            self.put_new(NewItem::membership(new, new.creator, Role::Owner), None)?,
            self.put_new(claim, Some(ReturnValuesOnConditionCheckFailure::AllOld))?,
            self.put_new(NewItem::member_of(new, new.creator, Role::Owner), None)?,
        ];

        let result = self.send_transaction(items, &new.org.to_string()).await;
        let err = match result {
            Ok(_) => return Ok(Recorded::Created),
            Err(err) => err,
        };
        // A lost race: the claim's old value names the winner's organisation.
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let claim = cancelled.cancellation_reasons().get(CLAIM_POSITION);
            if let Some(item) = claim
                .filter(|claim| claim.code() == Some("ConditionalCheckFailed"))
                .and_then(|claim| claim.item())
            {
                return Ok(Self::recorded(new, org_in(item, new.creator)?));
            }
        }
        match self.claimed_org(new.creator).await? {
            Some(org) => Ok(Self::recorded(new, org)),
            None => Err(StoreError::Transaction(err.into())),
        }
    }

    /// Sends a transaction with its client request token. A retry with the same token that met
    /// the attempt still in flight (`TransactionInProgressException`) is waited out and sent
    /// again (idempotent by its token): that attempt may yet commit, so a read now could find
    /// nothing and refuse the user. The handler's deadline bounds the whole.
    async fn send_transaction(
        &self,
        items: Vec<TransactWriteItem>,
        token: &str,
    ) -> Result<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
        aws_sdk_dynamodb::error::SdkError<
            TransactWriteItemsError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    > {
        let mut pause = IN_PROGRESS_BACKOFF;
        let mut retries_left = IN_PROGRESS_RETRIES;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(token)
                .send()
                .await;
            let in_progress = matches!(
                result.as_ref().map_err(|err| err.as_service_error()),
                Err(Some(
                    TransactWriteItemsError::TransactionInProgressException(_)
                ))
            );
            if !in_progress || retries_left == 0 {
                return result;
            }
            retries_left -= 1;
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }

    /// The claim names `org`: ours (an earlier attempt of this very call committed) or not.
    fn recorded(new: &NewOrg, org: OrgId) -> Recorded {
        if org == new.org {
            Recorded::Created
        } else {
            Recorded::AlreadyClaimed(org)
        }
    }

    /// A put that never replaces an existing item.
    fn put_new(
        &self,
        item: NewItem,
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

    /// The claims of many users at once (strongly consistent), for the audit.
    pub async fn claims_of(
        &self,
        subs: &[UserSub],
    ) -> Result<HashMap<UserSub, Result<OrgId, StoreError>>, StoreError> {
        // BatchGetItem refuses a request that names one key twice (ValidationException), and
        // one user may own several organisations.
        let unique: HashSet<UserSub> = subs.iter().copied().collect();
        let keys: Vec<_> = unique
            .into_iter()
            .map(|sub| key(&claim_partition(sub), CLAIM_SORT_KEY))
            .collect();
        let items = self.batch_get(keys).await?;
        let mut claims = HashMap::new();
        for item in items {
            let Some(sub) = item
                .get(SUB)
                .and_then(|value| value.as_s().ok())
                .and_then(|sub| UserSub::parse(sub))
            else {
                continue;
            };
            claims.insert(sub, org_in(&item, sub));
        }
        Ok(claims)
    }

    /// Whether each (organisation, owner) has its organisation item and membership.
    pub async fn records_of(
        &self,
        owned: &[(OrgId, UserSub)],
    ) -> Result<Vec<OrgRecords>, StoreError> {
        let keys = owned
            .iter()
            .flat_map(|(org, sub)| {
                [
                    key(&org_partition(*org), ORG_SORT_KEY),
                    key(&org_partition(*org), &member_sort_key(*sub)),
                ]
            })
            .collect();
        let found: HashSet<(String, String)> = self
            .batch_get(keys)
            .await?
            .iter()
            .map(|item| (s(item, PARTITION_KEY), s(item, SORT_KEY)))
            .collect();
        Ok(owned
            .iter()
            .map(|(org, sub)| OrgRecords {
                organisation: found.contains(&(org_partition(*org), ORG_SORT_KEY.to_owned())),
                membership: found.contains(&(org_partition(*org), member_sort_key(*sub))),
            })
            .collect())
    }

    /// Writes whichever of the organisation item and `member`'s membership (with `role`, both
    /// sides) is missing, never replacing one that exists: the audit's repair of a claim whose records
    /// were lost. The caller says who the member is and with what role.
    pub async fn restore(
        &self,
        new: &NewOrg,
        member: UserSub,
        role: Role,
    ) -> Result<(), StoreError> {
        let items = [
            NewItem::organisation(new),
            NewItem::membership(new, member, role),
            NewItem::member_of(new, member, role),
        ];
        for item in items {
            self.put_if_absent(item).await?;
        }
        Ok(())
    }

    /// Puts an item unless one with its key exists (then it is left as it is).
    async fn put_if_absent(&self, item: NewItem) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.0))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await
            .map_err(|err| err.into_service_error());
        match result {
            Ok(_) => Ok(()),
            // It exists: never replaced.
            Err(err) if err.is_conditional_check_failed_exception() => Ok(()),
            Err(err) => Err(StoreError::Restore(err.into())),
        }
    }

    /// The organisation's record, if it exists.
    pub async fn organisation(&self, org: OrgId) -> Result<Option<OrgRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&org_partition(org), ORG_SORT_KEY)))
            .send()
            .await
            .map_err(|err| StoreError::Read(err.into()))?;
        Ok(output.item().map(|item| OrgRecord {
            org,
            name: string(item, "name"),
            created_at: string(item, CREATED_AT),
            created_by: string(item, CREATED_BY).and_then(|sub| UserSub::parse(&sub)),
        }))
    }

    /// Up to `limit` members of the organisation, in order of sub, after `after` if given.
    /// The page starts inside this organisation's partition whatever `after` is.
    pub async fn members(
        &self,
        org: OrgId,
        limit: i32,
        after: Option<UserSub>,
    ) -> Result<Members, StoreError> {
        let partition = org_partition(org);
        let start = after.map(|sub| key(&partition, &member_sort_key(sub)));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :member)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", text(&partition))
            .expression_attribute_values(":member", text(MEMBER_PREFIX))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| StoreError::Read(err.into()))?;
        let members: Vec<Member> = output
            .items()
            .iter()
            .filter_map(|item| {
                Some(Member {
                    sub: UserSub::parse(&string(item, SUB)?)?,
                    role: string(item, ROLE),
                    email: string(item, "email"),
                    created_at: string(item, CREATED_AT),
                })
            })
            .collect();
        let next = output
            .last_evaluated_key()
            .and_then(|_| members.last().map(|member| member.sub));
        Ok(Members { members, next })
    }

    /// BatchGetItem in chunks of 100, strongly consistent, until no key is left unprocessed.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()?,
            );
            let mut pause = UNPROCESSED_BACKOFF;
            let mut retries_left = UNPROCESSED_RETRIES;
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|err| StoreError::Read(err.into()))?;
                if let Some(items) = output.responses().and_then(|r| r.get(&self.table)) {
                    found.extend(items.iter().cloned());
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|keys| keys.get(&self.table))
                    .filter(|keys| !keys.keys().is_empty())
                    .cloned();
                if pending.is_some() {
                    if retries_left == 0 {
                        return Err(StoreError::Unprocessed);
                    }
                    retries_left -= 1;
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        Ok(found)
    }
}

/// An item under construction.
struct NewItem(Item);

impl NewItem {
    /// What every item of a new organisation carries.
    fn new(partition: &str, sort: &str, kind: &str, new: &NewOrg) -> Self {
        let mut item = key(partition, sort);
        item.insert("kind".to_owned(), text(kind));
        item.insert(ORG_ID.to_owned(), text(new.org.to_string()));
        item.insert(CREATED_AT.to_owned(), text(&new.created_at));
        Self(item)
    }

    /// The organisation item, naming its creator.
    fn organisation(new: &NewOrg) -> Self {
        Self::new(&org_partition(new.org), ORG_SORT_KEY, "organisation", new)
            .with(CREATED_BY, text(new.creator.to_string()))
    }

    /// The same membership as the user's partition records it, for the token's one Query.
    fn member_of(new: &NewOrg, member: UserSub, role: Role) -> Self {
        Self::new(
            &claim_partition(member),
            &member_of_sort_key(new.org),
            "member_of",
            new,
        )
        .with(SUB, text(member.to_string()))
        .with(ROLE, text(role.as_str()))
    }

    /// A member's membership of the organisation, with its role.
    fn membership(new: &NewOrg, member: UserSub, role: Role) -> Self {
        let partition = org_partition(new.org);
        Self::new(&partition, &member_sort_key(member), "membership", new)
            .with(SUB, text(member.to_string()))
            .with(ROLE, text(role.as_str()))
    }

    fn with(mut self, name: &str, value: AttributeValue) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }
}

fn key(partition: &str, sort: &str) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), text(partition)),
        (SORT_KEY.to_owned(), text(sort)),
    ])
}

fn string(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|value| value.as_s().ok()).cloned()
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The user's partition read as the token path needs it. An item that cannot be read is left
/// out, never guessed: a membership the table does not clearly record is no membership.
fn memberships_in(items: &[Item], sub: UserSub) -> Result<Memberships, StoreError> {
    let mut view = Memberships::default();
    for item in items {
        let sort = s(item, SORT_KEY);
        if sort == CLAIM_SORT_KEY {
            view.home = Some(org_in(item, sub)?);
        } else if sort == ACTIVE_SORT_KEY {
            view.active = string(item, ORG_ID).and_then(|org| OrgId::parse(&org));
        } else if let Some(org) = sort.strip_prefix(MEMBER_OF_PREFIX) {
            let org = OrgId::parse(org);
            let role = string(item, ROLE).and_then(|role| Role::parse(&role));
            if let (Some(org), Some(role)) = (org, role) {
                view.orgs.push((org, role));
            }
        }
    }
    Ok(view)
}

fn org_in(item: &Item, sub: UserSub) -> Result<OrgId, StoreError> {
    item.get(ORG_ID)
        .and_then(|value| value.as_s().ok())
        .and_then(|value| OrgId::parse(value))
        .ok_or(StoreError::CorruptClaim(sub))
}
