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
