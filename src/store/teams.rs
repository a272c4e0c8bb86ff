//! Teams in the tenant table: organisations a user creates, the active choice, invitations and
//! membership changes. Every change is one transaction whose conditions carry the rule it
//! keeps, so that a race has exactly one winner (docs/teams.md):
//!
//! | item                      | PK                      | SK                           |
//! |---------------------------|-------------------------|------------------------------|
//! | active choice             | `USER#<sub>`            | `ACTIVE`                     |
//! | invitation                | `INVITATION#<org>`      | `<id>`                       |
//! | invitation, by invitee    | `EMAIL#<email>`         | `INVITATION#<org>#<id>`      |
//!
//! Counters keep the two rules no single item can: the home claim's `memberships` (at most
//! [`MAX_MEMBERSHIPS`] per user) and the organisation's `owners` (never below one). Items
//! written before teams lack them and count as one.

use super::*;
use crate::domain::{Email, InvitationId, SecretHash};
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Update};
use std::collections::HashMap;

/// How many organisations one user may belong to, the home one included: the token path reads
/// them all in its one Query, which stays a single page (DynamoDB's 1 MB) far beyond this.
pub const MAX_MEMBERSHIPS: u32 = 20;

const MEMBERSHIPS: &str = "memberships";
const OWNERS: &str = "owners";
const NAME: &str = "name";
const STATE: &str = "state";
const EMAIL: &str = "email";
const SECRET_HASH: &str = "secretHash";
const EXPIRES_AT: &str = "expiresAt";
const INVITED_BY: &str = "invitedBy";
const INVITATION_ID: &str = "invitationId";

fn invitation_partition(org: OrgId) -> String {
    format!("INVITATION#{org}")
}

fn email_partition(email: &Email) -> String {
    format!("EMAIL#{email}")
}

fn email_sort_key(org: OrgId, id: InvitationId) -> String {
    format!("INVITATION#{org}#{id}")
}

/// Why a team change was refused: each is a rule the table kept, named for the caller.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the user already belongs to {MAX_MEMBERSHIPS} organisations")]
    TooManyMemberships,
    #[error("the user is not a member of that organisation")]
    NotAMember,
    #[error("the user is already a member")]
    AlreadyAMember,
    #[error("the invitation is not pending, has expired, or is not this user's")]
    InvitationUnusable,
    #[error("an organisation keeps at least one owner")]
    LastOwner,
    #[error("the home organisation is its creator's own")]
    HomeOrganisation,
    #[error("the membership changed meanwhile")]
    Changed,
    #[error("the organisation does not exist")]
    NoOrganisation,
}

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BuildError> for TeamError {
    fn from(err: BuildError) -> Self {
        Self::Store(err.into())
    }
}

/// A new invitation, as the store records it.
#[derive(Debug)]
pub struct NewInvitation {
    pub org: OrgId,
    pub org_name: String,
    pub id: InvitationId,
    pub email: Email,
    pub role: Role,
    pub secret_hash: SecretHash,
    pub invited_by: UserSub,
    /// The inviter's role as read before: the invitation is written only if it still holds.
    pub inviter_role: Role,
    /// Seconds since the epoch.
    pub expires_at: i64,
    pub created_at: String,
}

/// An invitation as an organisation's admins see it (never its secret or hash).
#[derive(Debug, PartialEq, Eq)]
pub struct Invitation {
    pub org: OrgId,
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub state: String,
    pub expires_at: i64,
    pub org_name: Option<String>,
}

/// One membership of a user, with the organisation's name, as the user sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct MemberOf {
    pub org: OrgId,
    pub role: Role,
    pub org_name: Option<String>,
}

/// A user accepting an invitation with the secret's hash, at `now` (seconds since the epoch).
#[derive(Debug)]
pub struct Acceptance {
    pub sub: UserSub,
    pub email: Email,
    pub org: OrgId,
    pub id: InvitationId,
    pub hash: SecretHash,
    pub now: i64,
    /// RFC 3339, UTC: when the membership begins.
    pub created_at: String,
}

/// A membership change: `member`'s role in `org` from `from` to `to` (`None`: removed), made
/// by `actor` with the role read for them (`None`: the member themselves, leaving).
#[derive(Debug)]
pub struct MembershipChange {
    pub org: OrgId,
    pub member: UserSub,
    pub from: Role,
    pub to: Option<Role>,
    pub actor: Option<(UserSub, Role)>,
}

/// What must still be absent for the audit to delete a user's side of a membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absent {
    /// The organisation's side of the same membership.
    OrganisationsSide,
    /// The organisation itself (its `ORG` item).
    Organisation,
}

/// Every team record in the table, for the audit: one consistent scan.
#[derive(Debug, Default)]
pub struct TeamRecords {
    /// Organisations that have their `ORG` item, and the creator it names.
    pub organisations: HashMap<OrgId, Option<UserSub>>,
    /// `ORG#<org>` / `MEMBER#<sub>`, with the role it records (`None`: unreadable).
    pub memberships: HashMap<(OrgId, UserSub), Option<Role>>,
    /// `USER#<sub>` / `MEMBER_OF#<org>`, with its role.
    pub member_of: HashMap<(UserSub, OrgId), Option<Role>>,
    /// Home claims: `USER#<sub>` / `ORG_CLAIM`.
    pub claims: HashMap<UserSub, OrgId>,
    /// Active choices: `USER#<sub>` / `ACTIVE`.
    pub active: HashMap<UserSub, OrgId>,
    pub invitations: Vec<StoredInvitation>,
    /// By-invitee copies: their key, and the organisation and invitation they name.
    pub copies: Vec<(String, String, OrgId, InvitationId)>,
}

/// An invitation as the table holds it, with what the audit needs to purge it.
#[derive(Debug)]
pub struct StoredInvitation {
    pub org: OrgId,
    pub id: InvitationId,
    pub email: Option<Email>,
    pub state: String,
    pub expires_at: i64,
}

impl OrgStore {
    /// Every team record, by one consistent, paged scan of the whole table: for the audit only.
    pub async fn team_records(&self) -> Result<TeamRecords, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut records = TeamRecords::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| StoreError::Read(err.into()))?;
            for item in page.items() {
                records.add(item);
            }
        }
        Ok(records)
    }

    /// Writes the user's side of a membership the organisation's side records, with its role,
    /// never replacing one: one transaction that also checks the organisation's side still
    /// holds that role (a removal since the audit's scan wins) and counts the membership
    /// (but for the home organisation, which a claim from before teams already counts).
    /// `Ok(false)`: the table changed since the scan, nothing written.
    pub async fn restore_member_of(
        &self,
        org: OrgId,
        sub: UserSub,
        role: Role,
        home: bool,
        created_at: String,
    ) -> Result<bool, StoreError> {
        let new = NewOrg {
            org,
            creator: sub,
            created_at,
        };
        let recorded = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(&org_partition(org), &member_sort_key(sub))))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_values(":role", text(role.as_str()))
            .build()?;
        let mut items = vec![
            TransactWriteItem::builder()
                .condition_check(recorded)
                .build(),
            self.put_new(NewItem::member_of(&new, sub, role), None)?,
        ];
        if !home {
            items.push(self.count_membership(sub, 1, None)?);
        }
        Ok(self.transact(items).await?.is_none())
    }

    /// Deletes the user's side of a membership, only while `unless` still holds (the
    /// organisation's side, or the organisation, absent: nothing granted since the scan is
    /// taken away), and uncounts it. `Ok(false)`: the table changed, nothing deleted.
    pub async fn delete_member_of(
        &self,
        sub: UserSub,
        org: OrgId,
        unless: Absent,
    ) -> Result<bool, StoreError> {
        let absent = match unless {
            Absent::OrganisationsSide => key(&org_partition(org), &member_sort_key(sub)),
            Absent::Organisation => key(&org_partition(org), ORG_SORT_KEY),
        };
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(absent))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(&claim_partition(sub), &member_of_sort_key(org))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().delete(delete).build(),
            self.count_membership(sub, -1, None)?,
        ];
        Ok(self.transact(items).await?.is_none())
    }

    /// Deletes one item, whatever it holds: the audit's purge of what points nowhere.
    async fn delete_record(&self, partition: &str, sort: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(partition, sort)))
            .send()
            .await
            .map_err(|err| StoreError::Restore(err.into()))?;
        Ok(())
    }

    /// The user's active choice, deleted only while it still names `org`.
    pub async fn delete_active(&self, sub: UserSub, org: OrgId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&claim_partition(sub), ACTIVE_SORT_KEY)))
            .condition_expression("#org = :org")
            .expression_attribute_names("#org", ORG_ID)
            .expression_attribute_values(":org", text(org.to_string()))
            .send()
            .await
            .map_err(|err| err.into_service_error());
        match result {
            Ok(_) => Ok(()),
            // Another choice since the scan: left as it is.
            Err(err) if err.is_conditional_check_failed_exception() => Ok(()),
            Err(err) => Err(StoreError::Restore(err.into())),
        }
    }

    /// A by-invitee copy, deleted (its key as `TeamRecords::copies` gives it).
    pub async fn delete_copy(&self, partition: &str, sort: &str) -> Result<(), StoreError> {
        if !partition.starts_with("EMAIL#") {
            return Ok(()); // never anything but a copy
        }
        self.delete_record(partition, sort).await
    }

    /// An invitation and its by-invitee copy, deleted.
    pub async fn purge_invitation(&self, invitation: &StoredInvitation) -> Result<(), StoreError> {
        if let Some(email) = &invitation.email {
            self.delete_record(
                &email_partition(email),
                &email_sort_key(invitation.org, invitation.id),
            )
            .await?;
        }
        self.delete_record(
            &invitation_partition(invitation.org),
            &invitation.id.to_string(),
        )
        .await
    }

    /// A new organisation, its creator its owner: the organisation, both sides of the
    /// membership, and the creator's count, all or none.
    pub async fn create_organisation(&self, new: &NewOrg, name: &str) -> Result<(), TeamError> {
        let items = vec![
            self.put_new(
                NewItem::organisation(new)
                    .with(NAME, text(name))
                    .with(OWNERS, number(1)),
                None,
            )?,
            self.put_new(NewItem::membership(new, new.creator, Role::Owner), None)?,
            self.put_new(
                NewItem::member_of(new, new.creator, Role::Owner).with(NAME, text(name)),
                None,
            )?,
            self.count_membership(new.creator, 1, None)?,
        ];
        let reasons = self.transact(items).await?;
        match reasons.as_deref() {
            None => Ok(()),
            Some([.., last]) if last == "ConditionalCheckFailed" => {
                Err(Refusal::TooManyMemberships.into())
            }
            Some(_) => Err(Refusal::Changed.into()),
        }
    }

    /// The user's choice of organisation for their next token: written only while they belong
    /// to it.
    pub async fn choose_active(&self, sub: UserSub, org: OrgId) -> Result<(), TeamError> {
        // Home needs no choice (a token falls back to it), and a user from before teams has
        // no membership item of it to check: choosing it clears the choice.
        if self.claimed_org(sub).await? == Some(org) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(&claim_partition(sub), ACTIVE_SORT_KEY)))
                .send()
                .await
                .map_err(|err| StoreError::Restore(err.into()))?;
            return Ok(());
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(&claim_partition(sub), &member_of_sort_key(org))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()?;
        let mut item = key(&claim_partition(sub), ACTIVE_SORT_KEY);
        item.insert(ORG_ID.to_owned(), text(org.to_string()));
        item.insert("kind".to_owned(), text("active"));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(Refusal::NotAMember.into()),
        }
    }

    /// What the token path reads (`OrgStore::memberships`), and every organisation the user
    /// belongs to with its name: from the same one consistent Query.
    pub async fn memberships_named(
        &self,
        sub: UserSub,
    ) -> Result<(Memberships, Vec<MemberOf>), StoreError> {
        let items = self.query_all(&claim_partition(sub), None).await?;
        let named = items
            .iter()
            .filter_map(|item| {
                Some(MemberOf {
                    org: OrgId::parse(s(item, SORT_KEY).strip_prefix(MEMBER_OF_PREFIX)?)?,
                    role: Role::parse(&string(item, ROLE)?)?,
                    org_name: string(item, NAME),
                })
            })
            .collect();
        Ok((memberships_in(&items, sub)?, named))
    }

    /// A user's role in an organisation, from the organisation's side (consistent).
    pub async fn role_of(&self, org: OrgId, sub: UserSub) -> Result<Option<Role>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&org_partition(org), &member_sort_key(sub))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StoreError::Read(err.into()))?;
        Ok(output
            .item()
            .and_then(|item| string(item, ROLE))
            .and_then(|role| Role::parse(&role)))
    }

    /// Records an invitation and its by-invitee copy, if the inviter still has the role read.
    pub async fn invite(&self, new: &NewInvitation) -> Result<(), TeamError> {
        let inviter = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                &org_partition(new.org),
                &member_sort_key(new.invited_by),
            )))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_values(":role", text(new.inviter_role.as_str()))
            .build()?;
        let shared = |partition: String, sort: String, kind: &str| {
            let mut item = key(&partition, &sort);
            for (name, value) in [
                ("kind", text(kind)),
                (ORG_ID, text(new.org.to_string())),
                (INVITATION_ID, text(new.id.to_string())),
                (ROLE, text(new.role.as_str())),
                (EXPIRES_AT, number(new.expires_at)),
                (INVITED_BY, text(new.invited_by.to_string())),
                (NAME, text(&new.org_name)),
                (CREATED_AT, text(&new.created_at)),
            ] {
                item.insert(name.to_owned(), value);
            }
            NewItem(item)
        };
        let invitation = shared(
            invitation_partition(new.org),
            new.id.to_string(),
            "invitation",
        )
        .with(EMAIL, text(new.email.to_string()))
        .with(SECRET_HASH, text(new.secret_hash.to_string()))
        .with(STATE, text("pending"));
        let for_invitee = shared(
            email_partition(&new.email),
            email_sort_key(new.org, new.id),
            "invitation_for",
        );
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(inviter)
                .build(),
            self.put_new(invitation, None)?,
            self.put_new(for_invitee, None)?,
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(Refusal::Changed.into()),
        }
    }

    /// The organisation's invitations, every state (consistent).
    pub async fn invitations(&self, org: OrgId) -> Result<Vec<Invitation>, StoreError> {
        let items = self.query_all(&invitation_partition(org), None).await?;
        Ok(items.iter().filter_map(invitation_in).collect())
    }

    /// The pending invitations addressed to `email` (the by-invitee copies; consistent).
    pub async fn invitations_for(&self, email: &Email) -> Result<Vec<Invitation>, StoreError> {
        let items = self
            .query_all(&email_partition(email), Some("INVITATION#"))
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let mut invitation = invitation_in(item)?;
                invitation.email = email.to_string();
                invitation.state = "pending".to_owned();
                Some(invitation)
            })
            .collect())
    }

    /// Accepts an invitation, all or none: the invitation moves from pending to accepted only
    /// if its secret's hash, its address and its expiry agree, the user joins with its role
    /// (both sides), their count stays within the cap, and the by-invitee copy goes.
    pub async fn accept(&self, acceptance: &Acceptance) -> Result<Role, TeamError> {
        let Acceptance {
            sub,
            email,
            org,
            id,
            hash,
            now,
            created_at,
        } = acceptance;
        let (sub, org, id, now) = (*sub, *org, *id, *now);
        let invitation = self
            .invitation_item(org, id)
            .await?
            .as_ref()
            .and_then(invitation_in)
            .ok_or(Refusal::InvitationUnusable)?;
        let accepted = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&invitation_partition(org), &id.to_string())))
            .update_expression("SET #state = :accepted, acceptedBy = :sub")
            .condition_expression(
                "#state = :pending AND #hash = :hash AND #email = :email AND #expires > :now AND #role = :role",
            )
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#hash", SECRET_HASH)
            .expression_attribute_names("#email", EMAIL)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_values(":accepted", text("accepted"))
            .expression_attribute_values(":pending", text("pending"))
            .expression_attribute_values(":sub", text(sub.to_string()))
            .expression_attribute_values(":hash", text(hash.to_string()))
            .expression_attribute_values(":email", text(email.to_string()))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":role", text(invitation.role.as_str()))
            .build()?;
        let copy = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(&email_partition(email), &email_sort_key(org, id))))
            .build()?;
        // The organisation must exist; an owner joining counts as one more owner. (One
        // transaction may touch an item once: the check and the count are one operation.)
        let organisation = if invitation.role == Role::Owner {
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(&org_partition(org), ORG_SORT_KEY)))
                        .update_expression("SET #owners = if_not_exists(#owners, :one) + :one")
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#pk", PARTITION_KEY)
                        .expression_attribute_names("#owners", OWNERS)
                        .expression_attribute_values(":one", number(1))
                        .build()?,
                )
                .build()
        } else {
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(&org_partition(org), ORG_SORT_KEY)))
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#pk", PARTITION_KEY)
                        .build()?,
                )
                .build()
        };
        let joined = NewOrg {
            org,
            creator: sub,
            created_at: created_at.clone(),
        };
        let mut member_of = NewItem::member_of(&joined, sub, invitation.role);
        if let Some(name) = &invitation.org_name {
            member_of = member_of.with(NAME, text(name));
        }
        let items = vec![
            TransactWriteItem::builder().update(accepted).build(),
            TransactWriteItem::builder().delete(copy).build(),
            organisation,
            self.put_new(
                NewItem::membership(&joined, sub, invitation.role)
                    .with(EMAIL, text(email.to_string())),
                None,
            )?,
            self.put_new(member_of, None)?,
            self.count_membership(sub, 1, None)?,
        ];
        let Some(reasons) = self.transact(items).await? else {
            return Ok(invitation.role);
        };
        let failed = |index: usize| {
            reasons
                .get(index)
                .is_some_and(|r| r == "ConditionalCheckFailed")
        };
        Err(if failed(0) {
            Refusal::InvitationUnusable
        } else if failed(2) {
            Refusal::NoOrganisation
        } else if failed(3) || failed(4) {
            Refusal::AlreadyAMember
        } else if failed(5) {
            Refusal::TooManyMemberships
        } else {
            Refusal::Changed
        }
        .into())
    }

    /// The invitation's item as it stands (a consistent read).
    async fn invitation_item(
        &self,
        org: OrgId,
        id: InvitationId,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&invitation_partition(org), &id.to_string())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StoreError::Read(err.into()))?;
        Ok(output.item().cloned())
    }

    /// Revokes a pending invitation (and its by-invitee copy).
    pub async fn revoke(&self, org: OrgId, id: InvitationId) -> Result<(), TeamError> {
        let email = self
            .invitation_item(org, id)
            .await?
            .and_then(|item| string(&item, EMAIL))
            .and_then(|email| Email::parse(&email).ok())
            .ok_or(Refusal::InvitationUnusable)?;
        let revoked = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&invitation_partition(org), &id.to_string())))
            .update_expression("SET #state = :revoked")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":revoked", text("revoked"))
            .expression_attribute_values(":pending", text("pending"))
            .build()?;
        let copy = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                &email_partition(&email),
                &email_sort_key(org, id),
            )))
            .build()?;
        let items = vec![
            TransactWriteItem::builder().update(revoked).build(),
            TransactWriteItem::builder().delete(copy).build(),
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(Refusal::InvitationUnusable.into()),
        }
    }

    /// Changes or ends a membership, all or none: both sides only if the role is still the one
    /// read (`from`), the organisation's owner count never below one, never the creator out of
    /// (or below owner in) their home organisation, and the member's count kept.
    pub async fn change_membership(&self, change: &MembershipChange) -> Result<(), TeamError> {
        let MembershipChange {
            org,
            member,
            from,
            to,
            actor,
        } = *change;
        let sides = [
            key(&org_partition(org), &member_sort_key(member)),
            key(&claim_partition(member), &member_of_sort_key(org)),
        ];
        let mut items = Vec::new();
        for side in sides {
            let item = match to {
                Some(role) => TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(side))
                            .update_expression("SET #role = :to")
                            .condition_expression("#role = :from")
                            .expression_attribute_names("#role", ROLE)
                            .expression_attribute_values(":from", text(from.as_str()))
                            .expression_attribute_values(":to", text(role.as_str()))
                            .build()?,
                    )
                    .build(),
                None => TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(side))
                            .condition_expression("#role = :from")
                            .expression_attribute_names("#role", ROLE)
                            .expression_attribute_values(":from", text(from.as_str()))
                            .build()?,
                    )
                    .build(),
            };
            items.push(item);
        }
        let owners_change = match (from == Role::Owner, to == Some(Role::Owner)) {
            (true, false) => -1,
            (false, true) => 1,
            _ => 0,
        };
        // Which refusal each conditional item stands for, by its position.
        let mut refusals = vec![Refusal::Changed, Refusal::Changed];
        // The actor still has the role their right to act was judged on: an admin removed or
        // demoted meanwhile changes nothing.
        if let Some((actor, role)) = actor.filter(|(actor, _)| *actor != member) {
            let still = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(&org_partition(org), &member_sort_key(actor))))
                .condition_expression("#role = :role")
                .expression_attribute_names("#role", ROLE)
                .expression_attribute_values(":role", text(role.as_str()))
                .build()?;
            items.push(TransactWriteItem::builder().condition_check(still).build());
            refusals.push(Refusal::Changed);
        }
        if owners_change != 0 {
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(&org_partition(org), ORG_SORT_KEY)))
                .update_expression("SET #owners = if_not_exists(#owners, :one) + :change")
                .expression_attribute_names("#owners", OWNERS)
                .expression_attribute_values(":one", number(1))
                .expression_attribute_values(":change", number(owners_change));
            if owners_change < 0 {
                // An organisation from before teams has no count: it has its one owner.
                update = update.condition_expression("#owners > :one");
                refusals.push(Refusal::LastOwner);
            } else {
                // Never an organisation item made up of a count alone.
                update = update
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PARTITION_KEY);
                refusals.push(Refusal::NoOrganisation);
            }
            items.push(TransactWriteItem::builder().update(update.build()?).build());
        }
        // The home organisation is its creator's own: never left, never below owner, so that
        // their tokens always have it to fall back to. The check rides on the claim's one
        // operation (a transaction may touch an item once).
        if to.is_none() {
            items.push(self.count_membership(member, -1, Some(org))?);
            refusals.push(Refusal::HomeOrganisation);
        } else if owners_change < 0 {
            let home = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(&claim_partition(member), CLAIM_SORT_KEY)))
                .condition_expression("#org <> :org")
                .expression_attribute_names("#org", ORG_ID)
                .expression_attribute_values(":org", text(org.to_string()))
                .build()?;
            items.push(TransactWriteItem::builder().condition_check(home).build());
            refusals.push(Refusal::HomeOrganisation);
        }
        let Some(reasons) = self.transact(items).await? else {
            return Ok(());
        };
        // The home check first: leaving one's home organisation also fails the owner count.
        let failed: Vec<Refusal> = reasons
            .iter()
            .zip(refusals)
            .filter(|(reason, _)| *reason == "ConditionalCheckFailed")
            .map(|(_, refusal)| refusal)
            .collect();
        Err([
            Refusal::HomeOrganisation,
            Refusal::Changed,
            Refusal::LastOwner,
        ]
        .into_iter()
        .find(|refusal| failed.contains(refusal))
        .unwrap_or(Refusal::Changed)
        .into())
    }

    /// The user's membership count moved by `change`, within the cap when it grows, and only
    /// if their home organisation is not `not_home`. A claim from before teams has no count:
    /// its one membership is the home organisation.
    fn count_membership(
        &self,
        sub: UserSub,
        change: i64,
        not_home: Option<OrgId>,
    ) -> Result<TransactWriteItem, BuildError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&claim_partition(sub), CLAIM_SORT_KEY)))
            .update_expression("SET #count = if_not_exists(#count, :one) + :change")
            .expression_attribute_names("#count", MEMBERSHIPS)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":change", number(change));
        let mut condition = "attribute_exists(#pk)".to_owned();
        if change > 0 {
            condition.push_str(" AND (attribute_not_exists(#count) OR #count < :cap)");
            update = update.expression_attribute_values(":cap", number(i64::from(MAX_MEMBERSHIPS)));
        }
        if let Some(org) = not_home {
            condition.push_str(" AND #org <> :org");
            update = update
                .expression_attribute_names("#org", ORG_ID)
                .expression_attribute_values(":org", text(org.to_string()));
        }
        update = update.condition_expression(condition);
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    /// Sends a transaction: `None` when it committed, the cancellation reasons' codes (one
    /// per item, in order) when a condition refused it or another transaction on the same
    /// items was in progress (`TransactionConflict`: the caller's change met another; it is
    /// refused as changed meanwhile, never half done). A fresh client request token makes
    /// the SDK's own retries of this call idempotent at DynamoDB, and no other call's.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let result = self
            .send_transaction(items, &uuid::Uuid::new_v4().to_string())
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled.cancellation_reasons().iter().any(|reason| {
                        matches!(
                            reason.code(),
                            Some("ConditionalCheckFailed" | "TransactionConflict")
                        )
                    }) =>
                {
                    Ok(Some(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|reason| reason.code().unwrap_or_default().to_owned())
                            .collect(),
                    ))
                }
                _ => Err(StoreError::Transaction(err.into())),
            },
        }
    }
}

impl TeamRecords {
    fn add(&mut self, item: &Item) {
        let (partition, sort) = (s(item, PARTITION_KEY), s(item, SORT_KEY));
        let role = || string(item, ROLE).and_then(|role| Role::parse(&role));
        if let Some(org) = partition.strip_prefix("ORG#").and_then(OrgId::parse) {
            if sort == ORG_SORT_KEY {
                let creator = string(item, CREATED_BY).and_then(|sub| UserSub::parse(&sub));
                self.organisations.insert(org, creator);
            } else if let Some(sub) = sort.strip_prefix(MEMBER_PREFIX).and_then(UserSub::parse) {
                self.memberships.insert((org, sub), role());
            }
        } else if let Some(sub) = partition.strip_prefix("USER#").and_then(UserSub::parse) {
            let org_id = || string(item, ORG_ID).and_then(|org| OrgId::parse(&org));
            if sort == CLAIM_SORT_KEY {
                if let Some(org) = org_id() {
                    self.claims.insert(sub, org);
                }
            } else if sort == ACTIVE_SORT_KEY {
                if let Some(org) = org_id() {
                    self.active.insert(sub, org);
                }
            } else if let Some(org) = sort.strip_prefix(MEMBER_OF_PREFIX).and_then(OrgId::parse) {
                self.member_of.insert((sub, org), role());
            }
        } else if partition.starts_with("INVITATION#") {
            if let Some(invitation) = invitation_in(item) {
                self.invitations.push(StoredInvitation {
                    org: invitation.org,
                    id: invitation.id,
                    email: Email::parse(&invitation.email).ok(),
                    state: invitation.state,
                    expires_at: invitation.expires_at,
                });
            }
        } else if partition.starts_with("EMAIL#")
            && let Some(invitation) = invitation_in(item)
        {
            self.copies
                .push((partition, sort, invitation.org, invitation.id));
        }
    }
}

fn invitation_in(item: &Item) -> Option<Invitation> {
    Some(Invitation {
        org: OrgId::parse(&string(item, ORG_ID)?)?,
        id: InvitationId::parse(&string(item, INVITATION_ID)?)?,
        email: string(item, EMAIL).unwrap_or_default(),
        role: Role::parse(&string(item, ROLE)?)?,
        state: string(item, STATE).unwrap_or_default(),
        expires_at: item
            .get(EXPIRES_AT)
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse().ok())?,
        org_name: string(item, NAME),
    })
}

fn number(value: impl Into<i64>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}
