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
    heap.into_sorted_vec()
        .into_iter()
        .map(|e| e.index)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::top_k;
    use std::cell::Cell;

    #[test]
    fn the_best_scores_come_first() {
        assert_eq!(top_k(&[0.2, 0.9, 0.5, 0.7], 3, |i| i), [1, 3, 2]);
    }

    #[test]
    fn equal_scores_are_ordered_by_the_key_then_by_index() {
        let scores = [0.5, 0.9, 0.5, 0.5, 0.1];
        let ids = ["c", "z", "a", "c", "b"];
        assert_eq!(top_k(&scores, 5, |i| ids[i]), [1, 2, 0, 3, 4]);
        // The tie at the cut-off is decided by the key too.
        assert_eq!(top_k(&scores, 2, |i| ids[i]), [1, 2]);
    }

    #[test]
    fn k_of_zero_or_beyond_the_length_is_clamped() {
        assert!(top_k(&[0.3, 0.1], 0, |i| i).is_empty());
        assert_eq!(top_k(&[0.3, 0.1], 10, |i| i), [0, 1]);
        assert!(top_k(&[], 3, |i| i).is_empty());
    }

    #[test]
    fn nan_scores_rank_after_every_number() {
        let scores = [f64::NAN, 0.1, f64::NAN, 0.0];
        assert_eq!(top_k(&scores, 4, |i| i), [1, 3, 0, 2]);
        assert_eq!(top_k(&scores, 1, |i| i), [1]);
    }

    #[test]
    fn the_key_is_computed_only_for_entries_that_could_enter_the_top() {
        let scores: Vec<f64> = (0..1000).map(|i| 1.0 - f64::from(i) / 1000.0).collect();
        let calls = Cell::new(0);
        let best = top_k(&scores, 5, |i| {
            calls.set(calls.get() + 1);
            i
        });
        assert_eq!(best, [0, 1, 2, 3, 4]);
        assert_eq!(calls.get(), 5);
    }
}
