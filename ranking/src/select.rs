//! Choosing the best `k` alternatives from their scores without sorting all of them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Indices of the `k` best scores, best first.
///
/// Order: higher score first; equal scores by `key(index)` ascending (a caller-supplied
/// stable key such as an offer id), then by index ascending, so the result is a
/// deterministic total order. NaN scores (which [`crate::Topsis`] never produces) rank
/// last; `-0.0` and `0.0` are equal.
///
/// Partial selection with a bounded heap: O(n log k) time in the worst case and about one
/// comparison per score in the common case, O(k) extra memory, and `key` is called only for
/// scores that enter the heap or tie with its worst entry. Only the `k` winners are sorted.
pub fn top_k<K: Ord>(scores: &[f64], k: usize, key: impl Fn(usize) -> K) -> Vec<usize> {
    let k = k.min(scores.len());
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Entry<K>> = BinaryHeap::with_capacity(k);
    for (index, &score) in scores.iter().enumerate().take(k) {
        heap.push(Entry {
            score,
            key: key(index),
            index,
        });
    }
    // The heap's root is the worst of the kept entries; `threshold` is its score.
    let mut threshold = heap.peek().map_or(f64::NAN, |e| e.score);
    for (index, &score) in scores.iter().enumerate().skip(k) {
        if score < threshold {
            continue; // the common case: one comparison.
        }
        let Some(mut worst) = heap.peek_mut() else {
            break;
        };
        let candidate = match compare_scores(score, worst.score) {
            Ordering::Less => continue,
            Ordering::Greater => Entry {
                score,
                key: key(index),
                index,
            },
            Ordering::Equal => {
                let candidate_key = key(index);
                // A later index with an equal key ranks after the kept one.
                if candidate_key >= worst.key {
                    continue;
                }
                Entry {
                    score,
                    key: candidate_key,
                    index,
                }
            }
        };
        *worst = candidate;
        drop(worst); // restores the heap order
        threshold = heap.peek().map_or(f64::NAN, |e| e.score);
    }
    heap.into_sorted_vec().into_iter().map(|e| e.index).collect()
}

/// Score order with NaN below every number.
fn compare_scores(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Ordered by rank: `Less` means ranked earlier (better).
struct Entry<K> {
    score: f64,
    key: K,
    index: usize,
}

impl<K: Ord> Ord for Entry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_scores(other.score, self.score)
            .then_with(|| self.key.cmp(&other.key))
            .then_with(|| self.index.cmp(&other.index))
    }
}

impl<K: Ord> PartialOrd for Entry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord> PartialEq for Entry<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord> Eq for Entry<K> {}
