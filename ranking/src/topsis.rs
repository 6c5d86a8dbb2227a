//! The configured ranker ([`Topsis`]) and its reusable scratch space ([`Workspace`]).

use crate::columns::{self, ColumnStats, Reference};
use crate::separation;
use crate::{Criterion, Error, Explanation, Normalization};

/// A configured TOPSIS ranker: criteria (weights, directions) and a normalisation.
#[derive(Debug, Clone)]
pub struct Topsis {
    criteria: Vec<Criterion>,
    weights: Vec<f64>,
    normalization: Normalization,
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
        let weights = criteria
            .iter()
            .map(|c| c.weight / largest / sum)
            .collect();
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
            .map(|&r| {
                Explanation::of_row(&matrix[r * cols..(r + 1) * cols], &workspace.references)
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
