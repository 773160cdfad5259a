//! An order's status: the checkout saga's persisted state.

use serde::{Deserialize, Serialize};

/// `pending → reserved → confirmed`, or `compensating → failed`; a payment that asks for
/// 3-D Secure makes it `reserved → awaiting_action` until the customer answers the challenge
/// (`→ authorized → confirmed`, or `→ compensating → failed`) or the wait times out.
/// `authorized` is also where orders paid by an authorization before sales were used resume
/// (captured then). Stored as its snake_case name in `orders.status` (a `text` column with a
/// check of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Reserved,
    AwaitingAction,
    Authorized,
    Confirmed,
    Compensating,
    Failed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Reserved => "reserved",
            Self::AwaitingAction => "awaiting_action",
            Self::Authorized => "authorized",
            Self::Confirmed => "confirmed",
            Self::Compensating => "compensating",
            Self::Failed => "failed",
        }
    }

    /// Confirmed or failed: the saga has nothing left to do.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Confirmed | Self::Failed)
    }

    /// A step of the saga may still need the order's lines.
    pub fn needs_lines(self) -> bool {
        matches!(self, Self::Pending | Self::Reserved | Self::Authorized)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_column_check() {
        let all = [
            OrderStatus::Pending,
            OrderStatus::Reserved,
            OrderStatus::AwaitingAction,
            OrderStatus::Authorized,
            OrderStatus::Confirmed,
            OrderStatus::Compensating,
            OrderStatus::Failed,
        ];
        let names: Vec<String> = all
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            names,
            [
                "\"pending\"",
                "\"reserved\"",
                "\"awaiting_action\"",
                "\"authorized\"",
                "\"confirmed\"",
                "\"compensating\"",
                "\"failed\""
            ]
        );
        assert!(all
            .iter()
            .all(|s| format!("\"{s}\"") == serde_json::to_string(s).unwrap_or_default()));
    }
}
