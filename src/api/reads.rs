//! The cached reads: the organisation's record and its members. IAM alone decides who gets
//! them (src/api.rs says why); what they show is readable by the same session in DynamoDB.

use super::{Answer, Api, ApiError, Call, DEFAULT_PAGE, MAX_PAGE, canonical, no_body, ok};
use crate::domain::{OrgId, UserSub};
use lambda_http::RequestExt;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganisationBody {
    org_id: OrgId,
    name: Option<String>,
    created_at: Option<String>,
    created_by: Option<UserSub>,
}

#[derive(Serialize)]
struct MembersBody {
    members: Vec<MemberBody>,
    /// The cursor for the next page: the last member's sub, where more may follow.
    next: Option<UserSub>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberBody {
    sub: UserSub,
    role: Option<String>,
    email: Option<String>,
    created_at: Option<String>,
}

pub(super) async fn organisation(call: &Call<'_>, org: OrgId, api: &Api) -> Answer {
    no_body(call.request)?;
    let record = api
        .store
        .organisation(org)
        .await?
        .ok_or(ApiError::NoRecord)?;
    ok(&OrganisationBody {
        org_id: record.org,
        name: record.name,
        created_at: record.created_at,
        created_by: record.created_by,
    })
}

pub(super) async fn members(call: &Call<'_>, org: OrgId, api: &Api) -> Answer {
    let request = call.request;
    no_body(request)?;
    let query = request.query_string_parameters();
    let limit = match query.first("limit") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or(ApiError::BadRequest(
                "limit must be a whole number from 1 to 100",
            ))?,
    };
    let after = match query.first("cursor") {
        None => None,
        Some(text) => Some(
            canonical(text, UserSub::parse)
                .ok_or(ApiError::BadRequest("cursor is not one this API gave"))?,
        ),
    };
    let page = api.store.members(org, limit, after).await?;
    ok(&MembersBody {
        members: page
            .members
            .into_iter()
            .map(|member| MemberBody {
                sub: member.sub,
                role: member.role,
                email: member.email,
                created_at: member.created_at,
            })
            .collect(),
        next: page.next,
    })
}
