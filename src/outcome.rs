//! The vocabulary of what one invocation did, shared by the triggers that decide it and the
//! metrics that count it (neither depends on the other): the trigger, the outcome (the log's
//! `outcome` field and a metric of its own), and whether the security warning was given.

use crate::provision;

/// How one invocation ended: the `outcome` field of its log line (`snake_case`), and a metric
/// of its own (`metric_name`). `Outcome::iter()` lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// A new organisation was recorded for the user.
    Minted,
    /// The user's recorded organisation was found and the attribute set to it.
    Reused,
    /// The attribute already named the recorded organisation: nothing written.
    AlreadySet,
    /// PostConfirmation could not finish in time; the first token provisions the user.
    Deferred,
    /// The token carries the recorded organisation, which the attribute already named.
    Verified,
    /// The token carries the recorded organisation; the attribute was missing or differed.
    Repaired,
    /// No organisation could be confirmed or recorded: no token.
    Refused,
    /// The event was malformed: nothing written.
    Rejected,
    /// A trigger source with nothing to do (a password reset, say).
    Skipped,
}

impl Outcome {
    /// As the log's `outcome` field says it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The CloudWatch metric that counts it.
    pub fn metric_name(self) -> &'static str {
        match self {
            Self::Minted => "Minted",
            Self::Reused => "Reused",
            Self::AlreadySet => "AlreadySet",
            Self::Deferred => "Deferred",
            Self::Verified => "Verified",
            Self::Repaired => "Repaired",
            Self::Refused => "Refused",
            Self::Rejected => "Rejected",
            Self::Skipped => "Skipped",
        }
    }
}

impl From<provision::Outcome> for Outcome {
    fn from(outcome: provision::Outcome) -> Self {
        match outcome {
            provision::Outcome::Minted => Self::Minted,
            provision::Outcome::Reused => Self::Reused,
            provision::Outcome::AlreadySet => Self::AlreadySet,
        }
    }
}

/// Which trigger an invocation was, as far as the event says; named as the variant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
pub enum TriggerKind {
    PostConfirmation,
    TokenGeneration,
    /// Another source, or an event too malformed to tell.
    Other,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What one invocation did, for its metrics line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub trigger: TriggerKind,
    pub outcome: Outcome,
    /// The security warning was given: the attribute named an organisation not the user's.
    pub foreign_org: bool,
}

impl Report {
    pub fn new(trigger: TriggerKind, outcome: Outcome) -> Self {
        Self {
            trigger,
            outcome,
            foreign_org: false,
        }
    }
}
