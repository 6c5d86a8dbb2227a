//! Pricing of owned capacity (MAAS): the operator's machines have no market price, so an
//! owned offer is priced from the admin-set hourly cost per GPU (the amortized cost of
//! ownership, parameter `maas.hourly_cost_per_gpu_micro_usd`). An offer whose GPU model has
//! no cost (or a cost of 0) is NOT offered: it is counted as unpriced and shown to the admin,
//! never sold at $0 by accident. Pure: no IO.

use std::collections::BTreeMap;

use providers::{gpus, MicroUsd, Offer};

use crate::{Error, Result};

/// Most an owned GPU may cost per hour: $1000 (micro-USD).
pub const MAX_COST_PER_GPU_HOUR: i64 = 1_000_000_000;

/// The hourly cost per GPU of each owned GPU model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourlyCosts(BTreeMap<&'static str, MicroUsd>);

impl HourlyCosts {
    /// Parses `MODEL:micro_usd,...` (catalogue model names, e.g. `H100-SXM:2100000`); the
    /// empty string is "no costs". Unknown models, duplicates and values outside
    /// `0..=MAX_COST_PER_GPU_HOUR` are refused.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("value", m);
        let mut out = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, cost) = part
                .split_once(':')
                .ok_or_else(|| bad(format!("`{part}` is not MODEL:micro_usd")))?;
            let model = gpus::by_name(model.trim())
                .ok_or_else(|| bad(format!("`{}` is not a catalogue GPU model", model.trim())))?;
            let cost: i64 = cost
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{}` is not an integer of micro-USD", cost.trim())))?;
            if !(0..=MAX_COST_PER_GPU_HOUR).contains(&cost) {
                return Err(bad(format!(
                    "{cost} is outside 0..={MAX_COST_PER_GPU_HOUR} micro-USD per GPU-hour"
                )));
            }
            if out.insert(model.name, MicroUsd(cost)).is_some() {
                return Err(bad(format!("`{}` is given twice", model.name)));
            }
        }
        Ok(Self(out))
    }

    /// The cost per GPU-hour of `model`, when it is set and positive.
    pub fn per_gpu(&self, model: &str) -> Option<MicroUsd> {
        self.0.get(model).copied().filter(|c| c.0 > 0)
    }
}

/// Owned offers after pricing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Priced {
    pub offers: Vec<Offer>,
    /// Offers left out because their GPU model has no cost.
    pub unpriced: usize,
}

/// Prices owned offers: price per GPU-hour = the model's cost; per hour = cost × GPUs.
pub fn price(offers: Vec<Offer>, costs: &HourlyCosts) -> Priced {
    let mut out = Priced::default();
    for mut o in offers {
        let Some(per_gpu) = costs.per_gpu(&o.gpu_model) else {
            out.unpriced += 1;
            continue;
        };
        o.price_per_gpu_hour = per_gpu;
        o.price_per_hour = MicroUsd(per_gpu.0.saturating_mul(i64::from(o.gpu_count)));
        out.offers.push(o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use providers::{OfferId, OfferSource, Pricing, ProviderId};

    fn offer(model: &str, count: u32) -> Offer {
        let p = ProviderId("maas".into());
        Offer {
            id: OfferId::new(&p, &format!("{model}@z/p")),
            provider: p,
            instance_type: "t".into(),
            gpu_model: model.into(),
            gpu_count: count,
            gpu_memory_gib: 80.0,
            vcpus: None,
            memory_gib: None,
            storage_gib: None,
            region: "z/p".into(),
            country: None,
            pricing: Pricing::OnDemand,
            price_per_hour: MicroUsd(0),
            price_per_gpu_hour: MicroUsd(0),
            available: 1,
            as_of: Utc::now(),
            source: OfferSource::Live,
        }
    }

    #[test]
    fn a_cost_table_parses_catalogue_models_and_refuses_the_rest() {
        let c = HourlyCosts::parse("H100-SXM:2100000, L40S:700000").unwrap();
        assert_eq!(c.per_gpu("H100-SXM"), Some(MicroUsd(2_100_000)));
        assert_eq!(c.per_gpu("A100-80GB-SXM"), None);
        assert_eq!(HourlyCosts::parse("").unwrap(), HourlyCosts::default());
        for bad in [
            "H100",
            "H100-SXM:abc",
            "Imaginary:1",
            "L40S:-1",
            "L40S:1000000001",
            "L40S:1,L40S:2",
        ] {
            assert!(HourlyCosts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn owned_offers_are_priced_per_gpu_and_unpriced_ones_are_left_out_and_counted() {
        let costs = HourlyCosts::parse("H100-SXM:2000000,L40S:0").unwrap();
        let p = price(
            vec![offer("H100-SXM", 8), offer("L40S", 2), offer("RTX4090", 1)],
            &costs,
        );
        assert_eq!(p.offers.len(), 1);
        assert_eq!(p.offers[0].price_per_hour, MicroUsd(16_000_000));
        assert_eq!(p.offers[0].price_per_gpu_hour, MicroUsd(2_000_000));
        assert_eq!(p.unpriced, 2, "a zero cost is unpriced, never $0");
    }
}
