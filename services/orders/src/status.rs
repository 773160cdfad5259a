//! An order's status: the checkout saga's persisted state.

use serde::{Deserialize, Serialize};

/// `pending → reserved → confirmed`, or `compensating → failed`; `authorized` remains for
/// orders paid by an authorization before sales were used (captured on resumption). Stored
/// as its lower-case name in `orders.status` (a `text` column with a check of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Reserved,
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
