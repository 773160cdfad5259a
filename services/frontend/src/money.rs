//! Prices: integer minor units in, text for people out. No floating point anywhere.

use std::fmt::Write as _;

/// Digits after the decimal point for an ISO 4217 currency (the common ones; 2 otherwise).
fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// `1234, "EUR"` -> `€12.34`; `-5, "USD"` -> `-$0.05`; `1234567, "CHF"` -> `12,345.67 CHF`.
pub fn format(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let scale = 10u64.pow(exp);
    let abs = minor.unsigned_abs();
    let (major, frac) = (abs / scale, abs % scale);
    let digits = major.to_string();
    let sym = symbol(currency);
    // One string, written left to right (a grid formats a dozen of these per page).
    let mut out = String::with_capacity(digits.len() * 4 / 3 + exp as usize + 8);
    if minor < 0 {
        out.push('-');
    }
    if let Some(s) = sym {
        out.push_str(s);
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if exp > 0 {
        let _ = write!(out, ".{frac:0width$}", width = exp as usize);
    }
    if sym.is_none() {
        out.push(' ');
        out.push_str(currency);
    }
    out
}

/// A price typed by a person (`12`, `12.5`, `12.50`) -> minor units; `None` when it is not
/// a plain non-negative amount with at most the currency's decimals.
pub fn parse(text: &str, currency: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 15 {
        return None;
    }
    let exp = exponent(currency) as usize;
    let (major, frac) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if major.is_empty() || !all_digits(major) || !all_digits(frac) || frac.len() > exp {
        return None;
    }
    let major: i64 = major.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<exp$}").parse().ok()?
    };
    major.checked_mul(10i64.pow(exp as u32))?.checked_add(frac)
}

/// Minor units back to what a person would type in a price filter (`1250` -> `12.50`).
pub fn plain(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exp);
    format!(
        "{}.{:0width$}",
        minor / scale,
        (minor % scale).abs(),
        width = exp as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_minor_units() {
        assert_eq!(format(1234, "EUR"), "€12.34");
        assert_eq!(format(5, "EUR"), "€0.05");
        assert_eq!(format(-5, "USD"), "-$0.05");
        assert_eq!(format(123_456_789, "GBP"), "£1,234,567.89");
        assert_eq!(format(1500, "JPY"), "¥1,500");
        assert_eq!(format(1234567, "CHF"), "12,345.67 CHF");
        assert_eq!(format(1001, "KWD"), "1.001 KWD");
        assert_eq!(format(i64::MIN, "EUR"), "-€92,233,720,368,547,758.08");
    }

    #[test]
    fn parses_typed_prices() {
        assert_eq!(parse("12", "EUR"), Some(1200));
        assert_eq!(parse("12.5", "EUR"), Some(1250));
        assert_eq!(parse(" 0.05 ", "EUR"), Some(5));
        assert_eq!(parse("12.345", "EUR"), None);
        assert_eq!(parse("-1", "EUR"), None);
        assert_eq!(parse("1e3", "EUR"), None);
        assert_eq!(parse("", "EUR"), None);
        assert_eq!(parse("1234567890123456", "EUR"), None);
        assert_eq!(parse("15", "JPY"), Some(15));
        assert_eq!(plain(1250, "EUR"), "12.50");
        assert_eq!(plain(15, "JPY"), "15");
    }
}
