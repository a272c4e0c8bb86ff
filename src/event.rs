//! The contract of the two Cognito events this function handles, checked in full before any
//! call is made.
//!
//! The event is read from raw JSON rather than deserialised into `aws_lambda_events`' Cognito
//! types, for three reasons:
//! - Cognito requires the event back exactly as sent (plus the response), and a typed round
//!   trip would drop fields the types do not know and rename or reorder others;
//! - those types' trigger-source enums are closed: a source they do not know fails to parse,
//!   where this function must simply leave it alone;
//! - their deserialisation errors quote the offending value (an email address, say), where an
//!   error here names the field and never its value, so no personal data reaches the logs.
//!
//! Checked, for every PostConfirmation and TokenGeneration event (Cognito developer guide,
//! "Lambda trigger common parameters", "Post confirmation" and "Pre token generation"):
//! `version`, `region`, `userPoolId`, `userName`, `triggerSource` are strings (the last three
//! non-empty); `callerContext` holds `awsSdkVersion` and `clientId` (a string, or null in the
//! administrator flows that have no client); `request.userAttributes` maps names to strings
//! and holds a UUID `sub`; `request.clientMetadata`, if present, maps strings to strings;
//! `response` is an object. Pre token generation adds `request.groupConfiguration` and
//! `response.claimsOverrideDetails`, each checked to its documented shape. Fields the contract
//! does not name are allowed: Cognito documents that it may add some.

use crate::domain::{User, UserSub};
use crate::outcome::TriggerKind;
use serde_json::{Map, Value};

/// What an event asks of the function.
#[derive(Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `PostConfirmation_ConfirmSignUp`: the user must end up with exactly one organisation.
    ConfirmSignUp(User),
    /// `TokenGeneration_*`: the token about to be issued must carry the user's organisation.
    TokenGeneration(User),
    /// Anything else: a password reset above all, which must never provision.
    Other(String),
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("`{0}` is missing or empty")]
    Missing(&'static str),
    #[error("`{field}` must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("`request.userAttributes.sub` is not a UUID")]
    SubNotUuid,
}

/// A malformed event: what was wrong, and which trigger its source claimed it to be (the
/// metrics line counts the rejection under that trigger).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{error}")]
pub struct Malformed {
    pub trigger: TriggerKind,
    #[source]
    pub error: EventError,
}

/// The trigger an event's source names: the one place it is derived.
fn kind_of(source: &str) -> TriggerKind {
    if source.starts_with("PostConfirmation_") {
        TriggerKind::PostConfirmation
    } else if source.starts_with("TokenGeneration_") {
        TriggerKind::TokenGeneration
    } else {
        TriggerKind::Other
    }
}

/// `org_attribute` is the attribute's full name, e.g. `custom:org`.
pub fn parse(event: &Value, org_attribute: &str) -> Result<Trigger, Malformed> {
    let unknown = |error| Malformed {
        trigger: TriggerKind::Other,
        error,
    };
    let event = event.as_object().ok_or(unknown(EventError::NotAnObject))?;
    let source = required_str(event, "triggerSource", "triggerSource").map_err(unknown)?;
    let trigger = kind_of(source);
    let malformed = |error| Malformed { trigger, error };
    match trigger {
        // Every token issuance, whatever its source (sign-in, refresh, new-password challenge,
        // device, hosted UI, or one added later), must carry the right organisation.
        TriggerKind::TokenGeneration => {
            let user = common(event, org_attribute).map_err(malformed)?;
            token_generation_parts(event).map_err(malformed)?;
            Ok(Trigger::TokenGeneration(user))
        }
        // Every post confirmation event is checked; only a sign-up's provisions (a password
        // reset's must never).
        TriggerKind::PostConfirmation => {
            let user = common(event, org_attribute).map_err(malformed)?;
            if source == "PostConfirmation_ConfirmSignUp" {
                Ok(Trigger::ConfirmSignUp(user))
            } else {
                Ok(Trigger::Other(source.to_owned()))
            }
        }
        // Another trigger's event (a misconfigured pool): not ours to check or change.
        TriggerKind::Other => Ok(Trigger::Other(source.to_owned())),
    }
}

/// The common parameters and the user attributes, as every user pool trigger has them.
fn common(event: &Map<String, Value>, org_attribute: &str) -> Result<User, EventError> {
    string(event, "version", "version")?;
    string(event, "region", "region")?;
    let user_pool_id = required_str(event, "userPoolId", "userPoolId")?.to_owned();
    let user_name = required_str(event, "userName", "userName")?.to_owned();
    let caller = object(event.get("callerContext"), "callerContext")?;
    string(caller, "awsSdkVersion", "callerContext.awsSdkVersion")?;
    optional_string(caller, "clientId", "callerContext.clientId")?;
    object(event.get("response"), "response")?;

    let request = object(event.get("request"), "request")?;
    let attributes = object(request.get("userAttributes"), "request.userAttributes")?;
    if attributes.values().any(|value| !value.is_string()) {
        return Err(EventError::WrongType {
            field: "request.userAttributes",
            expected: "a map of strings",
        });
    }
    string_map(request.get("clientMetadata"), "request.clientMetadata")?;
    let sub = required_str(attributes, "sub", "request.userAttributes.sub")?;
    let sub = UserSub::parse(sub).ok_or(EventError::SubNotUuid)?;
    let org_attribute = attributes
        .get(org_attribute)
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(User {
        user_pool_id,
        user_name,
        sub,
        org_attribute,
    })
}

/// What a pre token generation (V1_0) event adds to the common parameters.
fn token_generation_parts(event: &Map<String, Value>) -> Result<(), EventError> {
    let request = object(event.get("request"), "request")?;
    if let Some(groups) = optional_object(
        request.get("groupConfiguration"),
        "request.groupConfiguration",
    )? {
        group_configuration(groups, "request.groupConfiguration")?;
    }
    let response = object(event.get("response"), "response")?;
    let field = "response.claimsOverrideDetails";
    if let Some(details) = optional_object(response.get("claimsOverrideDetails"), field)? {
        string_map(
            details.get("claimsToAddOrOverride"),
            "response.claimsOverrideDetails.claimsToAddOrOverride",
        )?;
        string_list(
            details.get("claimsToSuppress"),
            "response.claimsOverrideDetails.claimsToSuppress",
        )?;
        let field = "response.claimsOverrideDetails.groupOverrideDetails";
        if let Some(groups) = optional_object(details.get("groupOverrideDetails"), field)? {
            group_configuration(groups, field)?;
        }
    }
    Ok(())
}

fn group_configuration(groups: &Map<String, Value>, field: &'static str) -> Result<(), EventError> {
    let wrong = EventError::WrongType {
        field,
        expected: "lists of strings and a string preferredRole",
    };
    for list in ["groupsToOverride", "iamRolesToOverride"] {
        string_list(groups.get(list), field).map_err(|_| wrong.clone())?;
    }
    optional_string(groups, "preferredRole", field).map_err(|_| wrong)?;
    Ok(())
}

fn required_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, EventError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(EventError::Missing(field)),
        Some(Value::String(text)) if text.is_empty() => Err(EventError::Missing(field)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// Present and a string, possibly empty.
fn string(map: &Map<String, Value>, key: &str, field: &'static str) -> Result<(), EventError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(EventError::Missing(field)),
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// A string, null or absent.
fn optional_string(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<(), EventError> {
    match map.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "a string or null",
        }),
    }
}

fn object<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<&'a Map<String, Value>, EventError> {
    optional_object(value, field)?.ok_or(EventError::Missing(field))
}

fn optional_object<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<Option<&'a Map<String, Value>>, EventError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "an object",
        }),
    }
}

/// An object whose values are all strings, null or absent.
fn string_map(value: Option<&Value>, field: &'static str) -> Result<(), EventError> {
    let wrong = EventError::WrongType {
        field,
        expected: "a map of strings",
    };
    match optional_object(value, field).map_err(|_| wrong.clone())? {
        Some(map) if map.values().any(|value| !value.is_string()) => Err(wrong),
        _ => Ok(()),
    }
}

/// A list of strings, null or absent.
fn string_list(value: Option<&Value>, field: &'static str) -> Result<(), EventError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "a list of strings",
        }),
    }
}

#[cfg(test)]
mod tests;
