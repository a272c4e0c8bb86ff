//! The domain's own types: the two identifiers everything here deals in (an organisation's and
//! a user's), and the user a trigger or the audit acts for. No AWS type appears here; the
//! adapters (`event`, `store`, `user_pool`) translate to and from them.

use std::fmt;
use uuid::Uuid;

/// An organisation's id: a random (v4) UUID, minted once per confirmed user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrgId(Uuid);

impl OrgId {
    pub fn mint() -> Self {
        Self(Uuid::new_v4())
    }

    /// Reads an id as the store keeps it.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::try_parse(text).ok().map(Self)
    }
}

/// Always the lowercase hyphenated form: it is what the table keys, the `custom:org`
/// attribute and the `org` principal tag must all spell the same way.
impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A user's `sub`: the user pool's immutable, never reused id for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserSub(Uuid);

impl UserSub {
    /// The nil UUID: never a user pool's `sub` (those are random v4 UUIDs), so a key made
    /// from it never names anyone's item.
    pub const NIL: Self = Self(Uuid::nil());

    pub fn parse(text: &str) -> Option<Self> {
        Uuid::try_parse(text).ok().map(Self)
    }
}

impl fmt::Display for UserSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

// Both ids travel as their canonical text (lower-case, hyphenated), as the table and the
// `org` tag spell them.
impl serde::Serialize for OrgId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl serde::Serialize for UserSub {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A member's role in an organisation, as the table records it (`role`, snake_case). The
/// creator of an organisation is its first owner; teams will add the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The user a trigger (or the audit's repair) acts for, as far as the user pool knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user_pool_id: String,
    pub user_name: String,
    pub sub: UserSub,
    /// The organisation attribute as the user pool holds it, if at all. Only ever compared with
    /// the table's claim; never trusted on its own.
    pub org_attribute: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_distinct_v4_uuids_in_canonical_form() {
        let (a, b) = (OrgId::mint(), OrgId::mint());
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(Uuid::parse_str(&text).unwrap().get_version_num(), 4);
        assert_eq!(OrgId::parse(&text), Some(a));
    }

    #[test]
    fn non_uuids_are_refused() {
        assert_eq!(OrgId::parse("acme"), None);
        assert_eq!(UserSub::parse(""), None);
        assert_eq!(UserSub::parse("12345678-1234-1234-1234-12345678901"), None);
    }
}
