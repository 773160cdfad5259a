//! Card checks and the sandbox's test cards. The card number lives only in this module's
//! function arguments: it is never stored, logged or returned.

use crate::error::PaymentsError;

/// Test cards and what the sandbox does with them. Any other valid number is approved.
pub const TEST_CARDS: &[(&str, &str, &str)] = &[
    ("4242424242424242", "visa", "approve"),
    ("5555555555554444", "mastercard", "approve"),
    ("4000000000000002", "visa", "decline"),
    ("4000000000009995", "visa", "insufficient_funds"),
    ("4000000000003220", "visa", "requires_3ds"),
];

pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

pub fn brand(digits: &str) -> &'static str {
    let two: u32 = digits.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let four: u32 = digits.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
    match () {
        _ if digits.starts_with('4') => "visa",
        _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => "mastercard",
        _ if two == 34 || two == 37 => "amex",
        _ if digits.starts_with("6011") || two == 65 => "discover",
        _ => "unknown",
    }
}

/// What tokenizing a card keeps: never the number or the CVC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    pub brand: &'static str,
    pub last4: String,
    pub outcome: &'static str,
}

pub fn check(
    number: &str,
    exp_month: i16,
    exp_year: i16,
    cvc: &str,
    now_year: i16,
    now_month: i16,
) -> Result<CardSummary, PaymentsError> {
    let digits: String = number.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PaymentsError::InvalidCard(
            "card number must be 12-19 digits".into(),
        ));
    }
    if !luhn_ok(&digits) {
        return Err(PaymentsError::InvalidCard(
            "card number fails the Luhn check".into(),
        ));
    }
    if !(1..=12).contains(&exp_month)
        || exp_year < now_year
        || (exp_year == now_year && exp_month < now_month)
        || exp_year > now_year + 25
    {
        return Err(PaymentsError::InvalidCard(
            "card is expired or the expiry is invalid".into(),
        ));
    }
    let cvc_len = if brand(&digits) == "amex" { 4 } else { 3 };
    if cvc.len() != cvc_len || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PaymentsError::InvalidCard(format!(
            "CVC must be {cvc_len} digits"
        )));
    }
    let outcome = TEST_CARDS
        .iter()
        .find(|(n, _, _)| *n == digits)
        .map(|(_, _, o)| *o)
        .unwrap_or("approve");
    Ok(CardSummary {
        brand: brand(&digits),
        last4: digits[digits.len() - 4..].to_string(),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_are_valid_and_classified() {
        for (n, b, o) in TEST_CARDS {
            let s = check(n, 12, 2040, "123", 2026, 1).expect("valid");
            assert_eq!((s.brand, s.outcome), (*b, *o));
            assert_eq!(s.last4, n[12..]);
        }
    }

    #[test]
    fn rejects_bad_numbers_expiry_and_cvc() {
        assert!(check("4242424242424241", 12, 2040, "123", 2026, 1).is_err());
        assert!(check("4242", 12, 2040, "123", 2026, 1).is_err());
        assert!(check("4242424242424242", 1, 2026, "123", 2026, 2).is_err());
        assert!(check("4242424242424242", 13, 2040, "123", 2026, 1).is_err());
        assert!(check("4242424242424242", 12, 2040, "12", 2026, 1).is_err());
        assert!(check("4242 4242 4242 4242", 12, 2040, "999", 2026, 1).is_ok());
    }
}
