//! Pass 2 over the matrix: each alternative's squared separation from the ideal and the
//! anti-ideal, and its closeness.
//!
//! Every row is computed with the same operations in the same order (criteria left to
//! right, starting from 0.0), whichever kernel handles it, so [`row_sums`] (used by the
//! explanations and by uncommon criterion counts) is bit-identical to the tiled kernel.

use crate::columns::Reference;

/// Rows per tile: 8 rows fill a 512-bit vector and keep the sums in registers.
const TILE: usize = 8;

/// `C = d⁻ / (d⁺ + d⁻)` from the squared distances, as `1 / (1 + sqrt(Σa² / Σb²))`: every
/// step is monotone under rounding, so dominance is preserved exactly. `d⁺ = d⁻ = 0` (no
/// criterion separates the alternatives) gives the neutral 0.5.
#[inline(always)]
pub(crate) fn closeness(sum_sq_ideal: f64, sum_sq_anti: f64) -> f64 {
    let c = 1.0 / (1.0 + (sum_sq_ideal / sum_sq_anti).sqrt());
    if sum_sq_ideal + sum_sq_anti > 0.0 {
        c
    } else {
        0.5
    }
}

/// Squared distances of one row to the ideal and the anti-ideal.
#[inline(always)]
pub(crate) fn row_sums(row: &[f64], references: &[Reference]) -> (f64, f64) {
    let (mut to_ideal, mut to_anti) = (0.0, 0.0);
    for (&x, r) in row.iter().zip(references) {
        let v = (x - r.offset) * r.factor;
        let a = v - r.ideal;
        let b = v - r.anti_ideal;
        to_ideal += a * a;
        to_anti += b * b;
    }
    (to_ideal, to_anti)
}

/// Writes the closeness of every row of `matrix` into `out` (one slot per row).
pub(crate) fn score(matrix: &[f64], references: &[Reference], out: &mut [f64]) {
    if references.iter().all(|r| r.offset == 0.0) {
        score_dispatch::<false>(matrix, references, out);
    } else {
        score_dispatch::<true>(matrix, references, out);
    }
}

/// `OFFSET = false` skips the subtraction of a zero offset (vector normalisation); the
/// result is bit-identical because `x − 0.0 = x`.
fn score_dispatch<const OFFSET: bool>(matrix: &[f64], references: &[Reference], out: &mut [f64]) {
    match references.len() {
        1 => score_fixed::<1, OFFSET>(matrix, references, out),
        2 => score_fixed::<2, OFFSET>(matrix, references, out),
        3 => score_fixed::<3, OFFSET>(matrix, references, out),
        4 => score_fixed::<4, OFFSET>(matrix, references, out),
        5 => score_fixed::<5, OFFSET>(matrix, references, out),
        6 => score_fixed::<6, OFFSET>(matrix, references, out),
        7 => score_fixed::<7, OFFSET>(matrix, references, out),
        8 => score_fixed::<8, OFFSET>(matrix, references, out),
        cols => {
            for (row, slot) in matrix.chunks_exact(cols).zip(out.iter_mut()) {
                let (to_ideal, to_anti) = row_sums(row, references);
                *slot = closeness(to_ideal, to_anti);
            }
        }
    }
}

/// The per-column references as arrays, so the tile loop sees constants.
struct Fixed<const C: usize> {
    offset: [f64; C],
    factor: [f64; C],
    ideal: [f64; C],
    anti_ideal: [f64; C],
}

impl<const C: usize> Fixed<C> {
    fn new(references: &[Reference]) -> Self {
        let mut fixed = Self {
            offset: [0.0; C],
            factor: [0.0; C],
            ideal: [0.0; C],
            anti_ideal: [0.0; C],
        };
        for (j, r) in references.iter().enumerate().take(C) {
            fixed.offset[j] = r.offset;
            fixed.factor[j] = r.factor;
            fixed.ideal[j] = r.ideal;
            fixed.anti_ideal[j] = r.anti_ideal;
        }
        fixed
    }

    /// `TILE` rows: criteria outer, rows inner, so each step is one vector operation over
    /// the tile's rows.
    #[inline(always)]
    fn tile<const OFFSET: bool>(&self, tile: &[f64], out: &mut [f64]) {
        let mut to_ideal = [0.0_f64; TILE];
        let mut to_anti = [0.0_f64; TILE];
        for j in 0..C {
            for r in 0..TILE {
                let x = tile[r * C + j];
                let x = if OFFSET { x - self.offset[j] } else { x };
                let v = x * self.factor[j];
                let a = v - self.ideal[j];
                let b = v - self.anti_ideal[j];
                to_ideal[r] += a * a;
                to_anti[r] += b * b;
            }
        }
        for r in 0..TILE {
            out[r] = closeness(to_ideal[r], to_anti[r]);
        }
    }
}

fn score_fixed<const C: usize, const OFFSET: bool>(
    matrix: &[f64],
    references: &[Reference],
    out: &mut [f64],
) {
    let fixed = Fixed::<C>::new(references);
    let mut tiles = matrix.chunks_exact(C * TILE);
    let mut slots = out.chunks_exact_mut(TILE);
    for (tile, slot) in (&mut tiles).zip(&mut slots) {
        fixed.tile::<OFFSET>(tile, slot);
    }
    // The last partial tile goes through the same code, padded, so its rows round the same.
    let rest = tiles.remainder();
    let slots = slots.into_remainder();
    if !rest.is_empty() {
        let mut padded = [[0.0_f64; C]; TILE];
        padded.as_flattened_mut()[..rest.len()].copy_from_slice(rest);
        let mut padded_out = [0.0_f64; TILE];
        fixed.tile::<OFFSET>(padded.as_flattened(), &mut padded_out);
        let n = slots.len();
        slots.copy_from_slice(&padded_out[..n]);
    }
}
