//! The embedded seed catalogue (`data/gpu-offers.csv`) and its row type.

use providers::MicroUsd;
use serde::Deserialize;
use thiserror::Error;

/// The seed catalogue as shipped: real offers from 22 providers (see `data/README.md`).
pub const SEED_CSV: &str = include_str!("../data/gpu-offers.csv");

/// Rows for the providers the catalogue lacks, taken from the real recorded API responses
/// in `providers/fixtures/` (same columns; sources in `data/README.md`).
pub const RECORDED_CSV: &str = include_str!("../data/recorded-offers.csv");

/// The catalogue could not be read.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("catalogue row {line}: {source}")]
    Csv {
        line: u64,
        #[source]
        source: csv::Error,
    },
}

/// One catalogue row: an instance type in one region/zone with its prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SeedRow {
    pub provider: String,
    /// Empty for gcp (GPU-only prices).
    pub instance_type: String,
    /// The provider's spelling, not canonical.
    pub gpu_model: String,
    pub gpu_count: u32,
    /// Per GPU, when the source says.
    pub gpu_memory_gib: Option<f64>,
    pub vcpus: Option<u32>,
    pub memory_gib: Option<f64>,
    pub region: String,
    pub zone: String,
    /// On-demand USD per instance-hour.
    #[serde(rename = "price_per_hour_usd", deserialize_with = "price")]
    pub price: MicroUsd,
    #[serde(
        rename = "spot_price_per_hour_usd",
        deserialize_with = "optional_price"
    )]
    pub spot_price: Option<MicroUsd>,
}

/// Parses catalogue CSV text (the header names the columns; order does not matter).
pub fn parse(text: &str) -> Result<Vec<SeedRow>, CatalogError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<SeedRow>().enumerate() {
        let line = i as u64 + 2;
        rows.push(row.map_err(|source| CatalogError::Csv { line, source })?);
    }
    Ok(rows)
}

/// The embedded seed catalogue and the recorded rows, parsed.
pub fn seed_rows() -> Result<Vec<SeedRow>, CatalogError> {
    let mut rows = parse(SEED_CSV)?;
    rows.extend(parse(RECORDED_CSV)?);
    Ok(rows)
}

/// A decimal USD string as micro-USD: exact up to six decimals; longer fractions (float
/// noise such as `0.7020000000000001`) are rounded half-up to the micro-dollar.
pub fn parse_usd(raw: &str) -> Option<MicroUsd> {
    let s = raw.trim();
    if let Ok(exact) = s.parse::<MicroUsd>() {
        return Some(exact);
    }
    let (whole, frac) = s.split_once('.')?;
    if frac.len() <= 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let truncated: MicroUsd = format!("{whole}.{}", &frac[..6]).parse().ok()?;
    let round_up = frac.as_bytes()[6] >= b'5';
    let step = if truncated.0 < 0 { -1 } else { 1 };
    Some(MicroUsd(truncated.0 + if round_up { step } else { 0 }))
}

fn price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MicroUsd, D::Error> {
    let raw = String::deserialize(d)?;
    parse_usd(&raw).ok_or_else(|| serde::de::Error::custom(format!("bad price `{raw}`")))
}

fn optional_price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MicroUsd>, D::Error> {
    let raw = String::deserialize(d)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    parse_usd(&raw)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("bad price `{raw}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_catalogue_parses_in_full() {
        let rows = parse(SEED_CSV).unwrap();
        assert_eq!(rows.len(), 3631);
        assert_eq!(rows.iter().filter(|r| r.spot_price.is_some()).count(), 2222);
        let first = &rows[0];
        assert_eq!(first.provider, "aws");
        assert_eq!(first.price, MicroUsd(44_922_150));
        assert_eq!(first.spot_price, Some(MicroUsd(7_345_600)));
    }

    #[test]
    fn noisy_decimals_round_half_up_to_the_micro_dollar() {
        assert_eq!(parse_usd("0.7020000000000001"), Some(MicroUsd(702_000)));
        assert_eq!(parse_usd("2.0583039999999997"), Some(MicroUsd(2_058_304)));
        assert_eq!(parse_usd("12.4080610593"), Some(MicroUsd(12_408_061)));
        assert_eq!(parse_usd("0.0822"), Some(MicroUsd(82_200)));
        assert_eq!(parse_usd("abc"), None);
    }
}
