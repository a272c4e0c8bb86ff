//! The audit: walk the user pool and the table, report every way a user's organisation can be
//! wrong, and (with `fix`) repair it through the same code path as the triggers.
//!
//! | finding                      | meaning                                               | `--fix`                                 |
//! |------------------------------|-------------------------------------------------------|-----------------------------------------|
//! | `no_claim`                   | a user with no organisation on record                 | provisioned as on sign-up (`Provisioner::provision`) |
//! | `attribute_missing`          | a claim, but the user's `custom:org` is not set       | attribute set to the claim's organisation |
//! | `attribute_mismatch`         | `custom:org` names another organisation than the claim | attribute set to the claim's organisation |
//! | `organisation_missing`       | the claim's organisation item is gone                 | item written again (never replacing one) |
//! | `membership_missing`         | the owner's membership item is gone                   | item written again (never replacing one) |
//! | `corrupt_claim`              | the claim holds no valid organisation id              | none: a person must look               |
//! | `no_sub`                     | the pool reports no UUID `sub` for the user           | none: a person must look               |
//!
//! A second phase scans the table for the teams' records: both sides of every membership, the
//! owners, invitations and what points at a deleted organisation ([`teams`] has its table).
//!
//! The walk is paced below Cognito's account-wide quotas (ListUsers: UserList, 30 requests a
//! second; AdminUpdateUserAttributes: UserUpdate, 25 a second: Cognito developer guide,
//! "Quotas"), by default at a fifth of each so that live sign-ups keep the rest. After each
//! page of users (at most 60) it records where it is in a checkpoint, so an interrupted run
//! resumes there; the checkpoint holds every finding so far, and writing it once a page rather
//! than once a user keeps that cost small in a large pool. Every repair is idempotent, so the
//! part of a page done again after a crash is harmless.

use crate::domain::{OrgId, Role, User, UserSub};
use crate::provision::{Provisioner, now};
use crate::store::NewOrg;
use crate::user_pool::ListedUser;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use strum::IntoEnumIterator;
use tokio::time::Instant;

/// What the audit can find, named in the report and the log as `snake_case`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Finding {
    NoClaim,
    AttributeMissing,
    AttributeMismatch,
    OrganisationMissing,
    MembershipMissing,
    CorruptClaim,
    NoSub,
    OrganisationWithoutOwner,
    MemberOfMissing,
    MemberOfWithoutMembership,
    RolesDisagree,
    PointsAtMissingOrganisation,
    InvitationExpired,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether `--fix` repairs this finding.
    pub fn repairable(self) -> bool {
        !matches!(
            self,
            Finding::CorruptClaim
                | Finding::NoSub
                | Finding::OrganisationWithoutOwner
                | Finding::RolesDisagree
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the user pool could not be listed")]
    List(#[from] crate::user_pool::UserPoolError),
    #[error("the table could not be read")]
    Read(#[from] crate::store::StoreError),
    #[error("the clock is out of range: {0}")]
    Clock(String),
    #[error("the checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
}

pub struct Options {
    pub user_pool_id: String,
    pub fix: bool,
    /// ListUsers calls a second.
    pub list_rate: CallsPerSecond,
    /// AdminUpdateUserAttributes calls (repairs) a second.
    pub update_rate: CallsPerSecond,
    /// Where progress is recorded; an existing checkpoint for the same pool is resumed.
    pub checkpoint: Option<PathBuf>,
    /// Stop once this many users have been seen, as an interruption would (for testing
    /// resumption).
    pub stop_after: Option<std::num::NonZeroUsize>,
}

/// One finding about one user or organisation, and what `--fix` did about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub finding: Finding,
    pub user_name: Option<String>,
    pub sub: Option<String>,
    #[serde(rename = "orgId")]
    pub org: Option<String>,
    /// None in a dry run or for a finding no fix applies to.
    pub repaired: Option<bool>,
}

/// Where the walk is, and what it found so far: the checkpoint's content, and the report's
/// (which adds the counts).
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub user_pool_id: String,
    /// The ListUsers token of the page being worked on (None: the first page).
    pub page_token: Option<String>,
    /// Users of that page already done.
    pub done_in_page: usize,
    pub users_seen: usize,
    pub users_complete: bool,
    #[serde(rename = "findings")]
    pub records: Vec<Record>,
}

/// The JSON report: the progress and, for every finding, how many were found and repaired.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    progress: &'a Progress,
    counts: BTreeMap<&'static str, Count>,
}

#[derive(Serialize)]
struct Count {
    found: usize,
    repaired: usize,
}

/// A rate of calls: finite, from one call in 100 s to 1,000 a second. Zero, a negative or a
/// NaN rate would make a pace that sleeps for ever (or panics computing how long).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallsPerSecond(f64);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("a rate is a number of calls a second from {min} to {max}, not {0}", min = CallsPerSecond::MIN, max = CallsPerSecond::MAX)]
pub struct RateError(String);

impl CallsPerSecond {
    pub const MIN: f64 = 0.01;
    pub const MAX: f64 = 1_000.0;

    pub fn new(rate: f64) -> Result<Self, RateError> {
        if (Self::MIN..=Self::MAX).contains(&rate) {
            Ok(Self(rate))
        } else {
            Err(RateError(rate.to_string()))
        }
    }

    fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.0)
    }
}

impl std::str::FromStr for CallsPerSecond {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rate = text
            .trim()
            .parse()
            .map_err(|_| RateError(text.to_owned()))?;
        Self::new(rate)
    }
}

/// Paces calls to at most a rate.
pub struct Pace {
    interval: Duration,
    next: Instant,
}

impl Pace {
    pub fn new(rate: CallsPerSecond) -> Self {
        Self {
            interval: rate.interval(),
            next: Instant::now(),
        }
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = Instant::now().max(self.next) + self.interval;
    }
}

/// What the walk reports as it goes: the command draws a progress bar from it.
pub trait Observer {
    fn user_done(&self, _progress: &Progress) {}
    fn phase(&self, _name: &str) {}
}

pub struct Audit<'a> {
    provisioner: &'a Provisioner,
    options: Options,
    list_pace: Pace,
    update_pace: Pace,
}

impl<'a> Audit<'a> {
    pub fn new(provisioner: &'a Provisioner, options: Options) -> Self {
        let list_pace = Pace::new(options.list_rate);
        let update_pace = Pace::new(options.update_rate);
        Self {
            provisioner,
            options,
            list_pace,
            update_pace,
        }
    }

    /// Runs (or resumes) the audit. Returns the progress, complete unless `stop_after` cut
    /// it short.
    pub async fn run(&mut self, observer: &dyn Observer) -> Result<Progress, AuditError> {
        let mut progress = self.load_checkpoint()?;
        observer.phase("users");
        while !progress.users_complete {
            self.list_pace.wait().await;
            let page = self
                .provisioner
                .user_pool()
                .list_users(&self.options.user_pool_id, progress.page_token.clone())
                .await?;
            let todo = &page.users[progress.done_in_page.min(page.users.len())..];
            let records = self.check_users(todo).await?;
            for (user, found) in todo.iter().zip(records) {
                for record in found {
                    progress.records.push(self.repair(user, record).await);
                }
                progress.done_in_page += 1;
                progress.users_seen += 1;
                observer.user_done(&progress);
                // At or past: a resumed run may start beyond the number asked for.
                if self
                    .options
                    .stop_after
                    .is_some_and(|stop| progress.users_seen >= stop.get())
                {
                    self.save_checkpoint(&progress)?;
                    return Ok(progress);
                }
            }
            progress.page_token = page.next;
            progress.done_in_page = 0;
            progress.users_complete = progress.page_token.is_none();
            self.save_checkpoint(&progress)?;
        }
        observer.phase("organisations");
        // The scan's findings are made anew by every run that gets this far.
        progress.records.retain(|r| r.user_name.is_some());
        let created_at = now().map_err(|err| AuditError::Clock(err.to_string()))?;
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|err| AuditError::Clock(err.to_string()))?
            .as_secs() as i64;
        let found = teams::audit(
            self.provisioner.store(),
            self.options.fix,
            seconds,
            &created_at,
        )
        .await?;
        progress.records.extend(found);
        self.save_checkpoint(&progress)?;
        Ok(progress)
    }

    /// The findings for each of these users: their claims and records in two batched reads.
    async fn check_users(&self, users: &[ListedUser]) -> Result<Vec<Vec<Record>>, AuditError> {
        let store = self.provisioner.store();
        let subs: Vec<_> = users.iter().filter_map(|user| user.sub).collect();
        let claims = store.claims_of(&subs).await?;
        let owned: Vec<(OrgId, UserSub)> = subs
            .iter()
            .filter_map(|sub| match claims.get(sub) {
                Some(Ok(org)) => Some((*org, *sub)),
                _ => None,
            })
            .collect();
        let records: BTreeMap<UserSub, _> = owned
            .iter()
            .map(|(_, sub)| *sub)
            .zip(store.records_of(&owned).await?)
            .collect();

        Ok(users
            .iter()
            .map(|user| {
                let record = |finding, org: Option<OrgId>| Record {
                    finding,
                    user_name: Some(user.user_name.clone()),
                    sub: user.sub.map(|sub| sub.to_string()),
                    org: org.map(|org| org.to_string()),
                    repaired: None,
                };
                let Some(sub) = user.sub else {
                    return vec![record(Finding::NoSub, None)];
                };
                let org = match claims.get(&sub) {
                    None => return vec![record(Finding::NoClaim, None)],
                    Some(Err(_)) => return vec![record(Finding::CorruptClaim, None)],
                    Some(Ok(org)) => *org,
                };
                let mut found = Vec::new();
                match user.org_attribute.as_deref() {
                    None => found.push(record(Finding::AttributeMissing, Some(org))),
                    Some(value) if value != org.to_string() => {
                        found.push(record(Finding::AttributeMismatch, Some(org)))
                    }
                    Some(_) => {}
                }
                if let Some(records) = records.get(&sub) {
                    if !records.organisation {
                        found.push(record(Finding::OrganisationMissing, Some(org)));
                    }
                    if !records.membership {
                        found.push(record(Finding::MembershipMissing, Some(org)));
                    }
                }
                found
            })
            .collect())
    }

    /// With `fix`, repairs one finding through the triggers' own code path.
    async fn repair(&mut self, user: &ListedUser, mut record: Record) -> Record {
        if !self.options.fix || !record.finding.repairable() {
            return record;
        }
        let (Some(sub), org) = (user.sub, record.org.as_deref().and_then(OrgId::parse)) else {
            return record;
        };
        let subject = User {
            user_pool_id: self.options.user_pool_id.clone(),
            user_name: user.user_name.clone(),
            sub,
            org_attribute: user.org_attribute.clone(),
        };
        let provisioner = self.provisioner;
        let repaired = match (record.finding, org) {
            (Finding::NoClaim, _) => {
                self.update_pace.wait().await;
                match provisioner.provision(&subject).await {
                    Ok(provisioned) => {
                        record.org = Some(provisioned.org.to_string());
                        Ok(())
                    }
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                }
            }
            (Finding::AttributeMissing | Finding::AttributeMismatch, Some(org)) => {
                self.update_pace.wait().await;
                provisioner
                    .set_attribute(&subject, org)
                    .await
                    .map_err(|err| DisplayErrorContext(&err).to_string())
            }
            (Finding::OrganisationMissing | Finding::MembershipMissing, Some(org)) => match now() {
                // The claim's holder created the organisation the claim names: they are its
                // owner. A membership the claim does not prove is never restored here.
                Ok(created_at) => provisioner
                    .store()
                    .restore(
                        &NewOrg {
                            org,
                            creator: sub,
                            created_at,
                        },
                        sub,
                        Role::Owner,
                    )
                    .await
                    .map_err(|err| DisplayErrorContext(&err).to_string()),
                Err(err) => Err(DisplayErrorContext(&err).to_string()),
            },
            _ => Err("nothing to repair with".to_owned()),
        };
        if let Err(err) = &repaired {
            tracing::error!(finding = record.finding.as_str(), sub = %sub, error = %err, "repair failed");
        }
        record.repaired = Some(repaired.is_ok());
        record
    }

    fn load_checkpoint(&self) -> Result<Progress, AuditError> {
        let fresh = Progress {
            user_pool_id: self.options.user_pool_id.clone(),
            ..Progress::default()
        };
        let Some(path) = &self.options.checkpoint else {
            return Ok(fresh);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(fresh),
            Err(err) => return Err(checkpoint_error(path, err.to_string())),
        };
        let progress: Progress = serde_json::from_str(&text).map_err(|err| {
            checkpoint_error(path, format!("not a checkpoint of this command: {err}"))
        })?;
        if progress.user_pool_id != self.options.user_pool_id {
            return Err(checkpoint_error(path, "it is for another user pool".into()));
        }
        Ok(progress)
    }

    /// Written whole to a temporary file and renamed over the old one, so that a crash
    /// leaves either checkpoint, never half of one.
    fn save_checkpoint(&self, progress: &Progress) -> Result<(), AuditError> {
        let Some(path) = &self.options.checkpoint else {
            return Ok(());
        };
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, progress.report())
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|err| checkpoint_error(path, err.to_string()))
    }
}

fn checkpoint_error(path: &std::path::Path, reason: String) -> AuditError {
    AuditError::Checkpoint {
        path: path.display().to_string(),
        reason,
    }
}

impl Progress {
    /// The number of each finding, and of those repaired.
    pub fn counts(&self) -> BTreeMap<Finding, (usize, usize)> {
        let mut counts: BTreeMap<Finding, (usize, usize)> = BTreeMap::new();
        for record in &self.records {
            let count = counts.entry(record.finding).or_default();
            count.0 += 1;
            count.1 += usize::from(record.repaired == Some(true));
        }
        counts
    }

    /// The report: the checkpoint's fields and every finding's counts, as JSON.
    pub fn report(&self) -> String {
        let counted = self.counts();
        let counts = Finding::iter()
            .map(|finding| {
                let (found, repaired) = counted.get(&finding).copied().unwrap_or_default();
                (finding.as_str(), Count { found, repaired })
            })
            .collect();
        let report = Report {
            progress: self,
            counts,
        };
        // Plain data with string keys: serialising it cannot fail.
        serde_json::to_string(&report).unwrap_or_default()
    }
}

mod teams;

#[cfg(test)]
mod tests;
