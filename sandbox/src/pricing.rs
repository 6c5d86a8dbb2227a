//! Pure, seeded functions behind the market's numbers: stable hashing, price drift and
//! initial capacity. No clock, no IO: the same inputs give the same outputs on every run
//! and every platform.

use providers::MicroUsd;

/// A stable 64-bit hash of `parts` under `seed` (FNV-1a folded through a SplitMix64
/// finalizer). Unlike `std`'s hasher it never changes between Rust releases.
pub fn stable_hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ splitmix(seed);
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The drift of `offer` during `epoch`, in basis points within `±max_bp`.
pub fn drift_bp(seed: u64, offer: &str, epoch: i64, max_bp: u32) -> i64 {
    if max_bp == 0 {
        return 0;
    }
    let span = 2 * u64::from(max_bp) + 1;
    let h = stable_hash(seed, &[b"drift", offer.as_bytes(), &epoch.to_le_bytes()]);
    (h % span) as i64 - i64::from(max_bp)
}

/// `base` moved by `bp` basis points, rounded half away from zero to the micro-dollar.
pub fn apply_bp(base: MicroUsd, bp: i64) -> MicroUsd {
    let num = i128::from(base.0) * i128::from(bp);
    let delta = if num >= 0 {
        (num + 5_000) / 10_000
    } else {
        (num - 5_000) / 10_000
    };
    let price = i128::from(base.0) + delta;
    MicroUsd(i64::try_from(price).unwrap_or(base.0).max(1))
}

/// The initial capacity of an offer: `0..=max_units`, zero for about one offer in ten.
pub fn initial_capacity(seed: u64, offer: &str, max_units: u32) -> u32 {
    if max_units == 0 {
        return 0;
    }
    let h = stable_hash(seed, &[b"capacity", offer.as_bytes()]);
    if h % 100 < 10 {
        0
    } else {
        1 + ((h >> 8) % u64::from(max_units)) as u32
    }
}

/// A deterministic draw in `[0, 1)` for the `n`-th call at `provider`.
pub fn unit_draw(seed: u64, provider: &str, n: u64) -> f64 {
    let h = stable_hash(seed, &[b"fault", provider.as_bytes(), &n.to_le_bytes()]);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_stays_within_its_bound_and_is_repeatable() {
        for epoch in 0..2_000 {
            let bp = drift_bp(7, "aws:p5.48xlarge@us-east-1/use1-az4", epoch, 1_000);
            assert!((-1_000..=1_000).contains(&bp));
            assert_eq!(
                bp,
                drift_bp(7, "aws:p5.48xlarge@us-east-1/use1-az4", epoch, 1_000)
            );
        }
        assert_eq!(drift_bp(7, "x", 3, 0), 0);
    }

    #[test]
    fn applying_basis_points_rounds_half_away_from_zero() {
        assert_eq!(apply_bp(MicroUsd(1_000_000), 1_000), MicroUsd(1_100_000));
        assert_eq!(apply_bp(MicroUsd(1_000_000), -1_000), MicroUsd(900_000));
        assert_eq!(apply_bp(MicroUsd(15), 3_333), MicroUsd(20));
        assert_eq!(apply_bp(MicroUsd(15), -3_333), MicroUsd(10));
        assert_eq!(apply_bp(MicroUsd(82_200), 0), MicroUsd(82_200));
    }

    #[test]
    fn most_offers_start_with_capacity_and_none_exceeds_the_maximum() {
        let caps: Vec<u32> = (0..1_000)
            .map(|i| initial_capacity(42, &format!("p:offer{i}"), 8))
            .collect();
        assert!(caps.iter().all(|&c| c <= 8));
        let empty = caps.iter().filter(|&&c| c == 0).count();
        assert!(empty > 50 && empty < 200, "{empty}");
    }

    #[test]
    fn draws_are_uniform_enough_and_repeatable() {
        let draws: Vec<f64> = (0..10_000).map(|n| unit_draw(1, "aws", n)).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below_half = draws.iter().filter(|&&d| d < 0.5).count();
        assert!((4_500..5_500).contains(&below_half), "{below_half}");
        assert_eq!(unit_draw(1, "aws", 17), draws[17]);
    }
}
