//! The tenant API (`tenant-api`, behind API Gateway's REST API with `AWS_IAM` on every method).
//!
//! | route                                   | who (IAM, then the handler)      | does                                  |
//! |-----------------------------------------|----------------------------------|---------------------------------------|
//! | `GET /orgs/{org}`                       | members (cached)                 | the organisation's record             |
//! | `GET /orgs/{org}/members`               | members (cached)                 | its members, `limit`/`cursor` pages   |
//! | `PUT /orgs/{org}/members/{sub}`         | admins, owners                   | changes a member's role               |
//! | `DELETE /orgs/{org}/members/{sub}`      | admins, owners                   | removes a member                      |
//! | `DELETE /orgs/{org}/membership`         | members                          | leaves the organisation               |
//! | `GET /orgs/{org}/invitations`           | admins, owners                   | its invitations                       |
//! | `POST /orgs/{org}/invitations`          | admins, owners                   | invites an e-mail address             |
//! | `DELETE /orgs/{org}/invitations/{id}`   | admins, owners                   | revokes a pending invitation          |
//! | `GET /me`                               | any signed-in user               | their organisations and invitations   |
//! | `POST /me/orgs`                         | any signed-in user               | creates an organisation they own      |
//! | `PUT /me/active`                        | any signed-in user               | chooses the organisation of their next token |
//! | `POST /me/invitations/accept`           | any signed-in user               | accepts an invitation                 |
//!
//! IAM lets a tenant call only its own (active) organisation's paths, and admins' routes only
//! with an admin's or owner's `role` tag; for the two cached GETs it is the only check: API
//! Gateway answers a cache hit without invoking this function, keyed by the path and the
//! declared cache-key parameters, not by the caller (API Gateway developer guide, "Enable API
//! caching"), and it would cache a refusal of a miss for every member alike. On every other
//! call, the handler takes the caller's `sub` from the request context's Cognito
//! authentication provider and reads their membership of the path's organisation
//! (consistently): a removed member is refused at once, whatever their token still says.
//! Every GET answer is safe to cache under the keys the template declares: a query parameter
//! outside them is refused, and so is one given twice.
//!
//! A body is JSON (`content-type: application/json`), at most [`MAX_BODY`] bytes, with no
//! unknown field; a route without one refuses any. Every refusal is a 4xx with a short message
//! and writes nothing; an error of the table or another service is a generic 500 or 503.
//!
//! Every answer carries `Access-Control-Allow-Origin` for the one origin the stack admits
//! (`ALLOWED_ORIGIN`): the web app calls the API from its own origin.

mod invitations;
mod me;
mod members;
mod reads;

use crate::domain::{OrgId, Role, UserSub};
use crate::store::{OrgStore, Refusal, StoreError, TeamError};
use crate::user_pool::{UserPool, UserPoolError};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, warn};

pub use invitations::{Mailer, Sender};

pub const DEFAULT_PAGE: i32 = 25;
pub const MAX_PAGE: i32 = 100;
/// The largest request body any route takes.
pub const MAX_BODY: usize = 4096;
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the handler works with, built once per process.
pub struct Api {
    pub store: OrgStore,
    pub user_pool: UserPool,
    pub user_pool_id: String,
    /// Sends invitations; `None` where the stack has no SES identity (the answer then carries
    /// the link for the inviter to pass on).
    pub mailer: Option<Mailer>,
    pub origin: Option<AllowedOrigin>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("{0}")]
    BadBody(String),
    /// The detail is for the log; the caller is told only "Forbidden".
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("no such route")]
    NotFound,
    #[error("the organisation has no record")]
    NoRecord,
    #[error("no such member")]
    NoMember,
    #[error("this route does not take that method")]
    MethodNotAllowed,
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    UserPool(#[from] UserPoolError),
    /// SES's error code only: its message may name the recipient, which no log line carries.
    #[error("sending the invitation e-mail failed: {0}")]
    Mail(String),
    #[error("accepting an invitation needs a verified e-mail address")]
    NoVerifiedEmail,
    #[error("{0}")]
    Internal(String),
}

impl From<TeamError> for ApiError {
    fn from(err: TeamError) -> Self {
        match err {
            TeamError::Refused(refusal) => Self::Refused(refusal),
            TeamError::Store(err) => Self::Store(err),
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::NoVerifiedEmail => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRecord | Self::NoMember => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Refused(Refusal::NotAMember) => StatusCode::FORBIDDEN,
            Self::Refused(Refusal::InvitationUnusable) => StatusCode::GONE,
            Self::Refused(_) => StatusCode::CONFLICT,
            Self::Mail(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::UserPool(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the caller may read: never a table, an ARN or SDK text.
    fn public_message(&self) -> String {
        match self {
            Self::Forbidden(_) => "Forbidden".to_owned(),
            Self::Mail(_) => "The invitation e-mail could not be sent; nothing was kept".to_owned(),
            Self::Store(_) | Self::UserPool(_) | Self::Internal(_) => "Internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

/// The Lambda handler: the JSON answer for API Gateway, every outcome logged.
pub async fn handle(request: Request, api: &Api) -> Result<Response<Body>, lambda_http::Error> {
    let (status, body) = match serve(&request, api).await {
        Ok(answer) => answer,
        Err(err) => {
            let status = err.status();
            if status.is_server_error() {
                warn!(status = status.as_u16(), error = %DisplayErrorContext(&err), "request failed");
            } else if let ApiError::BadBody(_) = err {
                // serde's message may quote what was sent (an address, say): the caller is
                // told it, the log is not.
                info!(
                    status = status.as_u16(),
                    reason = "the body is not valid",
                    "request refused"
                );
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
    if let Some(AllowedOrigin(origin)) = &api.origin {
        response = response
            .header("access-control-allow-origin", origin)
            .header("vary", "origin");
    }
    Ok(response.body(body)?)
}

#[derive(Serialize)]
struct ErrorBody {
    message: String,
}

/// A body of plain data with string keys, whose serialisation cannot fail.
fn json_body(body: &impl Serialize) -> Body {
    Body::Text(serde_json::to_string(body).unwrap_or_default())
}

type Answer = Result<(StatusCode, Body), ApiError>;

fn ok(body: &impl Serialize) -> Answer {
    Ok((StatusCode::OK, json_body(body)))
}

/// The signed-in user making the request, and the request itself.
struct Call<'a> {
    request: &'a Request,
    caller: UserSub,
}

async fn serve(request: &Request, api: &Api) -> Answer {
    let RequestContext::ApiGatewayV1(context) = request.request_context() else {
        return Err(ApiError::Forbidden("not an API Gateway REST request"));
    };
    let resource = context.resource_path.as_deref().unwrap_or_default();
    let method = request.method();
    // Only routes the template declares; a method a route lacks is 405 before anything else.
    let methods: &[Method] = match resource {
        "/orgs/{org}" | "/orgs/{org}/members" | "/me" => &[Method::GET],
        "/orgs/{org}/invitations" => &[Method::GET, Method::POST],
        "/orgs/{org}/members/{sub}" => &[Method::PUT, Method::DELETE],
        "/orgs/{org}/membership" | "/orgs/{org}/invitations/{invitation}" => &[Method::DELETE],
        "/me/orgs" | "/me/invitations/accept" => &[Method::POST],
        "/me/active" => &[Method::PUT],
        _ => return Err(ApiError::NotFound),
    };
    if !methods.contains(method) {
        return Err(ApiError::MethodNotAllowed);
    }
    let allowed_query: &[&str] = match resource {
        "/orgs/{org}/members" if method == Method::GET => &["limit", "cursor"],
        _ => &[],
    };
    check_query(request, allowed_query)?;
    let call = Call {
        request,
        caller: caller(request)?,
    };
    if let Some(rest) = resource.strip_prefix("/me") {
        return match (method, rest) {
            (&Method::GET, "") => me::overview(&call, api).await,
            (&Method::POST, "/orgs") => me::create_organisation(&call, api).await,
            (&Method::PUT, "/active") => me::choose_active(&call, api).await,
            (_, _) => me::accept(&call, api).await,
        };
    }
    let org = path_org(request)?;
    // The two cached reads rely on IAM alone, as every cache hit of theirs does: a refusal
    // answered here would be cached under the organisation's key and served to every member
    // (API Gateway caches what the integration answers), and what they show is in the
    // organisation's partition, which the same session may read from DynamoDB anyway.
    match (method, resource) {
        (&Method::GET, "/orgs/{org}") => return reads::organisation(&call, org, api).await,
        (&Method::GET, "/orgs/{org}/members") => return reads::members(&call, org, api).await,
        _ => {}
    }
    // Membership, read now: the token may predate a removal.
    let role = api
        .store
        .role_of(org, call.caller)
        .await?
        .ok_or(ApiError::Forbidden(
            "the caller is not a member of this organisation",
        ))?;
    info!(sub = %call.caller, org_id = %org, role = role.as_str(), "serving a member of the organisation");
    let acting = Acting { call, org, role };
    match (method, resource) {
        (&Method::PUT, "/orgs/{org}/members/{sub}") => members::change_role(&acting, api).await,
        (&Method::DELETE, "/orgs/{org}/members/{sub}") => members::remove(&acting, api).await,
        (&Method::DELETE, "/orgs/{org}/membership") => members::leave(&acting, api).await,
        (&Method::GET, "/orgs/{org}/invitations") => invitations::list(&acting, api).await,
        (&Method::POST, "/orgs/{org}/invitations") => invitations::create(&acting, api).await,
        _ => invitations::revoke(&acting, api).await,
    }
}

/// A member acting on the path's organisation, with their role there (read for this call).
struct Acting<'a> {
    call: Call<'a>,
    org: OrgId,
    role: Role,
}

impl Acting<'_> {
    /// Admins' routes: IAM already asks for an admin's or owner's role tag; the table's role,
    /// read now, decides.
    fn require_admin(&self) -> Result<(), ApiError> {
        if self.role >= Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "the caller is not an admin of this organisation",
            ))
        }
    }
}

fn caller(request: &Request) -> Result<UserSub, ApiError> {
    let RequestContext::ApiGatewayV1(context) = request.request_context() else {
        return Err(ApiError::Forbidden("not an API Gateway REST request"));
    };
    context
        .identity
        .cognito_authentication_provider
        .as_deref()
        .and_then(|provider| provider.rsplit_once(SIGN_IN_MARKER))
        .and_then(|(_, sub)| UserSub::parse(sub))
        .ok_or(ApiError::Forbidden(
            "no signed-in Cognito user in the request context",
        ))
}

fn check_query(request: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let query = request.query_string_parameters();
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
    Ok(())
}

/// The request's JSON body as `T`, which refuses unknown fields.
fn json<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request)?;
    let media_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if media_type.as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(bytes).map_err(|err| {
        // serde's message names the field and the expected type (and, for a wrong type, the
        // value sent: the caller's own; never logged).
        let message = err.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        ApiError::BadBody(format!("the body is not valid: {message}"))
    })
}

/// A route that takes no body refuses one.
fn no_body(request: &Request) -> Result<(), ApiError> {
    if body_bytes(request)?.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest("this route takes no body"))
    }
}

fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(ApiError::BadRequest("the body cannot be read")),
    };
    if bytes.len() > MAX_BODY {
        return Err(ApiError::TooLarge);
    }
    Ok(bytes)
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

/// Seconds since the epoch, now.
fn epoch_seconds() -> Result<i64, ApiError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .map_err(|err| ApiError::Internal(format!("the clock is before 1970: {err}")))
}

fn timestamp() -> Result<String, ApiError> {
    crate::provision::now().map_err(|err| ApiError::Internal(err.to_string()))
}

#[cfg(test)]
mod team_tests;
#[cfg(test)]
mod tests;
