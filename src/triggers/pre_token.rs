//! TokenGeneration_* (pre token generation, event V1_0): the organisation in every ID token is
//! one the table says the user belongs to, with the user's role in it, and the user pool is
//! healed on the way.
//!
//! This is the one trigger that sees every user who signs in, including users made with
//! AdminCreateUser, imported users, and users whose PostConfirmation was deferred or failed.
//! It makes one strongly consistent Query of the user's own partition (home claim,
//! memberships, active choice: `store::memberships`). The token's organisation is the active
//! choice while the user belongs to it, otherwise the home organisation
//! (`Memberships::for_token`); the role claim (`org_role`) is the user's role there.
//!
//! | what the table says                      | the token carries  | also                                  | outcome      |
//! |------------------------------------------|--------------------|---------------------------------------|--------------|
//! | a home claim equal to the attribute      | the chosen org     | nothing (one consistent Query)        | `verified`   |
//! | a home claim, attribute differs or absent | the chosen org    | attribute repaired; differing: `WARN` | `repaired`   |
//! | no claim                                 | a new home org     | provisioned as on sign-up             | `minted`     |
//! | unreadable in time, or no claim and no org could be recorded | no token: a generic error | | `refused` |
//!
//! The attribute stays the record of the home organisation; the token's claim of the same name
//! may name another organisation the user chose. The token never names an organisation the
//! table has not confirmed. An attribute is never used on its own, not even when the table
//! cannot be read: it may have been written by someone other than this function (an import,
//! an administrator), and the browser's own reads need the table anyway, so a token issued
//! without it buys nothing but the risk. Only `claimsOverrideDetails.claimsToAddOrOverride` is
//! touched (custom attributes are not among the claims Cognito refuses to override: developer
//! guide, "Pre token generation Lambda trigger"). Where Cognito sent no
//! `claimsOverrideDetails`, the new one copies the request's `groupConfiguration` into
//! `groupOverrideDetails`, which the guide says keeps the user's groups as they are; an absent
//! one might suppress them.

use crate::config::HANDLER_DEADLINE;
use crate::domain::{OrgId, Role, User};
use crate::outcome::{Outcome, Report, TriggerKind};
use crate::provision::{self, Provisioner};
use crate::triggers::{TriggerError, warn_foreign_org};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde_json::{Map, Value};
use tokio::time::{Instant, timeout_at};
use tracing::{error, info, warn};

/// The claim that carries the user's role in the token's organisation. Not a user pool
/// attribute: nobody but this trigger ever sets it. The identity pool maps it to the `role`
/// principal tag (template.yaml).
pub const ROLE_CLAIM: &str = "org_role";

pub async fn handle(
    payload: Value,
    user: &User,
    provisioner: &Provisioner,
) -> (Result<Value, TriggerError>, Report) {
    let deadline = Instant::now() + HANDLER_DEADLINE;
    let attribute = user.org_attribute.as_deref();
    let memberships = timeout_at(deadline, provisioner.memberships(user.sub)).await;
    let (home, token, outcome) = match memberships {
        Ok(Ok(view)) => match (view.home, view.for_token()) {
            (Some(home), Some(token)) if attribute == Some(home.to_string().as_str()) => {
                (home, token, Outcome::Verified)
            }
            (Some(home), Some(token)) => (home, token, Outcome::Repaired),
            _ => match timeout_at(deadline, provisioner.mint(user.sub)).await {
                Ok(Ok((org, provision::Outcome::Minted))) => {
                    (org, (org, Role::Owner), Outcome::Minted)
                }
                // Another attempt for this user recorded one first: its organisation is the
                // user's home, of which they are the owner.
                Ok(Ok((org, _))) => (org, (org, Role::Owner), Outcome::Repaired),
                Ok(Err(err)) => return refused(user, &DisplayErrorContext(&err).to_string()),
                Err(_) => return refused(user, "recording an organisation took too long"),
            },
        },
        Ok(Err(err)) => return refused(user, &DisplayErrorContext(&err).to_string()),
        Err(_) => return refused(user, "reading the memberships took too long"),
    };
    let (org, role) = token;

    let mut report = report(outcome);
    let attribute_update = if outcome == Outcome::Verified {
        "unchanged"
    } else {
        if let Some(supplied) = attribute {
            warn_foreign_org(user, supplied, home);
            report.foreign_org = true;
        }
        // Best effort: the token is right whether or not this lands, and the next token
        // retries it.
        match timeout_at(deadline, provisioner.set_attribute(user, home)).await {
            Ok(Ok(())) => "updated",
            Ok(Err(err)) => {
                warn!(sub = %user.sub, error = %DisplayErrorContext(&err), "attribute repair deferred to the next token");
                "deferred"
            }
            Err(_) => "deferred",
        }
    };
    info!(
        outcome = outcome.as_str(),
        sub = %user.sub,
        org_id = %org,
        home_org_id = %home,
        role = role.as_str(),
        attribute = attribute_update,
        "token carries an organisation the user belongs to"
    );
    let answer = with_org_claim(payload, provisioner.org_attribute(), org, role);
    (Ok(answer), report)
}

fn report(outcome: Outcome) -> Report {
    Report::new(TriggerKind::TokenGeneration, outcome)
}

fn refused(user: &User, reason: &str) -> (Result<Value, TriggerError>, Report) {
    let outcome = Outcome::Refused;
    error!(outcome = outcome.as_str(), sub = %user.sub, error = reason, "no organisation for the token");
    (Err(TriggerError::NoOrganisation), report(outcome))
}

/// The event with `name` = `org` and the role claim added to the claims to add or override,
/// and nothing else changed (but for the group configuration carried over where the response
/// had none).
pub fn with_org_claim(mut payload: Value, name: &str, org: OrgId, role: Role) -> Value {
    let groups = payload
        .pointer("/request/groupConfiguration")
        .filter(|groups| groups.is_object())
        .cloned();
    let Some(response) = payload.get_mut("response").and_then(Value::as_object_mut) else {
        return payload; // the contract check guarantees an object
    };
    let details = response
        .entry("claimsOverrideDetails")
        .or_insert(Value::Null);
    if details.is_null() {
        let mut created = Map::new();
        if let Some(groups) = groups {
            created.insert("groupOverrideDetails".to_owned(), groups);
        }
        *details = Value::Object(created);
    }
    if let Some(details) = details.as_object_mut() {
        let claims = details
            .entry("claimsToAddOrOverride")
            .or_insert(Value::Null);
        if claims.is_null() {
            *claims = Value::Object(Map::new());
        }
        if let Some(claims) = claims.as_object_mut() {
            claims.insert(name.to_owned(), Value::String(org.to_string()));
            claims.insert(
                ROLE_CLAIM.to_owned(),
                Value::String(role.as_str().to_owned()),
            );
        }
    }
    payload
}
