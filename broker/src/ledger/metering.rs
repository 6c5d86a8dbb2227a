//! Per-millisecond usage metering as pure integer arithmetic (no IO, no clock).
//!
//! A price is micro-USD per hour; a markup is whole percent. The exact charge of `millis`
//! milliseconds is `price × (100 + markup) × millis / (3_600_000 × 100)` micro-USD, and a cent
//! is 10 000 micro-USD. Instead of rounding each interval, [`accrue`] keeps the numerator of
//! that fraction and carries everything below one cent as a [`Remainder`] (an integer in units
//! of 1 / [`REMAINDER_PER_CENT`] cent), so `cents × REMAINDER_PER_CENT + remainder` always
//! equals the exact charge: splitting an interval into any number of pieces charges exactly
//! what one piece would, and long runs never drift.

use serde::Serialize;

/// Micro-USD per cent.
const MICRO_PER_CENT: i128 = 10_000;
/// The denominator of the exact charge in cents: a remainder unit is 1/this cent.
pub const REMAINDER_PER_CENT: i64 = 3_600_000 * 100 * 10_000;

/// The sub-cent part of an allocation's usage not yet posted, in units of
/// 1 / [`REMAINDER_PER_CENT`] cent. Always in `0..REMAINDER_PER_CENT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Remainder(pub i64);

/// The whole cents an interval adds to what was carried, and the new carry.
///
/// `from_ms > to_ms` is treated as an empty interval. Negative prices or markups (which the
/// parameter store and offer schema never produce) are treated as zero.
pub fn accrue(
    price_per_hour_micro_usd: i64,
    markup_percent: i64,
    from_ms: i64,
    to_ms: i64,
    carried: Remainder,
) -> (i64, Remainder) {
    let millis = i128::from(to_ms.saturating_sub(from_ms).max(0));
    let rate =
        i128::from(price_per_hour_micro_usd.max(0)) * i128::from(100 + markup_percent.max(0));
    let carried = i128::from(carried.0.clamp(0, REMAINDER_PER_CENT - 1));
    let numerator = rate * millis + carried;
    let per_cent = i128::from(REMAINDER_PER_CENT);
    let cents = numerator / per_cent;
    let rest = numerator % per_cent;
    (
        i64::try_from(cents).unwrap_or(i64::MAX),
        // `rest` < REMAINDER_PER_CENT, which fits an i64.
        Remainder(i64::try_from(rest).unwrap_or_default()),
    )
}

/// What one billing window of a deployment costs, rounded up to whole cents: the hold a
/// deployment takes (`window_seconds × price × (1 + markup)`).
pub fn window_cost_minor(
    price_per_hour_micro_usd: i64,
    markup_percent: i64,
    window_seconds: i64,
) -> i64 {
    let (cents, rest) = accrue(
        price_per_hour_micro_usd,
        markup_percent,
        0,
        window_seconds.saturating_mul(1000),
        Remainder(0),
    );
    if rest.0 > 0 {
        cents.saturating_add(1)
    } else {
        cents
    }
}

/// The burn rate of a set of running deployments in cents per hour, rounded up:
/// `Σ price × (1 + markup)`.
pub fn burn_per_hour_minor(rates: impl IntoIterator<Item = (i64, i64)>) -> i64 {
    let micro_x100: i128 = rates
        .into_iter()
        .map(|(price, markup)| i128::from(price.max(0)) * i128::from(100 + markup.max(0)))
        .sum();
    let per_cent = MICRO_PER_CENT * 100;
    let cents = (micro_x100 + per_cent - 1) / per_cent;
    i64::try_from(cents).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_hour_at_one_dollar_with_no_markup_is_one_hundred_cents() {
        assert_eq!(
            accrue(1_000_000, 0, 0, 3_600_000, Remainder(0)),
            (100, Remainder(0))
        );
    }

    #[test]
    fn markup_is_whole_percent_on_top_of_the_price() {
        // $2.00/h + 15 % for 30 minutes = $1.15.
        assert_eq!(accrue(2_000_000, 15, 0, 1_800_000, Remainder(0)).0, 115);
    }

    #[test]
    fn one_second_of_a_cheap_gpu_is_carried_not_lost() {
        // $0.36/h is 0.01 cent per second: 99 seconds post nothing, the 100th posts a cent.
        let mut carry = Remainder(0);
        let mut total = 0;
        for s in 0..99 {
            let (c, r) = accrue(360_000, 0, s * 1000, (s + 1) * 1000, carry);
            total += c;
            carry = r;
        }
        assert_eq!(total, 0);
        let (c, r) = accrue(360_000, 0, 99_000, 100_000, carry);
        assert_eq!((c, r), (1, Remainder(0)));
    }

    #[test]
    fn a_backwards_interval_charges_nothing() {
        assert_eq!(
            accrue(5_000_000, 10, 10_000, 5_000, Remainder(7)),
            (0, Remainder(7))
        );
    }

    #[test]
    fn a_window_hold_rounds_up_to_the_next_cent() {
        assert_eq!(window_cost_minor(1_000_000, 0, 3600), 100);
        assert_eq!(window_cost_minor(1_000_001, 0, 3600), 101);
        assert_eq!(window_cost_minor(1_234_567, 20, 60), 3);
    }

    #[test]
    fn the_burn_rate_sums_prices_with_markup_and_rounds_up() {
        assert_eq!(burn_per_hour_minor([(1_000_000, 0), (2_000_000, 50)]), 400);
        assert_eq!(burn_per_hour_minor([(1, 0)]), 1);
        assert_eq!(burn_per_hour_minor([]), 0);
    }

    #[test]
    fn a_month_of_the_most_expensive_offer_does_not_overflow() {
        let month = 31 * 24 * 3_600_000;
        let (c, _) = accrue(1_000_000_000, 1000, 0, month, Remainder(0));
        assert_eq!(c, 1000 * 11 * 31 * 24 * 100);
    }

    fn total(price: i64, markup: i64, cuts: &[i64], start: i64, end: i64) -> (i64, Remainder) {
        let mut points: Vec<i64> = cuts
            .iter()
            .map(|c| start + c.rem_euclid(end - start + 1))
            .collect();
        points.push(start);
        points.push(end);
        points.sort_unstable();
        let mut carry = Remainder(0);
        let mut cents = 0;
        for w in points.windows(2) {
            let (c, r) = accrue(price, markup, w[0], w[1], carry);
            cents += c;
            carry = r;
        }
        (cents, carry)
    }

    proptest! {
        #[test]
        fn splitting_an_interval_into_any_pieces_charges_exactly_the_same(
            price in 0i64..2_000_000_000,
            markup in 0i64..=1000,
            start in 0i64..4_000_000_000_000,
            len in 0i64..(90 * 24 * 3_600_000),
            cuts in proptest::collection::vec(any::<i64>(), 0..200),
        ) {
            let whole = accrue(price, markup, start, start + len, Remainder(0));
            prop_assert_eq!(total(price, markup, &cuts, start, start + len), whole);
        }

        #[test]
        fn cents_and_remainder_together_are_the_exact_charge(
            price in 0i64..2_000_000_000,
            markup in 0i64..=1000,
            len in 0i64..(90 * 24 * 3_600_000),
            carried in 0i64..REMAINDER_PER_CENT,
        ) {
            let (c, r) = accrue(price, markup, 0, len, Remainder(carried));
            let exact = i128::from(price) * i128::from(100 + markup) * i128::from(len) + i128::from(carried);
            prop_assert_eq!(i128::from(c) * i128::from(REMAINDER_PER_CENT) + i128::from(r.0), exact);
            prop_assert!((0..REMAINDER_PER_CENT).contains(&r.0));
        }
    }
}
