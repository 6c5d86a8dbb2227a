//! Decoding helpers for the units vendors put on the wire, shared by adapters' pure maps.

use crate::MicroUsd;

/// USD in a JSON number (`0.234567`, `1.5`, `2e-1`) to micro-USD, rounded half-up at the
/// sixth decimal. Read from the number's decimal text, so `0.1` is exactly 100 000.
pub fn usd_number(n: &serde_json::Number) -> Option<MicroUsd> {
    usd_text(&n.to_string())
}

/// USD in decimal text (`"0.74"`, `"12"`) to micro-USD, rounded half-up at the sixth
/// decimal; exponent forms are read through `f64` (the only lossy path).
pub fn usd_text(raw: &str) -> Option<MicroUsd> {
    let s = raw.trim();
    if s.contains(['e', 'E']) {
        let f: f64 = s.parse().ok()?;
        let micro = (f * 1_000_000.0).round();
        return (micro.is_finite() && micro.abs() < 9.0e18).then_some(MicroUsd(micro as i64));
    }
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    let round_up = digits.get(6).is_some_and(|&d| d >= 5);
    digits.resize(6, 0);
    let frac = digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d));
    let micro = whole
        .checked_mul(1_000_000)?
        .checked_add(frac)?
        .checked_add(i64::from(round_up))?;
    Some(MicroUsd(if neg { -micro } else { micro }))
}

/// An amount in micro-EUR (or any currency) times a USD-per-unit rate (micro-USD per 1),
/// rounded half-up to the micro-dollar. The rate is an operator setting, never a guess.
pub fn eur_to_usd(micro_eur: MicroUsd, usd_per_eur: MicroUsd) -> Option<MicroUsd> {
    let product = i128::from(micro_eur.0).checked_mul(i128::from(usd_per_eur.0))?;
    let rounded = (product + 500_000) / 1_000_000;
    i64::try_from(rounded).ok().map(MicroUsd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_convert_to_micro_dollars_rounded_half_up() {
        let rate = MicroUsd(1_080_000);
        assert_eq!(
            eur_to_usd(MicroUsd(2_520_000), rate),
            Some(MicroUsd(2_721_600))
        );
        assert_eq!(
            eur_to_usd(MicroUsd(1), MicroUsd(1_500_000)),
            Some(MicroUsd(2))
        );
    }

    #[test]
    fn decimal_usd_is_read_exactly_and_rounded_half_up_at_six_places() {
        assert_eq!(usd_text("0.234567"), Some(MicroUsd(234_567)));
        assert_eq!(usd_text("0.74"), Some(MicroUsd(740_000)));
        assert_eq!(usd_text("12"), Some(MicroUsd(12_000_000)));
        assert_eq!(usd_text("0.1234565"), Some(MicroUsd(123_457)));
        assert_eq!(usd_text("0.1234564"), Some(MicroUsd(123_456)));
        assert_eq!(usd_text("2e-1"), Some(MicroUsd(200_000)));
        assert_eq!(usd_text("abc"), None);
        assert_eq!(usd_text(""), None);
        let n: serde_json::Number = serde_json::from_str("0.1").unwrap();
        assert_eq!(usd_number(&n), Some(MicroUsd(100_000)));
    }
}
