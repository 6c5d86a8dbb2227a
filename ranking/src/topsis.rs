//! The configured ranker ([`Topsis`]) and its reusable scratch space ([`Workspace`]).

use crate::columns::{self, ColumnStats, Reference};
use crate::separation;
use crate::{top_k, Criterion, Error, Explanation, Normalization};

/// A configured TOPSIS ranker: criteria (weights, directions) and a normalisation.
#[derive(Debug, Clone)]
pub struct Topsis {
    criteria: Vec<Criterion>,
    weights: Vec<f64>,
    normalization: Normalization,
}

/// One alternative of a ranking: its row in the matrix and why it scored what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Row index in the matrix.
    pub row: usize,
    /// Closeness, distances and per-criterion contributions.
    pub explanation: Explanation,
}

/// Scratch space for [`Topsis::score_into`]: O(criteria) memory, reused across calls so
/// that scoring allocates nothing. One per thread; it carries no state between calls.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    stats: Vec<ColumnStats>,
    references: Vec<Reference>,
}

impl Workspace {
    /// An empty workspace; it grows to the criterion count on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Topsis {
    /// Validates the criteria and normalises the weights to sum 1.
    ///
    /// Zero weights are allowed (the criterion is ignored); negative or non-finite weights
    /// are rejected with [`Error::InvalidWeight`], all-zero weights with
    /// [`Error::ZeroWeights`], an empty list with [`Error::NoCriteria`].
    pub fn new(criteria: &[Criterion], normalization: Normalization) -> Result<Self, Error> {
        if criteria.is_empty() {
            return Err(Error::NoCriteria);
        }
        if let Some(col) = criteria
            .iter()
            .position(|c| !c.weight.is_finite() || c.weight < 0.0)
        {
            return Err(Error::InvalidWeight { col });
        }
        // Divide by the largest weight first so the sum cannot overflow.
        let largest = criteria.iter().fold(0.0_f64, |m, c| m.max(c.weight));
        if largest <= 0.0 {
            return Err(Error::ZeroWeights);
        }
        let sum: f64 = criteria.iter().map(|c| c.weight / largest).sum();
        let weights = criteria.iter().map(|c| c.weight / largest / sum).collect();
        Ok(Self {
            criteria: criteria.to_vec(),
            weights,
            normalization,
        })
    }

    /// Number of criteria (columns).
    pub fn columns(&self) -> usize {
        self.criteria.len()
    }

    /// The criteria as given.
    pub fn criteria(&self) -> &[Criterion] {
        &self.criteria
    }

    /// The weights actually used: the given ones divided by their sum.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The normalisation in use.
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// Number of rows (alternatives) in a row-major matrix, or [`Error::Shape`].
    pub fn rows(&self, matrix: &[f64]) -> Result<usize, Error> {
        let cols = self.columns();
        if matrix.len() % cols == 0 {
            Ok(matrix.len() / cols)
        } else {
            Err(Error::Shape {
                len: matrix.len(),
                cols,
            })
        }
    }

    /// Closeness of every row of the row-major matrix to the ideal solution, in row order.
    pub fn score(&self, matrix: &[f64]) -> Result<Vec<f64>, Error> {
        let mut out = vec![0.0; self.rows(matrix)?];
        self.score_into(matrix, &mut Workspace::new(), &mut out)?;
        Ok(out)
    }

    /// Like [`Topsis::score`], writing into `out` (one slot per row) and reusing
    /// `workspace`, so that repeated calls allocate nothing. On error `out` is unspecified.
    pub fn score_into(
        &self,
        matrix: &[f64],
        workspace: &mut Workspace,
        out: &mut [f64],
    ) -> Result<(), Error> {
        let rows = self.rows(matrix)?;
        if out.len() != rows {
            return Err(Error::OutputLength {
                expected: rows,
                got: out.len(),
            });
        }
        if rows == 0 {
            return Ok(());
        }
        self.prepare(matrix, workspace)?;
        separation::score(matrix, &workspace.references, out);
        Ok(())
    }

    /// Closeness plus an explanation of every row, in row order.
    pub fn explain(&self, matrix: &[f64]) -> Result<Vec<Explanation>, Error> {
        let rows: Vec<usize> = (0..self.rows(matrix)?).collect();
        self.explain_rows(matrix, &rows)
    }

    /// Explanations of the given rows only (for example the output of [`crate::top_k`]), in
    /// the order given. The statistics still come from the whole matrix, so each closeness
    /// is bit-identical to [`Topsis::score`]'s.
    pub fn explain_rows(&self, matrix: &[f64], rows: &[usize]) -> Result<Vec<Explanation>, Error> {
        let n = self.rows(matrix)?;
        if let Some(&row) = rows.iter().find(|&&r| r >= n) {
            return Err(Error::RowOutOfRange { row, rows: n });
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut workspace = Workspace::new();
        self.prepare(matrix, &mut workspace)?;
        let cols = self.columns();
        Ok(rows
            .iter()
            .map(|&r| Explanation::of_row(&matrix[r * cols..(r + 1) * cols], &workspace.references))
            .collect())
    }

    /// The `k` best alternatives, best first (ties by `key` ascending, then by row), each
    /// with its explanation: [`Topsis::score`], [`top_k`] and [`Topsis::explain_rows`] in
    /// one go. Needs one `f64` per alternative (the scores) plus O(k + criteria).
    pub fn rank<K: Ord>(
        &self,
        matrix: &[f64],
        k: usize,
        key: impl Fn(usize) -> K,
    ) -> Result<Vec<Ranked>, Error> {
        let mut scores = vec![0.0; self.rows(matrix)?];
        self.rank_into(matrix, k, key, &mut Workspace::new(), &mut scores)
    }

    /// Like [`Topsis::rank`], reusing `workspace` and the caller's `scores` buffer (one slot
    /// per row, left holding every row's closeness): two passes over the matrix, a bounded
    /// selection, and `k` explanations, with no other allocation than the result.
    pub fn rank_into<K: Ord>(
        &self,
        matrix: &[f64],
        k: usize,
        key: impl Fn(usize) -> K,
        workspace: &mut Workspace,
        scores: &mut [f64],
    ) -> Result<Vec<Ranked>, Error> {
        self.score_into(matrix, workspace, scores)?;
        let cols = self.columns();
        Ok(top_k(scores, k, key)
            .into_iter()
            .map(|row| Ranked {
                row,
                explanation: Explanation::of_row(
                    &matrix[row * cols..(row + 1) * cols],
                    &workspace.references,
                ),
            })
            .collect())
    }

    /// Pass 1 and the per-column references for a non-empty matrix of the right shape.
    fn prepare(&self, matrix: &[f64], workspace: &mut Workspace) -> Result<(), Error> {
        columns::scan(matrix, self.columns(), &mut workspace.stats);
        columns::check_finite(matrix, &workspace.stats)?;
        columns::references(
            &self.criteria,
            &self.weights,
            self.normalization,
            matrix,
            &workspace.stats,
            &mut workspace.references,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    fn cost_and_benefit() -> Topsis {
        Topsis::new(
            &[Criterion::cost(1.0), Criterion::benefit(1.0)],
            Normalization::Vector,
        )
        .unwrap()
    }

    #[test]
    fn a_cheaper_otherwise_equal_offer_ranks_first() {
        let scores = cost_and_benefit().score(&[1.0, 10.0, 2.0, 10.0]).unwrap();
        assert_eq!(scores, [1.0, 0.0]);
        assert_eq!(crate::top_k(&scores, 1, |i| i), [0]);
    }

    #[test]
    fn weights_are_normalised_to_sum_one_and_zero_weights_are_kept() {
        let topsis = Topsis::new(
            &[
                Criterion::cost(3.0),
                Criterion::benefit(0.0),
                Criterion::benefit(1.0),
            ],
            Normalization::MinMax,
        )
        .unwrap();
        assert_eq!(topsis.weights(), [0.75, 0.0, 0.25]);
        assert_eq!(topsis.columns(), 3);
        assert_eq!(topsis.criteria()[0].direction, Direction::Cost);
        assert_eq!(topsis.normalization(), Normalization::MinMax);
    }

    #[test]
    fn invalid_weights_and_empty_criteria_are_rejected() {
        let new = |w: f64| {
            Topsis::new(
                &[Criterion::benefit(1.0), Criterion::cost(w)],
                Normalization::Vector,
            )
        };
        assert_eq!(new(-0.1).err(), Some(Error::InvalidWeight { col: 1 }));
        assert_eq!(new(f64::NAN).err(), Some(Error::InvalidWeight { col: 1 }));
        assert_eq!(
            new(f64::INFINITY).err(),
            Some(Error::InvalidWeight { col: 1 })
        );
        let zeros = [Criterion::benefit(0.0), Criterion::cost(0.0)];
        assert_eq!(
            Topsis::new(&zeros, Normalization::Vector).err(),
            Some(Error::ZeroWeights)
        );
        assert_eq!(
            Topsis::new(&[], Normalization::Vector).err(),
            Some(Error::NoCriteria)
        );
    }

    #[test]
    fn huge_weights_do_not_overflow_their_sum() {
        let topsis = Topsis::new(
            &[Criterion::benefit(f64::MAX), Criterion::cost(f64::MAX)],
            Normalization::Vector,
        )
        .unwrap();
        assert_eq!(topsis.weights(), [0.5, 0.5]);
    }

    #[test]
    fn a_matrix_of_the_wrong_shape_is_rejected() {
        assert_eq!(
            cost_and_benefit().score(&[1.0, 2.0, 3.0]),
            Err(Error::Shape { len: 3, cols: 2 })
        );
    }

    #[test]
    fn an_infinite_cell_is_reported_with_its_row_and_column() {
        let matrix = [1.0, 2.0, 3.0, 4.0, 5.0, f64::NEG_INFINITY, f64::NAN, 1.0];
        assert_eq!(
            cost_and_benefit().score(&matrix),
            Err(Error::NonFinite { row: 2, col: 1 })
        );
        assert_eq!(
            cost_and_benefit().explain(&matrix),
            Err(Error::NonFinite { row: 2, col: 1 })
        );
    }

    #[test]
    fn no_rows_give_no_scores() {
        assert_eq!(cost_and_benefit().score(&[]), Ok(vec![]));
        assert_eq!(cost_and_benefit().explain(&[]), Ok(vec![]));
    }

    #[test]
    fn score_into_reuses_its_workspace_and_checks_the_output_length() {
        let topsis = cost_and_benefit();
        let mut workspace = Workspace::new();
        let mut out = [0.0; 3];
        let matrix = [1.0, 10.0, 2.0, 20.0, 3.0, 5.0];
        topsis
            .score_into(&matrix, &mut workspace, &mut out)
            .unwrap();
        assert_eq!(out.to_vec(), topsis.score(&matrix).unwrap());
        let other = [5.0, 1.0, 4.0, 2.0, 1.0, 1.0];
        topsis.score_into(&other, &mut workspace, &mut out).unwrap();
        assert_eq!(out.to_vec(), topsis.score(&other).unwrap());
        assert_eq!(
            topsis.score_into(&matrix, &mut workspace, &mut [0.0; 2]),
            Err(Error::OutputLength {
                expected: 3,
                got: 2
            })
        );
    }

    #[test]
    fn explain_rows_follows_the_given_order_and_rejects_missing_rows() {
        let topsis = cost_and_benefit();
        let matrix = [1.0, 10.0, 2.0, 20.0, 3.0, 5.0];
        let all = topsis.explain(&matrix).unwrap();
        let some = topsis.explain_rows(&matrix, &[2, 0]).unwrap();
        assert_eq!(some, [all[2].clone(), all[0].clone()]);
        assert_eq!(
            topsis.explain_rows(&matrix, &[0, 3]),
            Err(Error::RowOutOfRange { row: 3, rows: 3 })
        );
    }

    #[test]
    fn rank_returns_the_best_rows_with_their_explanations() {
        let topsis = cost_and_benefit();
        // Rows 0 and 3 are identical and dominate the others.
        let matrix = [1.0, 20.0, 2.0, 10.0, 3.0, 5.0, 1.0, 20.0];
        let scores = topsis.score(&matrix).unwrap();
        let ranked = topsis.rank(&matrix, 3, |row| row).unwrap();
        let rows: Vec<usize> = ranked.iter().map(|r| r.row).collect();
        assert_eq!(rows, [0, 3, 1]);
        assert_eq!(rows, crate::top_k(&scores, 3, |row| row));
        let explained = topsis.explain_rows(&matrix, &rows).unwrap();
        for (r, e) in ranked.iter().zip(&explained) {
            assert_eq!(&r.explanation, e);
        }
        let by_reverse_row = topsis.rank(&matrix, 2, std::cmp::Reverse).unwrap();
        let rows: Vec<usize> = by_reverse_row.iter().map(|r| r.row).collect();
        assert_eq!(rows, [3, 0]);
        assert_eq!(topsis.rank(&[], 3, |row| row), Ok(vec![]));
    }

    #[test]
    fn an_all_zero_column_is_ignored_under_vector_normalisation() {
        let topsis = Topsis::new(
            &[
                Criterion::cost(0.5),
                Criterion::benefit(0.3),
                Criterion::benefit(0.2),
            ],
            Normalization::Vector,
        )
        .unwrap();
        let without = Topsis::new(
            &[Criterion::cost(0.5), Criterion::benefit(0.2)],
            Normalization::Vector,
        )
        .unwrap();
        let full = topsis
            .score(&[1.0, 0.0, 0.9, 2.0, 0.0, 0.99, 1.5, 0.0, 0.95])
            .unwrap();
        let dropped = without.score(&[1.0, 0.9, 2.0, 0.99, 1.5, 0.95]).unwrap();
        for (a, b) in full.iter().zip(&dropped) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}
