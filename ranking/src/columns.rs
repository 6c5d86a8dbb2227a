//! Pass 1 over the matrix: per-column statistics (sum of squares, minimum, maximum), the
//! finiteness check, and the per-column reference points (ideal, anti-ideal) and factors
//! that pass 2 ([`crate::separation`]) needs.

use crate::{Criterion, Direction, Error, Normalization};

/// Rows per tile in the fixed-width scan for `c` criteria: the fewest rows whose cells fill
/// whole 8-lane vectors (`c × rows` is a multiple of 8), so each accumulator lane always
/// sees the same column and the accumulators stay in registers.
const fn tile_rows(c: usize) -> usize {
    let mut a = c;
    let mut b = 8;
    while b != 0 {
        (a, b) = (b, a % b);
    }
    8 / a
}

/// What pass 1 learns about one column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColumnStats {
    /// `Σ x²`. NaN or infinite when a cell is, or when the squares overflow.
    pub sum_sq: f64,
    pub min: f64,
    pub max: f64,
}

impl ColumnStats {
    const EMPTY: Self = Self {
        sum_sq: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };
}

/// How pass 2 treats one column: `v = (x − offset) · factor`, then the squared distances
/// `(v − ideal)²` and `(v − anti_ideal)²`. A column that cannot separate the alternatives
/// (zero weight, zero norm, constant) has every field 0, so it adds exactly 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Reference {
    pub offset: f64,
    pub factor: f64,
    pub ideal: f64,
    pub anti_ideal: f64,
}

impl Reference {
    const IGNORED: Self = Self {
        offset: 0.0,
        factor: 0.0,
        ideal: 0.0,
        anti_ideal: 0.0,
    };
}

/// Fills `stats` with one entry per column of the row-major `matrix` (`cols` columns).
pub(crate) fn scan(matrix: &[f64], cols: usize, stats: &mut Vec<ColumnStats>) {
    stats.clear();
    stats.resize(cols, ColumnStats::EMPTY);
    macro_rules! fixed {
        ($($c:literal)*) => {
            match cols {
                $($c => scan_fixed::<$c>(matrix, stats),)*
                _ => scan_any(matrix, stats),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
}

/// Tile kernel: `C × rows` independent accumulators per statistic, updated element-wise
/// over contiguous memory, so the loop vectorises without shuffles.
fn scan_fixed<const C: usize>(matrix: &[f64], stats: &mut [ColumnStats]) {
    // `lcm(C, 8)` cells, at most 120 for C ≤ 16; only the first `C × rows` are used.
    const MAX: usize = 128;
    let rows = const { tile_rows(C) };
    let cells = C * rows;
    let mut sum_sq = [0.0_f64; MAX];
    let mut min = [f64::INFINITY; MAX];
    let mut max = [f64::NEG_INFINITY; MAX];
    let mut tiles = matrix.chunks_exact(cells);
    for tile in &mut tiles {
        let (s, lo, hi) = (&mut sum_sq[..cells], &mut min[..cells], &mut max[..cells]);
        for (k, &x) in tile.iter().enumerate() {
            s[k] += x * x;
            // `x < lo` rather than `f64::min`: one instruction; NaN is caught by `sum_sq`.
            lo[k] = if x < lo[k] { x } else { lo[k] };
            hi[k] = if x > hi[k] { x } else { hi[k] };
        }
    }
    for (k, &x) in tiles.remainder().iter().enumerate() {
        sum_sq[k] += x * x;
        min[k] = if x < min[k] { x } else { min[k] };
        max[k] = if x > max[k] { x } else { max[k] };
    }
    for k in 0..cells {
        let out = &mut stats[k % C];
        out.sum_sq += sum_sq[k];
        out.min = if min[k] < out.min { min[k] } else { out.min };
        out.max = if max[k] > out.max { max[k] } else { out.max };
    }
}

/// Any criterion count: one pass, row by row.
fn scan_any(matrix: &[f64], stats: &mut [ColumnStats]) {
    for row in matrix.chunks_exact(stats.len()) {
        for (s, &x) in stats.iter_mut().zip(row) {
            s.sum_sq += x * x;
            s.min = if x < s.min { x } else { s.min };
            s.max = if x > s.max { x } else { s.max };
        }
    }
}

/// Fails with the first non-finite cell (row-major) if pass 1 saw one. A NaN makes `sum_sq`
/// NaN and an infinity makes `min` or `max` infinite, so the matrix is only re-read when
/// something is wrong (or when finite squares overflowed, in which case it returns `Ok`).
pub(crate) fn check_finite(matrix: &[f64], stats: &[ColumnStats]) -> Result<(), Error> {
    let suspicious = stats
        .iter()
        .any(|s| s.sum_sq.is_nan() || s.min.is_infinite() || s.max.is_infinite());
    if !suspicious {
        return Ok(());
    }
    let cols = stats.len();
    match matrix.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::NonFinite {
            row: i / cols,
            col: i % cols,
        }),
        None => Ok(()),
    }
}

/// Turns the statistics of a finite, non-empty matrix into per-column references.
/// `weights` are already normalised to sum 1.
pub(crate) fn references(
    criteria: &[Criterion],
    weights: &[f64],
    normalization: Normalization,
    matrix: &[f64],
    stats: &[ColumnStats],
    out: &mut Vec<Reference>,
) {
    out.clear();
    let cols = criteria.len();
    for (j, ((criterion, &weight), s)) in criteria.iter().zip(weights).zip(stats).enumerate() {
        let (offset, factor) = match normalization {
            Normalization::Vector => (0.0, weight / vector_norm(matrix, cols, j, s)),
            Normalization::MinMax => minmax_scale(weight, s),
        };
        let (best, worst) = match criterion.direction {
            Direction::Benefit => (s.max, s.min),
            Direction::Cost => (s.min, s.max),
        };
        let reference = Reference {
            offset,
            factor,
            ideal: (best - offset) * factor,
            anti_ideal: (worst - offset) * factor,
        };
        let usable = weight > 0.0
            && reference.factor.is_finite()
            && reference.ideal.is_finite()
            && reference.anti_ideal.is_finite()
            && reference.ideal != reference.anti_ideal;
        out.push(if usable {
            reference
        } else {
            Reference::IGNORED
        });
    }
}

/// `sqrt(Σ x²)` for column `j`, rescaled by the largest magnitude when the plain sum of
/// squares overflowed or lost precision to underflow. Returns 0 for an all-zero or
/// all-subnormal column (the caller then ignores it).
fn vector_norm(matrix: &[f64], cols: usize, j: usize, s: &ColumnStats) -> f64 {
    let largest = s.min.abs().max(s.max.abs());
    if largest < f64::MIN_POSITIVE {
        return 0.0;
    }
    // Below this the sum of squares has lost bits to gradual underflow.
    const PRECISE_FROM: f64 = f64::MIN_POSITIVE * (1_u64 << 53) as f64;
    if s.sum_sq.is_finite() && s.sum_sq >= PRECISE_FROM {
        return s.sum_sq.sqrt();
    }
    let scaled: f64 = matrix
        .iter()
        .skip(j)
        .step_by(cols)
        .map(|x| {
            let y = x / largest;
            y * y
        })
        .sum();
    largest * scaled.sqrt()
}

/// `(offset, factor)` so that `(x − offset) · factor` is `w · (x − min) / (max − min)`.
/// When `max − min` overflows, the midpoint is the offset and the half-range the divisor.
fn minmax_scale(weight: f64, s: &ColumnStats) -> (f64, f64) {
    let range = s.max - s.min;
    if range.is_finite() {
        (s.min, weight / range)
    } else {
        let half = 0.5 * s.max - 0.5 * s.min;
        (0.5 * s.max + 0.5 * s.min, 0.5 * weight / half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_to_vec(matrix: &[f64], cols: usize) -> Vec<ColumnStats> {
        let mut stats = Vec::new();
        scan(matrix, cols, &mut stats);
        stats
    }

    #[test]
    fn fixed_and_generic_scans_agree_on_min_max_and_sums() {
        for cols in 1..=17 {
            for rows in [1, 7, 37] {
                let matrix: Vec<f64> = (0..cols * rows)
                    .map(|i| ((i * 7919) % 101) as f64 - 20.0)
                    .collect();
                let fixed = scan_to_vec(&matrix, cols);
                let mut generic = vec![ColumnStats::EMPTY; cols];
                scan_any(&matrix, &mut generic);
                for (f, g) in fixed.iter().zip(&generic) {
                    assert_eq!((f.min, f.max), (g.min, g.max), "{cols} × {rows}");
                    assert!((f.sum_sq - g.sum_sq).abs() <= 1e-12 * g.sum_sq);
                }
            }
        }
    }

    #[test]
    fn nan_cell_is_located_by_row_and_column() {
        let matrix = [1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0];
        let stats = scan_to_vec(&matrix, 3);
        assert_eq!(
            check_finite(&matrix, &stats),
            Err(Error::NonFinite { row: 1, col: 1 })
        );
    }

    #[test]
    fn huge_values_get_a_finite_norm() {
        let matrix = [1e300, 1e300, 1e300];
        let stats = scan_to_vec(&matrix, 1);
        assert!(stats[0].sum_sq.is_infinite());
        assert_eq!(check_finite(&matrix, &stats), Ok(()));
        let norm = vector_norm(&matrix, 1, 0, &stats[0]);
        assert!((norm / (1e300 * 3.0_f64.sqrt()) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn tiny_values_get_a_precise_norm() {
        let matrix = [3e-200, 4e-200];
        let stats = scan_to_vec(&matrix, 1);
        let norm = vector_norm(&matrix, 1, 0, &stats[0]);
        assert!((norm / 5e-200 - 1.0).abs() < 1e-15);
    }

    #[test]
    fn minmax_survives_a_range_wider_than_f64_max() {
        let s = ColumnStats {
            sum_sq: f64::INFINITY,
            min: -1e308,
            max: 1e308,
        };
        let (offset, factor) = minmax_scale(1.0, &s);
        let top = (s.max - offset) * factor;
        let bottom = (s.min - offset) * factor;
        assert!((top - bottom - 1.0).abs() < 1e-15);
    }
}
