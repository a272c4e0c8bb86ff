//! The signed-in user's own routes: what they belong to, creating an organisation, choosing
//! the one their next token names, and accepting an invitation.

use super::{Answer, Api, ApiError, Call, epoch_seconds, json, no_body, ok, timestamp};
use crate::domain::{Email, InvitationId, OrgId, Role, Secret, UserSub};
use crate::store::{Acceptance, MAX_MEMBERSHIPS, NewOrg};
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

/// The longest organisation name, in characters.
const MAX_NAME: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Overview {
    sub: UserSub,
    /// The home organisation: the user's own, minted at sign-up.
    home: Option<OrgId>,
    /// What the next token will name.
    active: Option<OrgId>,
    organisations: Vec<OrganisationOf>,
    /// Pending, unexpired invitations to the user's verified e-mail address.
    invitations: Vec<PendingInvitation>,
    max_organisations: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganisationOf {
    org_id: OrgId,
    role: Role,
    name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PendingInvitation {
    org_id: OrgId,
    invitation_id: InvitationId,
    org_name: Option<String>,
    role: Role,
    expires_at: i64,
}

pub(super) async fn overview(call: &Call<'_>, api: &Api) -> Answer {
    no_body(call.request)?;
    let (memberships, member_of) = api.store.memberships_named(call.caller).await?;
    let mut organisations: Vec<OrganisationOf> = member_of
        .into_iter()
        .map(|member_of| OrganisationOf {
            org_id: member_of.org,
            role: member_of.role,
            name: member_of.org_name,
        })
        .collect();
    // A user from before teams has no membership item of their home: it is theirs all the same.
    if let Some(home) = memberships.home
        && !organisations.iter().any(|org| org.org_id == home)
    {
        organisations.insert(
            0,
            OrganisationOf {
                org_id: home,
                role: Role::Owner,
                name: None,
            },
        );
    }
    let now = epoch_seconds()?;
    let invitations = match verified_email(call, api).await? {
        None => Vec::new(),
        Some(email) => api
            .store
            .invitations_for(&email)
            .await?
            .into_iter()
            .filter(|invitation| invitation.expires_at > now)
            .map(|invitation| PendingInvitation {
                org_id: invitation.org,
                invitation_id: invitation.id,
                org_name: invitation.org_name,
                role: invitation.role,
                expires_at: invitation.expires_at,
            })
            .collect(),
    };
    ok(&Overview {
        sub: call.caller,
        home: memberships.home,
        active: memberships.for_token().map(|(org, _)| org),
        organisations,
        invitations,
        max_organisations: MAX_MEMBERSHIPS,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganisation {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    org_id: OrgId,
    name: String,
    role: Role,
}

pub(super) async fn create_organisation(call: &Call<'_>, api: &Api) -> Answer {
    let NewOrganisation { name } = json(call.request)?;
    let name = organisation_name(&name)?;
    let new = NewOrg {
        org: OrgId::mint(),
        creator: call.caller,
        created_at: timestamp()?,
    };
    api.store.create_organisation(&new, &name).await?;
    tracing::info!(sub = %call.caller, org_id = %new.org, "organisation created");
    Ok((
        StatusCode::CREATED,
        super::json_body(&Created {
            org_id: new.org,
            name,
            role: Role::Owner,
        }),
    ))
}

/// A name as shown to members: trimmed, 1 to 100 characters, no control characters.
fn organisation_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::BadRequest("name must have 1 to 100 characters"));
    }
    // Control characters, and the invisible ones that reorder or hide text (bidirectional
    // controls, zero-width characters): the name goes into e-mails and other members' pages.
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(ApiError::BadRequest(
            "name may not hold control or invisible characters",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Choice {
    org_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Chosen {
    active: OrgId,
}

pub(super) async fn choose_active(call: &Call<'_>, api: &Api) -> Answer {
    let Choice { org_id } = json(call.request)?;
    let org = super::canonical(&org_id, OrgId::parse).ok_or(ApiError::BadRequest(
        "orgId must be a lower-case hyphenated UUID",
    ))?;
    api.store.choose_active(call.caller, org).await?;
    tracing::info!(sub = %call.caller, org_id = %org, "active organisation chosen");
    ok(&Chosen { active: org })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AcceptBody {
    org_id: String,
    invitation_id: String,
    secret: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    org_id: OrgId,
    role: Role,
}

pub(super) async fn accept(call: &Call<'_>, api: &Api) -> Answer {
    let AcceptBody {
        org_id,
        invitation_id,
        secret,
    } = json(call.request)?;
    let org = super::canonical(&org_id, OrgId::parse).ok_or(ApiError::BadRequest(
        "orgId must be a lower-case hyphenated UUID",
    ))?;
    let id = InvitationId::parse(&invitation_id).ok_or(ApiError::BadRequest(
        "invitationId must be a lower-case hyphenated UUID",
    ))?;
    let secret = Secret::parse(&secret).ok_or(ApiError::BadRequest(
        "secret must be the 64 hexadecimal digits of the invitation link",
    ))?;
    let email = verified_email(call, api)
        .await?
        .ok_or(ApiError::NoVerifiedEmail)?;
    let role = api
        .store
        .accept(&Acceptance {
            sub: call.caller,
            email,
            org,
            id,
            hash: secret.hash(),
            now: epoch_seconds()?,
            created_at: timestamp()?,
        })
        .await?;
    tracing::info!(sub = %call.caller, org_id = %org, role = role.as_str(), "invitation accepted");
    ok(&Accepted { org_id: org, role })
}

/// The caller's e-mail address, as the user pool has verified it.
async fn verified_email(call: &Call<'_>, api: &Api) -> Result<Option<Email>, ApiError> {
    let email = api
        .user_pool
        .verified_email(&api.user_pool_id, call.caller)
        .await?;
    Ok(email.and_then(|email| Email::parse(&email).ok()))
}
