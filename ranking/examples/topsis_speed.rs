//! Times our TOPSIS on a raw matrix file, for `benches/compare_topsis.sh`.
//!
//! ```text
//! cargo run --release -p ranking --example topsis_speed -- FILE N C [OUT]
//! ```
//!
//! FILE holds `N × C` little-endian `f64`, row-major. Criterion 0 is a cost and the rest are
//! benefits; for `C = 6` the weights are `.3 .2 .2 .1 .1 .1` (as in the shared notes'
//! benchmark), otherwise equal. Prints best-of-5 wall times, single thread, of:
//!
//! * `ours`: [`Topsis::score_into`] with a reused [`Workspace`] (vector normalisation);
//! * `floor`: a tight loop that streams the same matrix twice (two vectorised sums), the
//!   memory-traffic floor of any two-pass algorithm;
//! * `top50`: [`top_k`] of 50 over the scores.
//!
//! If OUT is given, the scores are written there (little-endian `f64`) for cross-checking.

use std::hint::black_box;
use std::time::Instant;

use ranking::{top_k, Criterion, Normalization, Topsis, Workspace};

const REPEAT: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, n, c, rest @ ..] = args.as_slice() else {
        return Err("usage: topsis_speed FILE N C [OUT]".into());
    };
    let (n, c): (usize, usize) = (n.parse()?, c.parse()?);
    let bytes = std::fs::read(file)?;
    if bytes.len() != n * c * 8 {
        return Err(format!("{file}: {} bytes, expected {n} × {c} × 8", bytes.len()).into());
    }
    let matrix: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| {
            let mut le = [0_u8; 8];
            le.copy_from_slice(b);
            f64::from_le_bytes(le)
        })
        .collect();

    let criteria: Vec<Criterion> = (0..c)
        .map(|j| {
            let weight = if c == 6 {
                [0.3, 0.2, 0.2, 0.1, 0.1, 0.1][j]
            } else {
                1.0
            };
            if j == 0 {
                Criterion::cost(weight)
            } else {
                Criterion::benefit(weight)
            }
        })
        .collect();
    let topsis = Topsis::new(&criteria, Normalization::Vector)?;
    let mut workspace = Workspace::new();
    let mut scores = vec![0.0; n];

    let ours = best_of(|| topsis.score_into(black_box(&matrix), &mut workspace, &mut scores))?;
    let floor = best_of(|| -> Result<(), ranking::Error> {
        black_box(stream_sum(black_box(&matrix)));
        black_box(stream_sum(black_box(&matrix)));
        Ok(())
    })?;
    let top50 = best_of(|| -> Result<(), ranking::Error> {
        black_box(top_k(black_box(&scores), 50, |i| i));
        Ok(())
    })?;

    println!("ours  (score_into, vector, 1 thread): {ours:.6} s");
    println!("floor (stream the matrix twice, Rust): {floor:.6} s");
    println!("top50 (top_k over {n} scores):      {top50:.6} s");
    println!("topsis_speed n={n} c={c} ours_s={ours:.6} floor_s={floor:.6} top50_s={top50:.6}");

    if let Some(out) = rest.first() {
        let bytes: Vec<u8> = scores.iter().flat_map(|s| s.to_le_bytes()).collect();
        std::fs::write(out, bytes)?;
    }
    Ok(())
}

/// Best wall time of `REPEAT` runs, in seconds.
fn best_of(mut run: impl FnMut() -> Result<(), ranking::Error>) -> Result<f64, ranking::Error> {
    run()?; // warm-up: page in the data and the output
    let mut best = f64::INFINITY;
    for _ in 0..REPEAT {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Sums every element with 16 independent accumulators, so the loop is limited by memory
/// bandwidth rather than by the latency of one addition chain.
fn stream_sum(data: &[f64]) -> f64 {
    let mut acc = [0.0_f64; 16];
    let mut chunks = data.chunks_exact(16);
    for chunk in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f64>() + chunks.remainder().iter().sum::<f64>()
}
