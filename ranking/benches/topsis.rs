//! Criterion benchmarks: scoring `n × 6` offers (`n` = 10 000, 100 000, 1 000 000; f64, one
//! thread, vector normalisation, reused workspace), top-50 selection over 1 000 000 scores,
//! and the whole ranking of 1 000 000 offers (score, select 50, explain them).
//!
//! Kept short (10 samples, ~2 s each) because CI only smoke-runs them:
//! `cargo bench -p ranking -- --test`. Full run: `cargo bench -p ranking`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ranking::{top_k, Criterion as Column, Normalization, Topsis, Workspace};

const COLUMNS: usize = 6;

/// Offers-like data with a fixed seed: uniform in `[0.05, 1)` times a per-column scale
/// (price/h, GPU GiB, compute score, vCPUs, RAM GiB, reliability), as in the shared notes.
fn matrix(rows: usize) -> Vec<f64> {
    const SCALES: [f64; COLUMNS] = [4.0, 80.0, 100.0, 64.0, 512.0, 1.0];
    let mut state = 0x2024_0601_u64;
    (0..rows * COLUMNS)
        .map(|k| {
            // splitmix64
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
            (0.05 + 0.95 * unit) * SCALES[k % COLUMNS]
        })
        .collect()
}

#[expect(clippy::expect_used, reason = "constant, valid benchmark criteria")]
fn topsis() -> Topsis {
    let b = Column::benefit;
    Topsis::new(
        &[Column::cost(0.3), b(0.2), b(0.2), b(0.1), b(0.1), b(0.1)],
        Normalization::Vector,
    )
    .expect("valid criteria")
}

fn configure(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group("topsis");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

fn score(c: &mut Criterion) {
    let topsis = topsis();
    let mut group = configure(c);
    for rows in [10_000, 100_000, 1_000_000] {
        let data = matrix(rows);
        let mut workspace = Workspace::new();
        let mut out = vec![0.0; rows];
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new("score_into_x6", rows), &data, |b, data| {
            b.iter(|| topsis.score_into(black_box(data), &mut workspace, &mut out));
        });
    }
    group.finish();
}

#[expect(clippy::expect_used, reason = "constant, valid benchmark input")]
fn select_and_rank(c: &mut Criterion) {
    let rows = 1_000_000;
    let topsis = topsis();
    let data = matrix(rows);
    let mut scores = topsis.score(&data).expect("finite data");
    let mut workspace = Workspace::new();
    let mut group = configure(c);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("top_k_50_of_1000000", |b| {
        b.iter(|| top_k(black_box(&scores), 50, |i| i));
    });
    group.bench_function("rank_top_50_of_1000000_x6", |b| {
        b.iter(|| topsis.rank_into(black_box(&data), 50, |i| i, &mut workspace, &mut scores));
    });
    group.finish();
}

criterion_group!(benches, score, select_and_rank);
criterion_main!(benches);
