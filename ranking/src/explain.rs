//! Why an alternative scored what it did: its distances and each criterion's share.

use crate::columns::Reference;
use crate::separation::{closeness, row_sums};

/// Why one alternative scored what it did.
///
/// Distances are in weighted normalised units with the weights normalised to sum 1 (so
/// they equal pymcdm's `d_plus` / `d_minus` when the caller's weights already sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// `d⁻ / (d⁺ + d⁻)` in `[0, 1]`; bit-identical to what [`crate::Topsis::score`] returns.
    pub closeness: f64,
    /// `d⁺`: Euclidean distance to the ideal point.
    pub distance_to_ideal: f64,
    /// `d⁻`: Euclidean distance to the anti-ideal point.
    pub distance_to_anti_ideal: f64,
    /// One entry per criterion, in criterion order: how much that criterion moved the
    /// closeness away from the neutral 0.5.
    ///
    /// With `a_j = v_j − A⁺_j` and `b_j = v_j − A⁻_j` this alternative's weighted normalised
    /// offsets from the ideal and the anti-ideal on criterion `j`,
    ///
    /// `contributions[j] = (b_j² − a_j²) / (2 · (d⁺ + d⁻)²)`.
    ///
    /// Because `Σ_j (b_j² − a_j²) = d⁻² − d⁺² = (d⁻ − d⁺)(d⁻ + d⁺)`, the contributions add up
    /// to `closeness − 0.5` (to rounding). A positive entry means the alternative sits nearer
    /// the best than the worst value on that criterion and was pulled up by it; a negative
    /// one pulled it down; the larger the weight and the wider the spread of the criterion,
    /// the larger the magnitude. Each lies in `[−0.5, 0.5]`. The largest entry is the
    /// criterion that "helped most" ([`Explanation::most_helpful`]), the smallest the one that
    /// "hurt most" ([`Explanation::most_harmful`]). Criteria with zero weight, constant
    /// columns and all-zero columns contribute exactly 0, as does everything when
    /// `d⁺ + d⁻ = 0`.
    pub contributions: Vec<f64>,
}

impl Explanation {
    pub(crate) fn of_row(row: &[f64], references: &[Reference]) -> Self {
        let (sq_ideal, sq_anti) = row_sums(row, references);
        let (d_ideal, d_anti) = (sq_ideal.sqrt(), sq_anti.sqrt());
        let total = d_ideal + d_anti;
        let scale = if total > 0.0 {
            1.0 / (2.0 * total * total)
        } else {
            0.0
        };
        let contributions = row
            .iter()
            .zip(references)
            .map(|(&x, r)| {
                let v = (x - r.offset) * r.factor;
                let (a, b) = (v - r.ideal, v - r.anti_ideal);
                (b * b - a * a) * scale
            })
            .collect();
        Self {
            closeness: closeness(sq_ideal, sq_anti),
            distance_to_ideal: d_ideal,
            distance_to_anti_ideal: d_anti,
            contributions,
        }
    }

    /// The criterion with the largest positive contribution ("price helped most"), or `None`
    /// if no criterion pulled this alternative up. Ties go to the lower index.
    pub fn most_helpful(&self) -> Option<usize> {
        self.extreme(|c, best| c > best)
    }

    /// The criterion with the most negative contribution ("reliability hurt most"), or `None`
    /// if no criterion pulled this alternative down. Ties go to the lower index.
    pub fn most_harmful(&self) -> Option<usize> {
        self.extreme(|c, best| c < best)
    }

    fn extreme(&self, beats: impl Fn(f64, f64) -> bool) -> Option<usize> {
        let mut found: Option<(usize, f64)> = None;
        for (j, &c) in self.contributions.iter().enumerate() {
            let current = found.map_or(0.0, |(_, best)| best);
            if beats(c, current) {
                found = Some((j, c));
            }
        }
        found.map(|(j, _)| j)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Criterion, Normalization, Topsis};

    /// Hwang & Yoon (1981), fighter aircraft: speed, range, payload, cost, reliability,
    /// maneuverability.
    const AIRCRAFT: [f64; 24] = [
        2.0, 1500.0, 20000.0, 5.5, 5.0, 9.0, //
        2.5, 2700.0, 18000.0, 6.5, 3.0, 5.0, //
        1.8, 2000.0, 21000.0, 4.5, 7.0, 7.0, //
        2.2, 1800.0, 20000.0, 5.0, 5.0, 5.0,
    ];

    fn aircraft() -> Topsis {
        let b = Criterion::benefit;
        Topsis::new(
            &[b(0.2), b(0.1), b(0.1), Criterion::cost(0.1), b(0.2), b(0.3)],
            Normalization::Vector,
        )
        .unwrap()
    }

    fn assert_all_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (j, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-12, "[{j}]: {g} vs {w}");
        }
    }

    /// Snapshot of the first aircraft's explanation. The expected numbers were computed
    /// independently with numpy from the definition in the doc comment.
    #[test]
    fn the_aircraft_example_explains_a1_as_winning_on_maneuverability() {
        let explanation = &aircraft().explain(&AIRCRAFT).unwrap()[0];

        assert!((explanation.closeness - 0.6432770005532701).abs() < 1e-12);
        assert!((explanation.distance_to_ideal - 0.05455744831303299).abs() < 1e-12);
        assert!((explanation.distance_to_anti_ideal - 0.09838320423151972).abs() < 1e-12);
        assert_all_close(
            &explanation.contributions,
            &[
                -0.0097958234165205,
                -0.018344026210606594,
                0.00040976139485353954,
                0.0, // cost 5.5 is halfway between the best 4.5 and the worst 6.5
                0.0, // reliability 5 is halfway between 3 and 7
                0.17100708878554363,
            ],
        );
        assert_eq!(explanation.most_helpful(), Some(5));
        assert_eq!(explanation.most_harmful(), Some(1));
    }

    #[test]
    fn contributions_add_up_to_closeness_minus_one_half() {
        for explanation in aircraft().explain(&AIRCRAFT).unwrap() {
            let sum: f64 = explanation.contributions.iter().sum();
            assert!((sum - (explanation.closeness - 0.5)).abs() < 1e-12);
        }
    }

    #[test]
    fn the_cheapest_gpu_offer_is_told_price_helped_most_and_memory_hurt_most() {
        // price/h, GPU GiB, compute, vCPUs, RAM GiB, reliability, availability
        let offers = [
            2.49, 80.0, 100.0, 26.0, 200.0, 0.995, 0.9, // h100-a
            2.99, 80.0, 100.0, 32.0, 256.0, 0.999, 0.97, // h100-b
            1.79, 80.0, 62.0, 16.0, 120.0, 0.99, 0.8, // a100-80
            1.29, 40.0, 62.0, 12.0, 85.0, 0.98, 0.85, // a100-40
            0.99, 48.0, 45.0, 16.0, 64.0, 0.97, 0.95, // l40s
            0.44, 24.0, 41.0, 8.0, 32.0, 0.9, 0.99, // rtx4090
            0.75, 24.0, 15.0, 8.0, 32.0, 0.995, 0.99, // a10g
            3.79, 141.0, 105.0, 32.0, 256.0, 0.99, 0.6, // h200
        ];
        let b = Criterion::benefit;
        let topsis = Topsis::new(
            &[
                Criterion::cost(0.3),
                b(0.15),
                b(0.2),
                b(0.05),
                b(0.05),
                b(0.15),
                b(0.1),
            ],
            Normalization::Vector,
        )
        .unwrap();
        let scores = topsis.score(&offers).unwrap();
        let best = crate::top_k(&scores, 1, |i| i);
        assert_eq!(best, [5]); // rtx4090
        let why = &topsis.explain_rows(&offers, &best).unwrap()[0];
        assert_eq!(why.most_helpful(), Some(0)); // price
        assert_eq!(why.most_harmful(), Some(1)); // GPU memory
        assert!((why.contributions[0] - 0.1798).abs() < 1e-4);
    }

    #[test]
    fn a_lone_alternative_is_neutral_with_nothing_to_explain() {
        let explanation = &aircraft().explain(&AIRCRAFT[..6]).unwrap()[0];
        assert_eq!(explanation.closeness, 0.5);
        assert_eq!(explanation.distance_to_ideal, 0.0);
        assert_eq!(explanation.distance_to_anti_ideal, 0.0);
        assert_eq!(explanation.contributions, [0.0; 6]);
        assert_eq!(explanation.most_helpful(), None);
        assert_eq!(explanation.most_harmful(), None);
    }
}
