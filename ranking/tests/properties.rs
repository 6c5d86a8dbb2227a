//! Properties that hold for every input, checked on random matrices (proptest): invariance
//! under reordering and rescaling, dominance, bounds, agreement with a textbook
//! implementation, and the consistency of scores, explanations and selection.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: generated problems are valid by construction"
)]

use proptest::prelude::*;
use ranking::{top_k, Criterion, Direction, Normalization, Topsis, Workspace};

const TOLERANCE: f64 = 1e-9;
const BOTH: [Normalization; 2] = [Normalization::Vector, Normalization::MinMax];

#[derive(Debug, Clone)]
struct Problem {
    rows: usize,
    cols: usize,
    matrix: Vec<f64>,
    criteria: Vec<Criterion>,
}

impl Problem {
    fn topsis(&self, normalization: Normalization) -> Topsis {
        Topsis::new(&self.criteria, normalization).unwrap()
    }

    fn score(&self, normalization: Normalization) -> Vec<f64> {
        self.topsis(normalization).score(&self.matrix).unwrap()
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.matrix[i * self.cols..(i + 1) * self.cols]
    }

    /// Whether row `a` is at least as good as row `b` on every criterion.
    fn weakly_dominates(&self, a: usize, b: usize) -> bool {
        self.row(a)
            .iter()
            .zip(self.row(b))
            .zip(&self.criteria)
            .all(|((x, y), c)| match c.direction {
                Direction::Benefit => x >= y,
                Direction::Cost => x <= y,
            })
    }
}

/// Cells: mostly continuous, sometimes small integers, so that ties, duplicate rows,
/// constant and all-zero columns all occur.
fn cell() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.01_f64..1000.0,
        1 => (0_u8..4).prop_map(f64::from),
    ]
}

fn criterion() -> impl Strategy<Value = Criterion> {
    let weight = prop_oneof![1 => Just(0.0), 4 => 0.001_f64..10.0];
    (weight, any::<bool>()).prop_map(|(weight, cost)| Criterion {
        weight,
        direction: if cost {
            Direction::Cost
        } else {
            Direction::Benefit
        },
    })
}

/// Up to 11 criteria, so both the fixed-width kernels (1 to 8) and the generic path run,
/// and up to 40 rows, so full and partial tiles occur.
fn problem() -> impl Strategy<Value = Problem> {
    (1_usize..=40, 1_usize..=11)
        .prop_flat_map(|(rows, cols)| {
            (
                prop::collection::vec(cell(), rows * cols),
                prop::collection::vec(criterion(), cols),
            )
                .prop_map(move |(matrix, criteria)| Problem {
                    rows,
                    cols,
                    matrix,
                    criteria,
                })
        })
        .prop_filter("at least one positive weight", |p| {
            p.criteria.iter().any(|c| c.weight > 0.0)
        })
}

/// The textbook algorithm, written as plainly as possible, with our documented rules for
/// zero-norm columns and `d⁺ + d⁻ = 0`.
fn textbook(p: &Problem, normalization: Normalization) -> Vec<f64> {
    let total: f64 = p.criteria.iter().map(|c| c.weight).sum();
    let mut weighted = vec![vec![0.0; p.cols]; p.rows];
    let mut ideal = vec![0.0; p.cols];
    let mut anti = vec![0.0; p.cols];
    for (j, criterion) in p.criteria.iter().enumerate() {
        let column: Vec<f64> = (0..p.rows).map(|i| p.row(i)[j]).collect();
        let min = column.iter().copied().fold(f64::INFINITY, f64::min);
        let max = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let norm = column.iter().map(|x| x * x).sum::<f64>().sqrt();
        let w = criterion.weight / total;
        for (i, &x) in column.iter().enumerate() {
            let r = match normalization {
                Normalization::Vector if norm > 0.0 => x / norm,
                Normalization::MinMax if max > min => match criterion.direction {
                    Direction::Benefit => (x - min) / (max - min),
                    Direction::Cost => (max - x) / (max - min),
                },
                _ => 0.0,
            };
            weighted[i][j] = w * r;
        }
        let values: Vec<f64> = weighted.iter().map(|row| row[j]).collect();
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let benefit =
            normalization == Normalization::MinMax || criterion.direction == Direction::Benefit;
        (ideal[j], anti[j]) = if benefit { (hi, lo) } else { (lo, hi) };
    }
    weighted
        .iter()
        .map(|v| {
            let d_plus = v
                .iter()
                .zip(&ideal)
                .map(|(x, a)| (x - a).powi(2))
                .sum::<f64>()
                .sqrt();
            let d_minus = v
                .iter()
                .zip(&anti)
                .map(|(x, a)| (x - a).powi(2))
                .sum::<f64>()
                .sqrt();
            if d_plus + d_minus > 0.0 {
                d_minus / (d_plus + d_minus)
            } else {
                0.5
            }
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!((g - w).abs() <= TOLERANCE, "[{}]: {} vs {}", i, g, w);
    }
    Ok(())
}

proptest! {
    #[test]
    fn closeness_is_always_a_number_within_zero_and_one(p in problem()) {
        for normalization in BOTH {
            for s in p.score(normalization) {
                prop_assert!((0.0..=1.0).contains(&s), "{}", s);
            }
        }
    }

    #[test]
    fn scores_agree_with_the_textbook_algorithm(p in problem()) {
        for normalization in BOTH {
            assert_close(&p.score(normalization), &textbook(&p, normalization))?;
        }
    }

    #[test]
    fn reordering_the_alternatives_permutes_the_scores(
        (p, order) in problem().prop_flat_map(|p| {
            let order = Just((0..p.rows).collect::<Vec<_>>()).prop_shuffle();
            (Just(p), order)
        })
    ) {
        let shuffled = Problem {
            matrix: order.iter().flat_map(|&i| p.row(i).to_vec()).collect(),
            ..p.clone()
        };
        for normalization in BOTH {
            let original = p.score(normalization);
            let permuted: Vec<f64> = order.iter().map(|&i| original[i]).collect();
            assert_close(&shuffled.score(normalization), &permuted)?;
        }
    }

    #[test]
    fn scaling_every_weight_by_the_same_factor_changes_nothing(
        p in problem(), factor in 1e-3_f64..1e3
    ) {
        let scaled = Problem {
            criteria: p
                .criteria
                .iter()
                .map(|c| Criterion { weight: c.weight * factor, ..*c })
                .collect(),
            ..p.clone()
        };
        for normalization in BOTH {
            assert_close(&scaled.score(normalization), &p.score(normalization))?;
        }
    }

    #[test]
    fn scaling_one_column_by_a_positive_factor_changes_nothing(
        p in problem(), column in any::<prop::sample::Index>(), factor in 1e-3_f64..1e3
    ) {
        let j = column.index(p.cols);
        let mut scaled = p.clone();
        for row in scaled.matrix.chunks_exact_mut(p.cols) {
            row[j] *= factor;
        }
        // Vector normalisation divides by the column norm, min-max by the range.
        for normalization in BOTH {
            assert_close(&scaled.score(normalization), &p.score(normalization))?;
        }
    }

    #[test]
    fn an_alternative_never_scores_below_one_it_dominates(
        p in problem(),
        pick in any::<prop::sample::Index>(),
        gains in prop::collection::vec(prop_oneof![Just(0.0), 0.0_f64..1.0], 11),
    ) {
        // Append a copy of one row that is at least as good on every criterion.
        let i = pick.index(p.rows);
        let better: Vec<f64> = p
            .row(i)
            .iter()
            .zip(&p.criteria)
            .zip(&gains)
            .map(|((&x, c), g)| match c.direction {
                Direction::Benefit => x * (1.0 + g),
                Direction::Cost => x * (1.0 - g / 2.0),
            })
            .collect();
        let mut q = p.clone();
        q.matrix.extend(better);
        q.rows += 1;
        for normalization in BOTH {
            let scores = q.score(normalization);
            for a in 0..q.rows {
                for b in 0..q.rows {
                    if q.weakly_dominates(a, b) {
                        // Exact: the closeness formula is monotone under rounding.
                        prop_assert!(scores[a] >= scores[b], "{} < {}", scores[a], scores[b]);
                    }
                }
            }
        }
    }

    #[test]
    fn explanations_match_the_scores_and_their_contributions_add_up(p in problem()) {
        for normalization in BOTH {
            let topsis = p.topsis(normalization);
            let scores = topsis.score(&p.matrix).unwrap();
            let explanations = topsis.explain(&p.matrix).unwrap();
            for (s, e) in scores.iter().zip(&explanations) {
                prop_assert_eq!(s.to_bits(), e.closeness.to_bits());
                prop_assert_eq!(e.contributions.len(), p.cols);
                let sum: f64 = e.contributions.iter().sum();
                prop_assert!((sum - (e.closeness - 0.5)).abs() <= 1e-12);
                prop_assert!(e.contributions.iter().all(|c| c.abs() <= 0.5));
                for (c, criterion) in e.contributions.iter().zip(&p.criteria) {
                    if criterion.weight == 0.0 {
                        prop_assert_eq!(*c, 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn a_reused_workspace_gives_the_same_scores_as_a_fresh_one(a in problem(), b in problem()) {
        let mut workspace = Workspace::new();
        for p in [&a, &b, &a] {
            let topsis = p.topsis(Normalization::Vector);
            let mut out = vec![f64::NAN; p.rows];
            topsis.score_into(&p.matrix, &mut workspace, &mut out).unwrap();
            prop_assert_eq!(out, topsis.score(&p.matrix).unwrap());
        }
    }

    #[test]
    fn top_k_is_the_prefix_of_a_full_sort(
        scores in prop::collection::vec((0_u8..6).prop_map(|s| f64::from(s) / 4.0), 0..200),
        k in 0_usize..210,
    ) {
        let key = |i: usize| i % 3; // not unique: the index breaks the remaining ties
        let mut sorted: Vec<usize> = (0..scores.len()).collect();
        sorted.sort_by(|&a, &b| {
            scores[b].total_cmp(&scores[a]).then(key(a).cmp(&key(b))).then(a.cmp(&b))
        });
        sorted.truncate(k);
        prop_assert_eq!(top_k(&scores, k, key), sorted);
    }
}
