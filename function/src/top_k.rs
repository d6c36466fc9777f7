//! Top-k selection by partial selection: `O(n)` to find the k best, then sort only those k.

use std::cmp::Ordering;

/// One selected class: its 0-based index in the model's output and its probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// 0-based position in the model's output.
    pub index: usize,
    /// The class probability.
    pub probability: f64,
}

/// Probability descending, then index ascending. `total_cmp` gives a total order (inputs are
/// already validated finite).
fn rank_order(a: &Ranked, b: &Ranked) -> Ordering {
    b.probability
        .total_cmp(&a.probability)
        .then(a.index.cmp(&b.index))
}

/// The `k` most probable classes, sorted by probability descending, ties by index ascending.
/// `k` larger than the number of classes returns them all.
pub fn top_k(probabilities: &[f64], k: usize) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = probabilities
        .iter()
        .enumerate()
        .map(|(index, &probability)| Ranked { index, probability })
        .collect();
    let k = k.min(ranked.len());
    if k == 0 {
        return Vec::new();
    }
    if k < ranked.len() {
        ranked.select_nth_unstable_by(k - 1, rank_order);
        ranked.truncate(k);
    }
    ranked.sort_unstable_by(rank_order);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_the_largest_in_order() {
        let r = top_k(&[0.1, 0.5, 0.2, 0.15, 0.05], 3);
        assert_eq!(r.iter().map(|r| r.index).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(r[0].probability, 0.5);
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let r = top_k(&[0.2, 0.3, 0.3, 0.2], 4);
        assert_eq!(
            r.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![1, 2, 0, 3]
        );
    }

    #[test]
    fn k_larger_than_classes_returns_all() {
        assert_eq!(top_k(&[0.4, 0.6], 10).len(), 2);
        assert_eq!(top_k(&[0.4, 0.6], usize::MAX).len(), 2);
    }

    proptest! {
        #[test]
        fn matches_a_full_sort(p in proptest::collection::vec(0u8..20, 1..300), k in 1usize..400) {
            // Small integer values force many ties.
            let probs: Vec<f64> = p.iter().map(|v| f64::from(*v) / 20.0).collect();
            let mut full: Vec<Ranked> = probs.iter().enumerate().map(|(index, &probability)| Ranked { index, probability }).collect();
            full.sort_by(rank_order);
            full.truncate(k);
            prop_assert_eq!(top_k(&probs, k), full);
        }
    }
}
