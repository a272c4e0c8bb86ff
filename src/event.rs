//! Reading the PostConfirmation event. Only the fields the function relies on are checked,
//! and errors name the field, never its value, so no address reaches the logs.

use crate::org::UserSub;
use aws_lambda_events::cognito::CognitoEventUserPoolsPostConfirmationTriggerSource as TriggerSource;
use serde_json::{Map, Value};

/// What an event asks of the function.
#[derive(Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A user has just confirmed sign-up: they must end up with exactly one organisation.
    ConfirmSignUp(SignUp),
    /// Anything else, a password reset above all: never provision on it.
    Other(String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct SignUp {
    pub user_pool_id: String,
    pub user_name: String,
    pub sub: UserSub,
    /// The organisation attribute as the event carries it, if at all. Only ever compared
    /// with what the store says; never trusted on its own.
    pub org_attribute: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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

/// `org_attribute` is the attribute's full name, e.g. `custom:org`.
pub fn parse(event: &Value, org_attribute: &str) -> Result<Trigger, EventError> {
    let event = event.as_object().ok_or(EventError::NotAnObject)?;
    let source = required_str(event, "triggerSource", "triggerSource")?;
    // A source this crate's enum does not know is still "not a sign-up": skip it.
    let known = serde_json::from_value::<TriggerSource>(Value::String(source.to_owned()));
    if !matches!(known, Ok(TriggerSource::ConfirmSignUp)) {
        return Ok(Trigger::Other(source.to_owned()));
    }

    let user_pool_id = required_str(event, "userPoolId", "userPoolId")?.to_owned();
    let user_name = required_str(event, "userName", "userName")?.to_owned();
    let request = object(event.get("request"), "request")?;
    let attributes = object(request.get("userAttributes"), "request.userAttributes")?;
    let sub = required_str(attributes, "sub", "request.userAttributes.sub")?;
    let sub = UserSub::parse(sub).ok_or(EventError::SubNotUuid)?;
    let org_attribute = match attributes.get(org_attribute) {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            return Err(EventError::WrongType {
                field: "request.userAttributes.<org attribute>",
                expected: "a string",
            });
        }
    };
    Ok(Trigger::ConfirmSignUp(SignUp {
        user_pool_id,
        user_name,
        sub,
        org_attribute,
    }))
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

fn object<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<&'a Map<String, Value>, EventError> {
    match value {
        None | Some(Value::Null) => Err(EventError::Missing(field)),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "an object",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUB: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";

    fn confirm_sign_up() -> Value {
        json!({
            "version": "1",
            "region": "eu-west-1",
            "userPoolId": "eu-west-1_Example",
            "userName": SUB,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client"},
            "triggerSource": "PostConfirmation_ConfirmSignUp",
            "request": {"userAttributes": {"sub": SUB, "email": "alice@example.com"}},
            "response": {}
        })
    }

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        *event.pointer_mut(pointer).unwrap() = value;
        event
    }

    fn without(mut event: Value, parent: &str, key: &str) -> Value {
        event
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        event
    }

    #[test]
    fn reads_a_sign_up_confirmation() {
        let Trigger::ConfirmSignUp(sign_up) = parse(&confirm_sign_up(), "custom:org").unwrap()
        else {
            panic!("expected a sign-up");
        };
        assert_eq!(sign_up.user_pool_id, "eu-west-1_Example");
        assert_eq!(sign_up.user_name, SUB);
        assert_eq!(sign_up.sub.to_string(), SUB);
        assert_eq!(sign_up.org_attribute, None);
    }

    #[test]
    fn reads_the_configured_org_attribute() {
        let event = with(
            confirm_sign_up(),
            "/request/userAttributes",
            json!({"sub": SUB, "custom:tenant": "abc"}),
        );
        let Trigger::ConfirmSignUp(sign_up) = parse(&event, "custom:tenant").unwrap() else {
            panic!("expected a sign-up");
        };
        assert_eq!(sign_up.org_attribute.as_deref(), Some("abc"));
    }

    #[test]
    fn other_sources_are_not_sign_ups_even_when_incomplete() {
        for source in [
            "PostConfirmation_ConfirmForgotPassword",
            "PostConfirmation_SomethingNew",
        ] {
            let event = with(confirm_sign_up(), "/triggerSource", json!(source));
            let event = without(event, "", "request");
            assert_eq!(
                parse(&event, "custom:org"),
                Ok(Trigger::Other(source.into()))
            );
        }
    }

    #[test]
    fn malformed_events_say_which_field_is_wrong() {
        let cases = [
            (json!("not an object"), EventError::NotAnObject),
            (
                without(confirm_sign_up(), "", "triggerSource"),
                EventError::Missing("triggerSource"),
            ),
            (
                without(confirm_sign_up(), "", "userName"),
                EventError::Missing("userName"),
            ),
            (
                with(confirm_sign_up(), "/userName", json!("")),
                EventError::Missing("userName"),
            ),
            (
                without(confirm_sign_up(), "", "userPoolId"),
                EventError::Missing("userPoolId"),
            ),
            (
                with(confirm_sign_up(), "/userPoolId", json!(42)),
                EventError::WrongType {
                    field: "userPoolId",
                    expected: "a string",
                },
            ),
            (
                without(confirm_sign_up(), "/request/userAttributes", "sub"),
                EventError::Missing("request.userAttributes.sub"),
            ),
            (
                with(confirm_sign_up(), "/request/userAttributes/sub", json!(7)),
                EventError::WrongType {
                    field: "request.userAttributes.sub",
                    expected: "a string",
                },
            ),
            (
                with(confirm_sign_up(), "/request/userAttributes", json!([])),
                EventError::WrongType {
                    field: "request.userAttributes",
                    expected: "an object",
                },
            ),
            (
                with(
                    confirm_sign_up(),
                    "/request/userAttributes/sub",
                    json!("alice"),
                ),
                EventError::SubNotUuid,
            ),
            (
                with(
                    confirm_sign_up(),
                    "/request/userAttributes",
                    json!({"sub": SUB, "custom:org": {"id": 1}}),
                ),
                EventError::WrongType {
                    field: "request.userAttributes.<org attribute>",
                    expected: "a string",
                },
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(parse(&event, "custom:org"), Err(expected), "{event}");
        }
    }

    #[test]
    fn error_messages_never_echo_values() {
        let event = with(
            confirm_sign_up(),
            "/request/userAttributes/sub",
            json!("alice@example.com"),
        );
        let message = parse(&event, "custom:org").unwrap_err().to_string();
        assert!(!message.contains("alice"), "{message}");
    }
}
