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

/// A member's role in an organisation, as the table records it (`role`, snake_case) and the
/// token carries it (the role claim, mapped to the `role` principal tag). The creator of an
/// organisation is its first owner. Ordered by power: `Member < Admin < Owner`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Writes the organisation's data.
    Member,
    /// A member who also invites (up to admin) and manages members below owner.
    Admin,
    /// An admin who also manages owners; every organisation keeps at least one.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The role as the table spells it; anything else is `None`, never a guess.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What the user's own partition says of their organisations (one Query: `store::memberships`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memberships {
    /// The home organisation: the claim minted at sign-up, never changed.
    pub home: Option<OrgId>,
    /// Every organisation the user belongs to, with their role in it.
    pub orgs: Vec<(OrgId, Role)>,
    /// The organisation the user last chose, if any; honoured only while they belong to it.
    pub active: Option<OrgId>,
}

impl Memberships {
    pub fn role_in(&self, org: OrgId) -> Option<Role> {
        self.orgs
            .iter()
            .find(|(member_of, _)| *member_of == org)
            .map(|(_, role)| *role)
    }

    /// The organisation and role a token carries: the active choice while the table holds the
    /// user's membership of it, otherwise the home organisation. `None` without a home claim.
    ///
    /// The home organisation is the user's own: they are its owner and can be neither removed
    /// from it nor demoted (docs/teams.md), so a claim without its membership item (a user who
    /// signed up before teams) still makes them its owner.
    pub fn for_token(&self) -> Option<(OrgId, Role)> {
        let home = self.home?;
        if let Some((org, role)) = self
            .active
            .and_then(|active| Some((active, self.role_in(active)?)))
        {
            return Some((org, role));
        }
        Some((home, self.role_in(home).unwrap_or(Role::Owner)))
    }
}

/// An invitation's id: a random (v4) UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvitationId(Uuid);

impl InvitationId {
    pub fn mint() -> Self {
        Self(Uuid::new_v4())
    }

    /// Only the canonical spelling: one id, one key.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::try_parse(text)
            .ok()
            .map(Self)
            .filter(|id| id.to_string() == text)
    }
}

impl fmt::Display for InvitationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl serde::Serialize for InvitationId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An e-mail address as invitations compare it: trimmed and lower-cased, because the user pool
/// is case-insensitive (`UsernameConfiguration.CaseSensitive: false`) and its e-mail is the
/// username. ASCII only: an address with any other character is refused, so that no two
/// spellings that look alike (Unicode confusables, other case mappings) name one invitee.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadEmail {
    #[error("the e-mail address is empty or longer than 254 characters")]
    Length,
    #[error("the e-mail address may hold printable ASCII characters only")]
    Characters,
    #[error("the e-mail address is not of the form name@domain.tld")]
    Form,
}

impl Email {
    pub fn parse(text: &str) -> Result<Self, BadEmail> {
        let text = text.trim();
        if text.is_empty() || text.len() > 254 {
            return Err(BadEmail::Length);
        }
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(BadEmail::Characters);
        }
        let lower = text.to_ascii_lowercase();
        let valid = lower.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !lower.contains(['<', '>', '"', ',', ';', '\\', '(', ')', '[', ']', ':'])
        });
        if valid {
            Ok(Self(lower))
        } else {
            Err(BadEmail::Form)
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An invitation's secret: 256 random bits from the operating system, shown once (in the
/// e-mail's link), stored only as its [`SecretHash`].
pub struct Secret(String);

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct NoRandomness(String);

impl Secret {
    pub fn mint() -> Result<Self, NoRandomness> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| NoRandomness(err.to_string()))?;
        Ok(Self(hex::encode(bytes)))
    }

    /// A secret as a link carries it: 64 lower-case hex digits, nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(text.to_owned()))
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never printed by `Debug`: a log line must not carry it.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The SHA-256 of a secret, in hex: what the table keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(text: &str) -> Self {
        use sha2::Digest;
        Self(hex::encode(sha2::Sha256::digest(text.as_bytes())))
    }
}

impl fmt::Display for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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
    fn roles_are_spelled_as_the_table_spells_them_and_ordered_by_power() {
        for role in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Member < Role::Admin && Role::Admin < Role::Owner);
    }

    #[test]
    fn a_token_names_the_active_organisation_only_while_the_user_belongs_to_it() {
        let (home, team, gone) = (OrgId::mint(), OrgId::mint(), OrgId::mint());
        let mut view = Memberships {
            home: Some(home),
            orgs: vec![(home, Role::Owner), (team, Role::Admin)],
            active: None,
        };
        assert_eq!(view.for_token(), Some((home, Role::Owner)));
        view.active = Some(team);
        assert_eq!(view.for_token(), Some((team, Role::Admin)));
        view.active = Some(gone); // removed since the choice: back home
        assert_eq!(view.for_token(), Some((home, Role::Owner)));
        view.orgs.clear(); // signed up before teams: the claim alone makes them home's owner
        assert_eq!(view.for_token(), Some((home, Role::Owner)));
        view.home = None;
        assert_eq!(view.for_token(), None);
    }

    #[test]
    fn emails_compare_as_the_case_insensitive_pool_does_and_only_in_ascii() {
        let email = Email::parse("  Bob.Smith@Example.COM ").unwrap();
        assert_eq!(email.to_string(), "bob.smith@example.com");
        assert_eq!(Email::parse("bob.smith@example.com"), Ok(email));
        assert_eq!(Email::parse(""), Err(BadEmail::Length));
        assert_eq!(
            Email::parse(&format!("{}@x.io", "a".repeat(250))),
            Err(BadEmail::Length)
        );
        // A Cyrillic "о" looks like "o"; the Kelvin sign lower-cases to "k" in Unicode.
        assert_eq!(
            Email::parse("b\u{43e}b@example.com"),
            Err(BadEmail::Characters)
        );
        assert_eq!(
            Email::parse("\u{212a}im@example.com"),
            Err(BadEmail::Characters)
        );
        assert_eq!(
            Email::parse("bob smith@example.com"),
            Err(BadEmail::Characters)
        );
        for bad in [
            "bob",
            "@example.com",
            "bob@",
            "bob@example",
            "a@b@example.com",
            "bob@.com",
            "<bob>@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(BadEmail::Form), "{bad}");
        }
    }

    #[test]
    fn secrets_are_256_random_bits_kept_only_as_their_hash() {
        let (a, b) = (Secret::mint().unwrap(), Secret::mint().unwrap());
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(Secret::parse(a.expose()).unwrap().hash(), a.hash());
        assert_eq!(format!("{a:?}"), "Secret(..)");
        assert!(Secret::parse(&a.expose().to_uppercase()).is_none());
        assert!(Secret::parse("abc").is_none());
        // SHA-256("abc"), FIPS 180-2's first example.
        assert_eq!(
            SecretHash::of("abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn non_uuids_are_refused() {
        assert_eq!(OrgId::parse("acme"), None);
        assert_eq!(UserSub::parse(""), None);
        assert_eq!(UserSub::parse("12345678-1234-1234-1234-12345678901"), None);
    }
}
