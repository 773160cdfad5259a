//! HMAC-SHA256 signatures for webhooks between services.
//!
//! Header format: `X-Signature: t=<unix seconds>,v1=<hex hmac of "t.body">`.

use ring::hmac;

pub const HEADER: &str = "x-signature";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("signature header is malformed")]
    Malformed,
    #[error("signature timestamp is outside the allowed window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

fn message(t: u64, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 21);
    m.extend_from_slice(t.to_string().as_bytes());
    m.push(b'.');
    m.extend_from_slice(body);
    m
}

pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, &message(t, body));
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: u64,
) -> Result<(), WebhookError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (t, v1) = t.zip(v1).ok_or(WebhookError::Malformed)?;
    if now.abs_diff(t) > tolerance {
        return Err(WebhookError::Stale);
    }
    if v1.len() % 2 != 0 || !v1.is_ascii() {
        return Err(WebhookError::Malformed);
    }
    let tag: Vec<u8> = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| WebhookError::Malformed)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, &message(t, body), &tag).map_err(|_| WebhookError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let h = sign(b"k", 100, b"{\"a\":1}");
        assert_eq!(verify(b"k", &h, b"{\"a\":1}", 110, 300), Ok(()));
        assert_eq!(
            verify(b"k", &h, b"{\"a\":2}", 110, 300),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify(b"x", &h, b"{\"a\":1}", 110, 300),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify(b"k", &h, b"{\"a\":1}", 1000, 300),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify(b"k", "nope", b"", 0, 300),
            Err(WebhookError::Malformed)
        );
    }
}
