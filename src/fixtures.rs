//! The sample events in `events/`, as every unit test builds its events: the files are the one
//! source (also sent by `make invoke`), and tests vary them with `with` and `without`.

use serde_json::Value;

/// The user every sample event is about.
pub const SUB: &str = "5a0c9f43-7d2e-4b1a-8e6f-2c3d4b5a6e7f";
pub const POOL: &str = "us-east-1_Example";
/// The organisation that `token-generation-sign-in.json` carries.
pub const SIGNED_IN_ORG: &str = "0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b";
/// The organisation that `post-confirmation-client-supplied-org.json` names.
pub const SUPPLIED_ORG: &str = "00000000-0000-4000-8000-000000000000";

/// Every file in `events/`, by name.
pub const ALL: [(&str, &str); 5] = [
    ("post-confirmation-sign-up.json", SIGN_UP),
    ("post-confirmation-forgot-password.json", FORGOT_PASSWORD),
    (
        "post-confirmation-client-supplied-org.json",
        CLIENT_SUPPLIED_ORG,
    ),
    ("token-generation-sign-in.json", SIGN_IN),
    ("token-generation-admin-created.json", ADMIN_CREATED),
];
pub const SIGN_UP: &str = include_str!("../events/post-confirmation-sign-up.json");
pub const FORGOT_PASSWORD: &str = include_str!("../events/post-confirmation-forgot-password.json");
pub const CLIENT_SUPPLIED_ORG: &str =
    include_str!("../events/post-confirmation-client-supplied-org.json");
pub const SIGN_IN: &str = include_str!("../events/token-generation-sign-in.json");
pub const ADMIN_CREATED: &str = include_str!("../events/token-generation-admin-created.json");
/// A REST API (proxy) request to the tenant API: GET /orgs/SIGNED_IN_ORG by the user SUB.
pub const API_GET_ORGANISATION: &str = include_str!("../events/api/get-organisation.json");

pub fn event(file: &str) -> Value {
    serde_json::from_str(file).expect("the files in events/ are JSON")
}

/// The event with the value at `pointer` (RFC 6901) replaced or added.
pub fn with(mut event: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer starts with /");
    let parent = event.pointer_mut(parent).expect("the parent exists");
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        other => *other.get_mut(key).expect("an existing element") = value,
    }
    event
}

/// The event without the value at `pointer`.
pub fn without(mut event: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer starts with /");
    event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("the parent is an object")
        .remove(key);
    event
}

/// A sign-up confirmation carrying this organisation attribute (or none).
pub fn sign_up(org: Option<&str>) -> Value {
    set_org(event(SIGN_UP), org)
}

/// A sign-in carrying this organisation attribute (or none).
pub fn sign_in(org: Option<&str>) -> Value {
    set_org(event(SIGN_IN), org)
}

fn set_org(event: Value, org: Option<&str>) -> Value {
    match org {
        Some(org) => with(event, "/request/userAttributes/custom:org", org.into()),
        None => without(event, "/request/userAttributes/custom:org"),
    }
}
