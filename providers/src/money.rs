//! Exact USD amounts for prices: integer micro-dollars, rendered as decimal strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An exact USD amount in millionths of a dollar (every catalogue price fits exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MicroUsd(pub i64);

/// A decimal string that is not an exact USD amount with at most six decimals.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("`{0}` is not a decimal USD amount with at most 6 decimals")]
pub struct ParseMoneyError(pub String);

impl MicroUsd {
    pub const ZERO: MicroUsd = MicroUsd(0);

    /// Whole-offer price divided among `n` GPUs, rounded half-up to the micro-dollar.
    pub fn per_unit(self, n: u32) -> MicroUsd {
        if n == 0 {
            return self;
        }
        let n = i64::from(n);
        MicroUsd((self.0 * 2 + n) / (2 * n))
    }

    /// The amount as `f64` dollars, for ranking only (never for money arithmetic).
    pub fn as_f64_dollars(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }
}

impl fmt::Display for MicroUsd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / 1_000_000;
        let frac = abs % 1_000_000;
        if frac == 0 {
            return write!(f, "{sign}{whole}");
        }
        let mut s = format!("{frac:06}");
        while s.ends_with('0') {
            s.pop();
        }
        write!(f, "{sign}{whole}.{s}")
    }
}

impl FromStr for MicroUsd {
    type Err = ParseMoneyError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let err = || ParseMoneyError(raw.to_string());
        let s = raw.trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(err());
        }
        if frac.len() > 6
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err())?
        };
        let f: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| err())?
        };
        let v = w
            .checked_mul(1_000_000)
            .and_then(|v| v.checked_add(f))
            .ok_or_else(err)?;
        Ok(MicroUsd(if neg { -v } else { v }))
    }
}

impl Serialize for MicroUsd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MicroUsd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_exactly() {
        for s in ["0.0822", "44.92215", "117.984", "1", "0.000001"] {
            let m: MicroUsd = s.parse().unwrap();
            assert_eq!(m.to_string(), s);
        }
        assert_eq!("2.5".parse::<MicroUsd>().unwrap(), MicroUsd(2_500_000));
    }

    #[test]
    fn malformed_amounts_are_rejected() {
        for s in ["", "abc", "1.1234567", "1e3", "."] {
            assert!(s.parse::<MicroUsd>().is_err(), "{s}");
        }
    }

    #[test]
    fn per_gpu_price_rounds_half_up() {
        assert_eq!(MicroUsd(44_922_150).per_unit(8), MicroUsd(5_615_269));
        assert_eq!(MicroUsd(3).per_unit(2), MicroUsd(2));
    }
}
