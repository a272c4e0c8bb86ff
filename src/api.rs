//! The tenant API (`tenant-api`, behind API Gateway's REST API with `AWS_IAM` on every method):
//!
//! | route                         | answer                                                     |
//! |-------------------------------|------------------------------------------------------------|
//! | `GET /orgs/{org}`             | the organisation's record                                  |
//! | `GET /orgs/{org}/members`     | its members, `limit` (1 to 100, default 25) at a time, `cursor` to go on |
//!
//! IAM lets a tenant call only its own organisation's paths, and for a cached GET it is the
//! only check: API Gateway answers a cache hit without invoking this function, keyed by the
//! path and the declared cache-key parameters, not by the caller (API Gateway developer guide,
//! "Enable API caching"). On a miss the handler also takes the caller's `sub` from the request
//! context's Cognito authentication provider and answers 403 unless that user's claim names the
//! path's organisation; that check never sees a hit, so the template's rules keep every route
//! `AWS_IAM` and cache GETs only. Every answer is safe to cache under the keys the template
//! declares (the organisation, `limit`, `cursor`): a query parameter outside them is refused,
//! and so is one given twice (API Gateway keeps the last value in the map the cache key is made
//! from; reading another would let one request poison the entry), so nothing outside the key
//! can change an answer the cache would serve to others.
//!
//! Every answer carries `Access-Control-Allow-Origin` for the one origin the stack admits
//! (`ALLOWED_ORIGIN`): the web app calls the API from its own origin.

use crate::domain::{OrgId, UserSub};
use crate::store::{OrgStore, StoreError};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{info, warn};

pub const DEFAULT_PAGE: i32 = 25;
pub const MAX_PAGE: i32 = 100;
/// What the identity pool puts before the user's sub in `cognitoAuthenticationProvider`.
const SIGN_IN_MARKER: &str = ":CognitoSignIn:";

/// The one origin whose pages may read the API's answers: `scheme://host[:port]`, never `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigin(String);

#[derive(Debug, thiserror::Error)]
#[error("ALLOWED_ORIGIN must be one origin (scheme://host[:port]), not {0:?}")]
pub struct NotAnOrigin(String);

impl AllowedOrigin {
    /// `None` for an unset or empty value: no CORS header at all.
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, NotAnOrigin> {
        let Some(text) = value.filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        let host = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let valid = host.is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        });
        if valid {
            Ok(Some(Self(text.to_owned())))
        } else {
            Err(NotAnOrigin(text.to_owned()))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(&'static str),
    /// The detail is for the log; the caller is told only "Forbidden".
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("no such route")]
    NotFound,
    #[error("the organisation has no record")]
    NoRecord,
    #[error("only GET is served")]
    MethodNotAllowed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRecord => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the caller may read: never a table, an ARN or SDK text.
    fn public_message(&self) -> String {
        match self {
            Self::Forbidden(_) => "Forbidden".to_owned(),
            Self::Store(_) => "Internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

enum Route {
    Organisation,
    Members,
}

/// The Lambda handler: the JSON answer for API Gateway, every outcome logged.
pub async fn handle(
    request: Request,
    store: &OrgStore,
    origin: Option<&AllowedOrigin>,
) -> Result<Response<Body>, lambda_http::Error> {
    let (status, body) = match serve(&request, store).await {
        Ok(body) => (StatusCode::OK, body),
        Err(err) => {
            let status = err.status();
            if status.is_server_error() {
                warn!(status = status.as_u16(), error = %DisplayErrorContext(&err), "request failed");
            } else {
                info!(status = status.as_u16(), reason = %err, "request refused");
            }
            (
                status,
                json_body(&ErrorBody {
                    message: err.public_message(),
                }),
            )
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(AllowedOrigin(origin)) = origin {
        response = response
            .header("access-control-allow-origin", origin)
            .header("vary", "origin");
    }
    Ok(response.body(body)?)
}

/// The answers' bodies, as the web app reads them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganisationBody {
    org_id: OrgId,
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
    created_at: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody {
    message: String,
}

/// A body of plain data with string keys, whose serialisation cannot fail.
fn json_body(body: &impl Serialize) -> Body {
    Body::Text(serde_json::to_string(body).unwrap_or_default())
}

async fn serve(request: &Request, store: &OrgStore) -> Result<Body, ApiError> {
    if request.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    let RequestContext::ApiGatewayV1(context) = request.request_context() else {
        return Err(ApiError::Forbidden("not an API Gateway REST request"));
    };
    let route = match context.resource_path.as_deref() {
        Some("/orgs/{org}") => Route::Organisation,
        Some("/orgs/{org}/members") => Route::Members,
        _ => return Err(ApiError::NotFound),
    };
    let org = path_org(request)?;
    let query = request.query_string_parameters();
    let allowed: &[&str] = match route {
        Route::Organisation => &[],
        Route::Members => &["limit", "cursor"],
    };
    if query.iter().any(|(name, _)| !allowed.contains(&name)) {
        return Err(ApiError::BadRequest("unknown query parameter"));
    }
    if allowed
        .iter()
        .any(|name| query.all(name).is_some_and(|values| values.len() > 1))
    {
        return Err(ApiError::BadRequest(
            "a query parameter is given more than once",
        ));
    }
    let caller = context
        .identity
        .cognito_authentication_provider
        .as_deref()
        .and_then(|provider| provider.rsplit_once(SIGN_IN_MARKER))
        .and_then(|(_, sub)| UserSub::parse(sub))
        .ok_or(ApiError::Forbidden(
            "no signed-in Cognito user in the request context",
        ))?;
    if store.claimed_org(caller).await? != Some(org) {
        return Err(ApiError::Forbidden(
            "the caller's claim does not name this organisation",
        ));
    }
    info!(sub = %caller, org_id = %org, "serving the caller's organisation");
    match route {
        Route::Organisation => {
            let record = store.organisation(org).await?.ok_or(ApiError::NoRecord)?;
            Ok(json_body(&OrganisationBody {
                org_id: record.org,
                created_at: record.created_at,
                created_by: record.created_by,
            }))
        }
        Route::Members => {
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
            let page = store.members(org, limit, after).await?;
            Ok(json_body(&MembersBody {
                members: page
                    .members
                    .into_iter()
                    .map(|member| MemberBody {
                        sub: member.sub,
                        role: member.role,
                        created_at: member.created_at,
                    })
                    .collect(),
                next: page.next,
            }))
        }
    }
}

/// The path's organisation, spelled exactly as the store and the `org` tag spell it: one
/// spelling per organisation, so one cache key.
fn path_org(request: &Request) -> Result<OrgId, ApiError> {
    request
        .path_parameters()
        .first("org")
        .and_then(|text| canonical(text, OrgId::parse))
        .ok_or(ApiError::BadRequest(
            "the organisation id must be a lower-case hyphenated UUID",
        ))
}

fn canonical<T: ToString>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    parse(text).filter(|value| value.to_string() == text)
}

#[cfg(test)]
mod tests;
