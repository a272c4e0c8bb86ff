//! Membership changes: a role changed, a member removed, a member leaving. Who may do what:
//!
//! | actor  | change a role                    | remove              | leave |
//! |--------|----------------------------------|---------------------|-------|
//! | owner  | anyone's, to any role            | anyone              | yes   |
//! | admin  | a member's or admin's, up to admin | a member or admin | yes   |
//! | member | no                               | no                  | yes   |
//!
//! The table keeps the rest in the change's one transaction: the role is still the one read,
//! the organisation keeps an owner, and the home organisation keeps its creator as owner.
//! Transferring ownership is making another member an owner, then stepping down.

use super::{Acting, Answer, Api, ApiError, json, no_body, ok};
use crate::domain::{Role, UserSub};
use crate::store::MembershipChange;
use lambda_http::RequestExt;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    role: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    sub: UserSub,
    role: Option<Role>,
}

pub(super) async fn change_role(acting: &Acting<'_>, api: &Api) -> Answer {
    acting.require_admin()?;
    let NewRole { role } = json(acting.call.request)?;
    let to =
        Role::parse(&role).ok_or(ApiError::BadRequest("role must be owner, admin or member"))?;
    let (member, from) = target(acting, api).await?;
    if to > acting.role {
        return Err(ApiError::Forbidden("a role above the caller's own"));
    }
    if from != to {
        api.store
            .change_membership(&MembershipChange {
                org: acting.org,
                member,
                from,
                to: Some(to),
                actor: Some((acting.call.caller, acting.role)),
            })
            .await?;
    }
    tracing::info!(sub = %acting.call.caller, member = %member, org_id = %acting.org, from = from.as_str(), to = to.as_str(), "role changed");
    ok(&Changed {
        sub: member,
        role: Some(to),
    })
}

pub(super) async fn remove(acting: &Acting<'_>, api: &Api) -> Answer {
    acting.require_admin()?;
    no_body(acting.call.request)?;
    let (member, from) = target(acting, api).await?;
    end(acting, api, member, from).await
}

pub(super) async fn leave(acting: &Acting<'_>, api: &Api) -> Answer {
    no_body(acting.call.request)?;
    end(acting, api, acting.call.caller, acting.role).await
}

async fn end(acting: &Acting<'_>, api: &Api, member: UserSub, from: Role) -> Answer {
    api.store
        .change_membership(&MembershipChange {
            org: acting.org,
            member,
            from,
            to: None,
            actor: Some((acting.call.caller, acting.role)),
        })
        .await?;
    tracing::info!(sub = %acting.call.caller, member = %member, org_id = %acting.org, "membership ended");
    ok(&Changed {
        sub: member,
        role: None,
    })
}

/// The path's member and their role now; only one the caller outranks or equals.
async fn target(acting: &Acting<'_>, api: &Api) -> Result<(UserSub, Role), ApiError> {
    let member = acting
        .call
        .request
        .path_parameters()
        .first("sub")
        .and_then(|text| super::canonical(text, UserSub::parse))
        .ok_or(ApiError::BadRequest(
            "the member's sub must be a lower-case hyphenated UUID",
        ))?;
    let role = api
        .store
        .role_of(acting.org, member)
        .await?
        .ok_or(ApiError::NoMember)?;
    if role > acting.role {
        return Err(ApiError::Forbidden("a member who outranks the caller"));
    }
    Ok((member, role))
}
