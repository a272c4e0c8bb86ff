//! The audit's second phase: the organisations and teams, from one consistent scan of the
//! table (`OrgStore::team_records`).
//!
//! | finding                          | meaning                                                    | `--fix`                                   |
//! |----------------------------------|------------------------------------------------------------|-------------------------------------------|
//! | `member_of_missing`              | the organisation records a member, the member's side is missing | the member's side written, with the organisation side's role |
//! | `member_of_without_membership`   | a user's side names an organisation that does not record them (not their home: that is `membership_missing`) | the user's side deleted: never a grant    |
//! | `roles_disagree`                 | both sides, two roles                                       | none: a person decides (never an owner made by repair) |
//! | `points_at_missing_organisation` | a user's side, active choice, invitation or its by-invitee copy names an organisation with no record (and no home claim) | the pointer deleted |
//! | `invitation_expired`             | a pending invitation past its expiry                        | the invitation and its by-invitee copy deleted |
//! | `organisation_without_owner`     | no one's home, and no owner membership backed by its member's side | none: deleting tenant data is a person's decision |
//!
//! A repair never raises a role: it copies the organisation's side (the record the API reads
//! and the members see), or deletes what only the user's side claims. Each is one transaction
//! that checks again what the scan saw (the organisation's side still there with that role,
//! or still absent) and keeps the user's count: a scan is no snapshot, and a membership
//! removed while it ran must never come back.

use super::{Finding, Record};
use crate::domain::{OrgId, Role, UserSub};
use crate::store::{Absent, OrgStore, StoreError, TeamRecords};
use std::collections::HashSet;

/// The findings of the scan, repaired where `fix` says so. `now`: seconds since the epoch.
pub async fn audit(
    store: &OrgStore,
    fix: bool,
    now: i64,
    created_at: &str,
) -> Result<Vec<Record>, StoreError> {
    let records = store.team_records().await?;
    let mut found = Vec::new();
    for (finding, sub, org, action) in findings(&records, now) {
        let repaired = if fix && finding.repairable() {
            let member = sub.unwrap_or(UserSub::NIL);
            let result = match action {
                Action::WriteMemberOf(role) => {
                    let home = records.claims.get(&member) == Some(&org);
                    store
                        .restore_member_of(org, member, role, home, created_at.to_owned())
                        .await
                }
                Action::DeleteMemberOf(unless) => store.delete_member_of(member, org, unless).await,
                Action::DeleteActive => store.delete_active(member, org).await.map(|()| true),
                Action::PurgeInvitation(index) => store
                    .purge_invitation(&records.invitations[index])
                    .await
                    .map(|()| true),
                Action::DeleteCopy(index) => {
                    let (partition, sort, _, _) = &records.copies[index];
                    store.delete_copy(partition, sort).await.map(|()| true)
                }
                Action::None => Ok(true),
            };
            match &result {
                Ok(true) => {}
                // The table changed since the scan: the next audit sees it as it is now.
                Ok(false) => {
                    tracing::warn!(finding = finding.as_str(), org_id = %org, "not repaired: changed since the scan")
                }
                Err(err) => {
                    tracing::error!(finding = finding.as_str(), org_id = %org, error = %err, "repair failed")
                }
            }
            Some(matches!(result, Ok(true)))
        } else {
            None
        };
        found.push(Record {
            finding,
            user_name: None,
            sub: sub.map(|sub| sub.to_string()),
            org: Some(org.to_string()),
            repaired,
        });
    }
    Ok(found)
}

/// What `--fix` does about one finding.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    WriteMemberOf(Role),
    /// Only while the organisation's side (or the organisation) is still absent.
    DeleteMemberOf(Absent),
    DeleteActive,
    /// The invitation at this index of `TeamRecords::invitations`.
    PurgeInvitation(usize),
    /// The by-invitee copy at this index of `TeamRecords::copies`.
    DeleteCopy(usize),
    None,
}

type Found = (Finding, Option<UserSub>, OrgId, Action);

fn findings(records: &TeamRecords, now: i64) -> Vec<Found> {
    let homes: HashSet<OrgId> = records.claims.values().copied().collect();
    // An organisation with no record that is someone's home is the per-user phase's
    // `organisation_missing` (restored there); any other is gone.
    let gone = |org: &OrgId| !records.organisations.contains_key(org) && !homes.contains(org);
    let home_of = |sub: UserSub, org: OrgId| records.claims.get(&sub) == Some(&org);
    let mut found = Vec::new();
    for (&(org, sub), role) in &records.memberships {
        if gone(&org) {
            continue;
        }
        match (records.member_of.get(&(sub, org)), role) {
            (None, Some(role)) => found.push((
                Finding::MemberOfMissing,
                Some(sub),
                org,
                Action::WriteMemberOf(*role),
            )),
            (Some(theirs), ours) if theirs != ours => {
                found.push((Finding::RolesDisagree, Some(sub), org, Action::None))
            }
            _ => {}
        }
    }
    for &(sub, org) in records.member_of.keys() {
        if gone(&org) {
            found.push((
                Finding::PointsAtMissingOrganisation,
                Some(sub),
                org,
                Action::DeleteMemberOf(Absent::Organisation),
            ));
        } else if !records.memberships.contains_key(&(org, sub)) && !home_of(sub, org) {
            found.push((
                Finding::MemberOfWithoutMembership,
                Some(sub),
                org,
                Action::DeleteMemberOf(Absent::OrganisationsSide),
            ));
        }
    }
    for (&sub, org) in &records.active {
        if gone(org) {
            found.push((
                Finding::PointsAtMissingOrganisation,
                Some(sub),
                *org,
                Action::DeleteActive,
            ));
        }
    }
    for (index, invitation) in records.invitations.iter().enumerate() {
        let expired = invitation.state == "pending" && invitation.expires_at <= now;
        if expired || gone(&invitation.org) {
            let finding = if expired {
                Finding::InvitationExpired
            } else {
                Finding::PointsAtMissingOrganisation
            };
            found.push((
                finding,
                None,
                invitation.org,
                Action::PurgeInvitation(index),
            ));
        }
    }
    for (index, (_, _, org, _)) in records.copies.iter().enumerate() {
        if gone(org) {
            found.push((
                Finding::PointsAtMissingOrganisation,
                None,
                *org,
                Action::DeleteCopy(index),
            ));
        }
    }
    // A home's creator is its owner for good; the per-user phase restores a home's lost
    // membership (`membership_missing`).
    for (&org, creator) in &records.organisations {
        let owned = homes.contains(&org)
            || records.memberships.iter().any(|(&(member_in, sub), role)| {
                member_in == org
                    && *role == Some(Role::Owner)
                    && records.member_of.contains_key(&(sub, org))
            });
        if !owned {
            found.push((
                Finding::OrganisationWithoutOwner,
                *creator,
                org,
                Action::None,
            ));
        }
    }
    found.sort_by_key(|(finding, sub, org, _)| (*finding, org.to_string(), *sub));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvitationId;
    use crate::store::StoredInvitation;

    fn sub(n: u8) -> UserSub {
        UserSub::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08x}-1111-4111-8111-111111111111")).unwrap()
    }

    /// Alice (1) owns her home (1) and admins team 2, which Bob (2) owns.
    fn healthy() -> TeamRecords {
        let mut records = TeamRecords::default();
        records.organisations.extend([
            (org(1), Some(sub(1))),
            (org(2), Some(sub(2))),
            (org(3), Some(sub(2))),
        ]);
        records.claims.extend([(sub(1), org(1)), (sub(2), org(3))]);
        for (o, s, role) in [
            (1, 1, Role::Owner),
            (2, 2, Role::Owner),
            (2, 1, Role::Admin),
            (3, 2, Role::Owner),
        ] {
            records.memberships.insert((org(o), sub(s)), Some(role));
            records.member_of.insert((sub(s), org(o)), Some(role));
        }
        records.active.insert(sub(1), org(2));
        records
    }

    fn kinds(found: &[Found]) -> Vec<(Finding, Option<UserSub>, OrgId)> {
        found.iter().map(|(f, s, o, _)| (*f, *s, *o)).collect()
    }

    #[test]
    fn a_healthy_table_has_no_finding() {
        assert_eq!(kinds(&findings(&healthy(), 0)), []);
    }

    #[test]
    fn a_missing_side_of_a_membership_is_written_from_the_organisations_never_granted_from_the_users()
     {
        let mut missing = healthy();
        missing.member_of.remove(&(sub(1), org(2)));
        assert_eq!(
            findings(&missing, 0),
            [(
                Finding::MemberOfMissing,
                Some(sub(1)),
                org(2),
                Action::WriteMemberOf(Role::Admin)
            )]
        );
        // Alice's side of Bob's team without the team recording her: a grant nobody made.
        let mut unrecorded = healthy();
        unrecorded.memberships.remove(&(org(2), sub(1)));
        assert_eq!(
            findings(&unrecorded, 0),
            [(
                Finding::MemberOfWithoutMembership,
                Some(sub(1)),
                org(2),
                Action::DeleteMemberOf(Absent::OrganisationsSide)
            )]
        );
    }

    #[test]
    fn a_homes_lost_membership_is_left_to_the_user_phase() {
        let mut records = healthy();
        records.memberships.remove(&(org(1), sub(1)));
        assert_eq!(kinds(&findings(&records, 0)), []);
    }

    #[test]
    fn disagreeing_roles_are_reported_and_never_repaired() {
        let mut records = healthy();
        records
            .member_of
            .insert((sub(1), org(2)), Some(Role::Owner));
        let found = findings(&records, 0);
        assert_eq!(
            found,
            [(Finding::RolesDisagree, Some(sub(1)), org(2), Action::None)]
        );
        assert!(!Finding::RolesDisagree.repairable());
    }

    #[test]
    fn whatever_points_at_a_deleted_organisation_is_found_and_a_home_is_left_to_the_user_phase() {
        let mut records = healthy();
        records.organisations.remove(&org(2));
        records.organisations.remove(&org(1)); // a home: organisation_missing, restored elsewhere
        records.invitations.push(StoredInvitation {
            org: org(2),
            id: InvitationId::mint(),
            email: None,
            state: "accepted".into(),
            expires_at: i64::MAX,
        });
        records.copies.push((
            "EMAIL#c@example.com".into(),
            "INVITATION#x".into(),
            org(2),
            InvitationId::mint(),
        ));
        assert_eq!(
            kinds(&findings(&records, 0)),
            [
                (Finding::PointsAtMissingOrganisation, None, org(2)),
                (Finding::PointsAtMissingOrganisation, None, org(2)),
                (Finding::PointsAtMissingOrganisation, Some(sub(1)), org(2)),
                (Finding::PointsAtMissingOrganisation, Some(sub(1)), org(2)),
                (Finding::PointsAtMissingOrganisation, Some(sub(2)), org(2)),
            ]
        );
    }

    #[test]
    fn pending_invitations_past_their_expiry_are_purged_and_no_other() {
        let mut records = healthy();
        for (state, expires_at) in [
            ("pending", 99),
            ("pending", 100),
            ("pending", 101),
            ("accepted", 5),
        ] {
            records.invitations.push(StoredInvitation {
                org: org(2),
                id: InvitationId::mint(),
                email: None,
                state: state.into(),
                expires_at,
            });
        }
        let found = findings(&records, 100);
        assert_eq!(
            found.iter().map(|(f, _, _, a)| (*f, a)).collect::<Vec<_>>(),
            [
                (Finding::InvitationExpired, &Action::PurgeInvitation(0)),
                (Finding::InvitationExpired, &Action::PurgeInvitation(1)),
            ]
        );
    }

    #[test]
    fn an_owner_is_one_whose_membership_both_sides_confirm_or_the_homes_creator() {
        let mut records = healthy();
        // A team whose one owner's own side is gone, and who has no claim naming it.
        records.member_of.remove(&(sub(2), org(2)));
        let found = kinds(&findings(&records, 0));
        assert!(
            found.contains(&(Finding::OrganisationWithoutOwner, Some(sub(2)), org(2))),
            "{found:?}"
        );
        // A home from before teams: the org side and the claim, no user side; it is owned.
        let mut legacy = healthy();
        legacy.member_of.remove(&(sub(1), org(1)));
        let found = kinds(&findings(&legacy, 0));
        assert_eq!(found, [(Finding::MemberOfMissing, Some(sub(1)), org(1))]);
    }
}
