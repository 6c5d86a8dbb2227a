//! Pure multi-criteria ranking with TOPSIS (Hwang & Yoon 1981).
//!
//! # Invariants
//!
//! This crate performs no IO, no async, reads no clock, allocates nothing per alternative
//! beyond the caller's output, and depends on no other workspace crate. Inputs are a
//! row-major `n × c` matrix of `f64` (one row per alternative, one column per
//! [`Criterion`]); outputs are closeness scores in `[0, 1]` (higher is better), never NaN,
//! plus, on request, an [`Explanation`] per alternative.
//!
//! # Method
//!
//! For criterion `j` with normalised weight `w_j` (weights are divided by their sum):
//!
//! 1. normalise: [`Normalization::Vector`] (the default, the textbook method)
//!    `r_ij = x_ij / sqrt(Σ_i x_ij²)`, or [`Normalization::MinMax`]
//!    `r_ij = (x_ij − min_j) / (max_j − min_j)`;
//! 2. weight: `v_ij = w_j · r_ij`;
//! 3. ideal `A⁺_j` / anti-ideal `A⁻_j`: the best / worst `v_ij` in the column (largest for a
//!    [`Direction::Benefit`], smallest for a [`Direction::Cost`]);
//! 4. distances `d⁺_i = sqrt(Σ_j (v_ij − A⁺_j)²)` and `d⁻_i = sqrt(Σ_j (v_ij − A⁻_j)²)`;
//! 5. closeness `C_i = d⁻_i / (d⁺_i + d⁻_i)`, computed as `1 / (1 + sqrt(Σa² / Σb²))`, which
//!    is the same value but monotone under rounding: an alternative that is at least as good
//!    on every criterion never scores below one it dominates, even in floating point.
//!
//! Results agree with pymcdm 1.4.0 (`TOPSIS(vector_normalization)` and
//! `TOPSIS(minmax_normalization)`) and with the textbook numpy version to about 1e-15 on every
//! non-degenerate case in `fixtures/topsis-cases/`. pymcdm's cost transform `1 − x/‖x‖`
//! is a reflection and gives the same distances.
//!
//! # Degenerate inputs (where we deviate from pymcdm, which returns NaN)
//!
//! | input | result |
//! |---|---|
//! | NaN or ±∞ cell | [`Error::NonFinite`] naming the first such cell (row-major order) |
//! | negative or non-finite weight | [`Error::InvalidWeight`] |
//! | every weight zero | [`Error::ZeroWeights`] (as R `topsis`; the case files say "reject") |
//! | some weights zero | those criteria are ignored (same as dropping the columns) |
//! | all-zero column, vector normalisation | ignored, same as a zero weight (pymcdm: NaN for all) |
//! | constant column | contributes exactly 0 to both distances (every library agrees) |
//! | `d⁺ + d⁻ = 0`: one alternative, identical alternatives, every weighted column constant | closeness 0.5 for all, distances 0, contributions 0 (pymcdm: NaN) |
//! | no rows | empty result |
//! | ties | equal closeness; [`top_k`] orders them by a caller-supplied key, then by row |
//!
//! 0.5 is the neutral point: closeness is `0.5 + Σ contributions` (see
//! [`Explanation::contributions`]), and reversing every criterion's direction maps `C` to
//! `1 − C`, of which 0.5 is the only fixed point. `d⁺ + d⁻ = 0` holds either for every
//! alternative or for none.
//!
//! Negative values are accepted and scored as pymcdm does (vector normalisation is
//! ill-posed for them in theory; offers' attributes are non-negative in practice). Extreme
//! magnitudes are handled without overflow: a column's norm is rescaled when its sum of
//! squares over- or underflows; a column whose spread or magnitude is below
//! `f64::MIN_POSITIVE` (subnormal) is treated as constant.
//!
//! # Speed
//!
//! Scoring reads the matrix exactly twice: pass 1 gathers each column's sum of squares,
//! minimum and maximum; pass 2 computes both distances per row from precomputed per-column
//! factors, with no per-cell branches. Criterion counts 1 to 16 use const-generic kernels
//! (pass 1 on tiles whose cells fill whole 8-lane vectors; pass 2 in the loop shape that
//! the target's vectoriser handles best) so the compiler vectorises them without `unsafe`;
//! other counts use a plain row loop. [`Topsis::score_into`]
//! with a reusable [`Workspace`] allocates nothing; [`top_k`] selects with a bounded heap
//! (O(k) memory, never a full sort); [`Topsis::rank`] does both and explains the winners,
//! with one `f64` per alternative (the scores) as its only O(n) memory.
//!
//! ```
//! use ranking::{top_k, Criterion, Normalization, Topsis};
//!
//! // price/h (cost), GPU memory (benefit), reliability (benefit)
//! let topsis = Topsis::new(
//!     &[Criterion::cost(0.5), Criterion::benefit(0.3), Criterion::benefit(0.2)],
//!     Normalization::Vector,
//! )?;
//! let offers = [
//!     1.2, 24.0, 0.99, //
//!     2.1, 48.0, 0.97, //
//!     3.5, 80.0, 0.995,
//! ];
//! let scores = topsis.score(&offers)?;
//! let best = top_k(&scores, 2, |row| row); // tie-break key: here the row itself
//! let why = topsis.explain_rows(&offers, &best)?;
//! assert_eq!(why[0].closeness, scores[best[0]]);
//!
//! // The same in one call: two passes, a bounded selection, k explanations.
//! let ranked = topsis.rank(&offers, 2, |row| row)?;
//! assert_eq!(ranked[0].row, best[0]);
//! assert_eq!(ranked[0].explanation, why[0]);
//! # Ok::<(), ranking::Error>(())
//! ```

mod columns;
mod explain;
mod select;
mod separation;
mod topsis;

pub use explain::Explanation;
pub use select::top_k;
pub use topsis::{Ranked, Topsis, Workspace};

use thiserror::Error;

/// Whether more of a criterion is better (benefit) or worse (cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger is better (GPU memory, reliability).
    Benefit,
    /// Smaller is better (price).
    Cost,
}

/// How each column is normalised before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalization {
    /// `x / sqrt(Σ x²)`: the textbook method (Hwang & Yoon 1981) and our default. An all-zero
    /// column has no norm and is ignored.
    #[default]
    Vector,
    /// `(x − min) / (max − min)` for a benefit, `(max − x) / (max − min)` for a cost: pymcdm's
    /// default. A constant column contributes nothing (pymcdm maps it to 1.0, with the same
    /// distances).
    MinMax,
}

/// One column of the decision matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criterion {
    /// Relative importance, `≥ 0`; weights are divided by their sum.
    pub weight: f64,
    /// Whether larger values are better or worse.
    pub direction: Direction,
}

impl Criterion {
    /// A criterion where larger is better.
    pub const fn benefit(weight: f64) -> Self {
        Self {
            weight,
            direction: Direction::Benefit,
        }
    }

    /// A criterion where smaller is better.
    pub const fn cost(weight: f64) -> Self {
        Self {
            weight,
            direction: Direction::Cost,
        }
    }
}

/// Why a ranking request was rejected.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// The matrix length is not a multiple of the number of criteria.
    #[error("matrix has {len} cells, which is not rows × {cols} criteria")]
    Shape { len: usize, cols: usize },
    /// [`Topsis::new`] got an empty criteria list.
    #[error("no criteria given")]
    NoCriteria,
    /// A weight is negative, NaN or infinite.
    #[error("weight of criterion {col} is negative or not finite")]
    InvalidWeight { col: usize },
    /// Every weight is zero, so no criterion can separate the alternatives.
    #[error("every criterion weight is zero")]
    ZeroWeights,
    /// A cell is NaN or infinite (the first one in row-major order).
    #[error("cell at row {row}, column {col} is NaN or infinite")]
    NonFinite { row: usize, col: usize },
    /// The output slice of [`Topsis::score_into`] does not have one slot per row.
    #[error("output has {got} slots for {expected} rows")]
    OutputLength { expected: usize, got: usize },
    /// [`Topsis::explain_rows`] was asked for a row the matrix does not have.
    #[error("row {row} is out of range for a matrix of {rows} rows")]
    RowOutOfRange { row: usize, rows: usize },
}
