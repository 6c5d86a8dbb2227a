//! Pass 2 over the matrix: each alternative's squared separation from the ideal and the
//! anti-ideal, and its closeness.
//!
//! Every row is computed with the same operations in the same order (criteria left to
//! right, starting from 0.0), whichever kernel handles it, so [`row_sums`] (used by the
//! explanations and by uncommon criterion counts) is bit-identical to the fixed-width
//! kernels, and rows never differ by where they sit in the matrix.

use crate::columns::Reference;

/// Criterion counts with a fixed-width (const-generic) kernel; others use [`row_sums`].
const FIXED_MAX: usize = 16;

/// Rows per tile in the tiled kernels: 8 rows fill a 512-bit vector.
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
        dispatch::<false>(matrix, references, out);
    } else {
        dispatch::<true>(matrix, references, out);
    }
}

/// `OFFSET = false` skips the subtraction of a zero offset (vector normalisation); the
/// result is bit-identical because `x − 0.0 = x`.
fn dispatch<const OFFSET: bool>(matrix: &[f64], references: &[Reference], out: &mut [f64]) {
    macro_rules! fixed {
        ($($c:literal)*) => {
            match references.len() {
                $($c => Fixed::<$c>::new(references).score::<OFFSET>(matrix, out),)*
                cols => {
                    for (row, slot) in matrix.chunks_exact(cols).zip(out.iter_mut()) {
                        let (to_ideal, to_anti) = row_sums(row, references);
                        *slot = closeness(to_ideal, to_anti);
                    }
                }
            }
        };
    }
    const _: () = assert!(FIXED_MAX == 16, "keep the list below in step");
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
}

/// How a fixed-width kernel walks the matrix. All three compute each row identically; they
/// differ in how the compiler vectorises them, which depends on the target's vector width
/// and cost model. The choice below was measured on an AMD Zen 5 (1M rows, LLVM 20/21 from
/// rustc 1.95): the wrong shape can be 4–30× slower because the loop vectoriser falls back
/// to gathers and scatters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One row per iteration; the compiler vectorises across rows.
    Rows,
    /// Tiles of 8 rows read in place, criteria outer and rows inner.
    Tiles,
    /// Tiles of 8 rows first copied into a criteria-major block.
    Transposed,
}

const fn shape(cols: usize) -> Shape {
    if cfg!(target_feature = "avx512f") {
        if cols >= 8 {
            Shape::Transposed
        } else {
            Shape::Rows
        }
    } else if cfg!(target_feature = "avx2") && cols == 6 {
        Shape::Tiles
    } else {
        // The x86-64 baseline (SSE2) and everything else.
        Shape::Rows
    }
}

/// The per-column references as arrays, so the loops see constants.
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

    /// `(a², b²)` terms of criterion `j` for the value `x`, as in [`row_sums`].
    #[inline(always)]
    fn terms<const OFFSET: bool>(&self, j: usize, x: f64) -> (f64, f64) {
        let x = if OFFSET { x - self.offset[j] } else { x };
        let v = x * self.factor[j];
        let a = v - self.ideal[j];
        let b = v - self.anti_ideal[j];
        (a * a, b * b)
    }

    fn score<const OFFSET: bool>(&self, matrix: &[f64], out: &mut [f64]) {
        match const { shape(C) } {
            Shape::Rows => {
                for (row, slot) in matrix.chunks_exact(C).zip(out.iter_mut()) {
                    let (mut to_ideal, mut to_anti) = (0.0, 0.0);
                    for (j, &x) in row.iter().enumerate() {
                        let (a2, b2) = self.terms::<OFFSET>(j, x);
                        to_ideal += a2;
                        to_anti += b2;
                    }
                    *slot = closeness(to_ideal, to_anti);
                }
            }
            Shape::Tiles => self.tiles(matrix, out, Self::tile_in_place::<OFFSET>),
            Shape::Transposed => self.tiles(matrix, out, Self::tile_transposed::<OFFSET>),
        }
    }

    /// Runs `kernel` over whole tiles of `TILE` rows; the last partial tile is padded so
    /// its rows go through the same code.
    #[inline(always)]
    fn tiles(&self, matrix: &[f64], out: &mut [f64], kernel: impl Fn(&Self, &[f64], &mut [f64])) {
        let mut tiles = matrix.chunks_exact(C * TILE);
        let mut slots = out.chunks_exact_mut(TILE);
        for (tile, slot) in (&mut tiles).zip(&mut slots) {
            kernel(self, tile, slot);
        }
        let rest = tiles.remainder();
        let slots = slots.into_remainder();
        if !rest.is_empty() {
            let mut padded = [[0.0_f64; C]; TILE];
            padded.as_flattened_mut()[..rest.len()].copy_from_slice(rest);
            let mut padded_out = [0.0_f64; TILE];
            kernel(self, padded.as_flattened(), &mut padded_out);
            let n = slots.len();
            slots.copy_from_slice(&padded_out[..n]);
        }
    }

    #[inline(always)]
    fn tile_in_place<const OFFSET: bool>(&self, tile: &[f64], out: &mut [f64]) {
        let mut to_ideal = [0.0_f64; TILE];
        let mut to_anti = [0.0_f64; TILE];
        for j in 0..C {
            for r in 0..TILE {
                let (a2, b2) = self.terms::<OFFSET>(j, tile[r * C + j]);
                to_ideal[r] += a2;
                to_anti[r] += b2;
            }
        }
        for r in 0..TILE {
            out[r] = closeness(to_ideal[r], to_anti[r]);
        }
    }

    #[inline(always)]
    fn tile_transposed<const OFFSET: bool>(&self, tile: &[f64], out: &mut [f64]) {
        let mut block = [[0.0_f64; TILE]; C];
        for r in 0..TILE {
            for j in 0..C {
                block[j][r] = tile[r * C + j];
            }
        }
        let mut to_ideal = [0.0_f64; TILE];
        let mut to_anti = [0.0_f64; TILE];
        for (j, column) in block.iter().enumerate() {
            for r in 0..TILE {
                let (a2, b2) = self.terms::<OFFSET>(j, column[r]);
                to_ideal[r] += a2;
                to_anti[r] += b2;
            }
        }
        for r in 0..TILE {
            out[r] = closeness(to_ideal[r], to_anti[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_matches_the_per_row_reference_bit_for_bit() {
        for cols in 1..=FIXED_MAX + 1 {
            let references: Vec<Reference> = (0..cols)
                .map(|j| Reference {
                    offset: if j % 3 == 0 { 0.5 } else { 0.0 },
                    factor: 0.01 * (j + 1) as f64,
                    ideal: 0.3,
                    anti_ideal: -0.1,
                })
                .collect();
            let without_offset: Vec<Reference> = references
                .iter()
                .map(|r| Reference { offset: 0.0, ..*r })
                .collect();
            for rows in [1, 8, 13, 64] {
                let matrix: Vec<f64> = (0..rows * cols)
                    .map(|i| ((i * 7919) % 97) as f64 / 7.0)
                    .collect();
                for refs in [&references, &without_offset] {
                    let mut out = vec![f64::NAN; rows];
                    score(&matrix, refs, &mut out);
                    for (row, got) in matrix.chunks_exact(cols).zip(&out) {
                        let (a, b) = row_sums(row, refs);
                        assert_eq!(got.to_bits(), closeness(a, b).to_bits(), "{cols} × {rows}");
                    }
                }
            }
        }
    }

    #[test]
    fn closeness_is_exact_at_the_ideal_the_anti_ideal_and_the_midpoint() {
        assert_eq!(closeness(0.0, 2.0), 1.0);
        assert_eq!(closeness(2.0, 0.0), 0.0);
        assert_eq!(closeness(0.25, 0.25), 0.5);
        assert_eq!(closeness(0.0, 0.0), 0.5);
    }
}
