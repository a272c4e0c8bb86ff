//! Invitations: an admin or owner invites an e-mail address with a role no higher than their
//! own; the invitation is bound to that address, carries a 256-bit secret kept only as its
//! hash, expires (7 days unless asked, at most 30), and is single-use and revocable. The
//! e-mail goes through SES with the secret in the link's fragment (`#invite=...`), which no
//! browser sends to a server and no Referer carries. Accepting is `POST /me/invitations/accept`.

use super::{Acting, Answer, Api, ApiError, epoch_seconds, json, no_body, ok, timestamp};
use crate::domain::{Email, InvitationId, NoRandomness, Role, Secret};
use crate::store::NewInvitation;
use aws_sdk_sesv2::types::{Body as MailBody, Content, Destination, EmailContent, Message};
use lambda_http::RequestExt;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

pub const DEFAULT_DAYS: i64 = 7;
pub const MAX_DAYS: i64 = 30;
const DAY: i64 = 24 * 60 * 60;

/// Where invitations come from: the From address and the Region of its SES identity.
#[derive(Debug, PartialEq, Eq)]
pub struct Sender {
    pub from: String,
    pub region: String,
}

impl Sender {
    /// From the function's variables: `INVITATION_FROM` (an address, or `Name <address>`) and
    /// `INVITATION_SOURCE_ARN` (the SES identity, whose Region SES must be called in: Cognito
    /// allows an identity in another Region than the pool's). `None` with a reason where
    /// either is missing or unusable, e.g. a domain identity with no From address: then
    /// invitations answer with their link, as with no SES at all.
    pub fn from_settings(
        from: Option<&str>,
        identity: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let (Some(from), Some(identity)) = (from, identity) else {
            return Ok(None);
        };
        if !from.contains('@') {
            return Err(format!(
                "INVITATION_FROM {from:?} is no e-mail address (a domain identity needs EmailFrom)"
            ));
        }
        // arn:aws:ses:<region>:<account>:identity/<name>
        match identity.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "ses", region, _, rest]
                if !region.is_empty() && rest.starts_with("identity/") =>
            {
                Ok(Some(Self {
                    from: from.to_owned(),
                    region: (*region).to_owned(),
                }))
            }
            _ => Err(format!(
                "INVITATION_SOURCE_ARN {identity:?} is no SES identity ARN"
            )),
        }
    }
}

/// Sends invitation e-mails through SES (v2 SendEmail) from one verified identity.
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl Mailer {
    /// `from`: the sender's address (the SES identity's, or one of its domain's).
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    async fn send(&self, to: &Email, subject: &str, text: &str) -> Result<(), ApiError> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|err| ApiError::Internal(err.to_string()))
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(MailBody::builder().text(content(text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.to_string()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|err| {
                let code = err
                    .as_service_error()
                    .and_then(|err| aws_sdk_sesv2::error::ProvideErrorMetadata::code(err))
                    .unwrap_or("no answer from SES");
                ApiError::Mail(code.to_owned())
            })?;
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewInvitationBody {
    email: String,
    role: String,
    expires_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invited {
    invitation_id: InvitationId,
    email: String,
    role: Role,
    expires_at: i64,
    /// Whether the e-mail went out; where it could not (no SES identity), `link` is the one
    /// the inviter passes on: it carries the secret, shown this once.
    sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

pub(super) async fn create(acting: &Acting<'_>, api: &Api) -> Answer {
    acting.require_admin()?;
    let body: NewInvitationBody = json(acting.call.request)?;
    let email = Email::parse(&body.email).map_err(|err| ApiError::BadBody(err.to_string()))?;
    let role = Role::parse(&body.role)
        .ok_or(ApiError::BadRequest("role must be owner, admin or member"))?;
    if role > acting.role {
        return Err(ApiError::Forbidden(
            "an invitation above the inviter's role",
        ));
    }
    let days = body.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::BadRequest("expiresInDays must be from 1 to 30"));
    }
    let org_name = api
        .store
        .organisation(acting.org)
        .await?
        .and_then(|record| record.name)
        .unwrap_or_else(|| "a personal organisation".to_owned());
    let secret = Secret::mint().map_err(|err: NoRandomness| ApiError::Internal(err.to_string()))?;
    let new = NewInvitation {
        org: acting.org,
        org_name: org_name.clone(),
        id: InvitationId::mint(),
        email: email.clone(),
        role,
        secret_hash: secret.hash(),
        invited_by: acting.call.caller,
        inviter_role: acting.role,
        expires_at: epoch_seconds()? + days * DAY,
        created_at: timestamp()?,
    };
    api.store.invite(&new).await?;
    let origin = api
        .origin
        .as_ref()
        .map(|origin| origin.as_str())
        .unwrap_or_default();
    let link = format!(
        "{origin}/#invite={}.{}.{}",
        new.org,
        new.id,
        secret.expose()
    );
    let sent = match &api.mailer {
        None => false,
        Some(mailer) => {
            let subject = format!("You are invited to join {org_name}");
            let text = format!(
                "You are invited to join {org_name} as {role}.\n\nSign in (or sign up) with this \
                 address, then open:\n{link}\n\nThe invitation expires in {days} days.\n",
                role = role.as_str()
            );
            if let Err(err) = mailer.send(&email, &subject, &text).await {
                // Nothing kept that nobody was told of: the invitation goes too.
                if let Err(revoke) = api.store.revoke(new.org, new.id).await {
                    tracing::warn!(invitation_id = %new.id, error = %revoke, "could not revoke an invitation whose e-mail failed");
                }
                return Err(err);
            }
            true
        }
    };
    tracing::info!(sub = %acting.call.caller, org_id = %acting.org, invitation_id = %new.id, role = role.as_str(), sent, "invitation created");
    Ok((
        StatusCode::CREATED,
        super::json_body(&Invited {
            invitation_id: new.id,
            email: email.to_string(),
            role,
            expires_at: new.expires_at,
            sent,
            link: (!sent).then_some(link),
        }),
    ))
}

#[derive(Serialize)]
struct InvitationsBody {
    invitations: Vec<InvitationBody>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvitationBody {
    invitation_id: InvitationId,
    email: String,
    role: Role,
    /// pending, accepted, revoked, or expired (pending past its expiry).
    state: String,
    expires_at: i64,
}

pub(super) async fn list(acting: &Acting<'_>, api: &Api) -> Answer {
    acting.require_admin()?;
    no_body(acting.call.request)?;
    let now = epoch_seconds()?;
    let invitations = api
        .store
        .invitations(acting.org)
        .await?
        .into_iter()
        .map(|invitation| InvitationBody {
            invitation_id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            state: if invitation.state == "pending" && invitation.expires_at <= now {
                "expired".to_owned()
            } else {
                invitation.state
            },
            expires_at: invitation.expires_at,
        })
        .collect();
    ok(&InvitationsBody { invitations })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Revoked {
    invitation_id: InvitationId,
    state: &'static str,
}

pub(super) async fn revoke(acting: &Acting<'_>, api: &Api) -> Answer {
    acting.require_admin()?;
    no_body(acting.call.request)?;
    let id = acting
        .call
        .request
        .path_parameters()
        .first("invitation")
        .and_then(InvitationId::parse)
        .ok_or(ApiError::BadRequest(
            "the invitation id must be a lower-case hyphenated UUID",
        ))?;
    api.store.revoke(acting.org, id).await?;
    tracing::info!(sub = %acting.call.caller, org_id = %acting.org, invitation_id = %id, "invitation revoked");
    ok(&Revoked {
        invitation_id: id,
        state: "revoked",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "arn:aws:ses:eu-west-1:123456789012:identity/example.com";

    #[test]
    fn the_sender_comes_from_the_identitys_region_and_an_address() {
        assert_eq!(
            Sender::from_settings(Some("Acme <team@example.com>"), Some(IDENTITY)),
            Ok(Some(Sender {
                from: "Acme <team@example.com>".into(),
                region: "eu-west-1".into()
            }))
        );
        assert_eq!(Sender::from_settings(None, Some(IDENTITY)), Ok(None));
        assert_eq!(
            Sender::from_settings(Some("team@example.com"), None),
            Ok(None)
        );
        // A domain identity's name is no From address.
        assert!(Sender::from_settings(Some("example.com"), Some(IDENTITY)).is_err());
        assert!(
            Sender::from_settings(Some("team@example.com"), Some("arn:aws:sns:eu-west-1:1:x"))
                .is_err()
        );
    }
}
