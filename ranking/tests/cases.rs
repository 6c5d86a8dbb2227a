//! Table-driven check against every case in `fixtures/topsis-cases/` (copied from the
//! team's shared validation set; see `SOURCE.md` there).
//!
//! Non-degenerate cases must reproduce pymcdm's `expected.vector` and `expected.minmax`
//! closeness and distances to 1e-12 and their ranks exactly. Where pymcdm returns NaN, the
//! case must follow the rule documented in the crate docs, listed in [`rule`]; a new
//! degenerate case without a rule fails the test.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a malformed fixture must fail the test loudly"
)]

use std::path::{Path, PathBuf};

use ranking::{top_k, Criterion, Direction, Error, Normalization, Topsis};
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

struct Case {
    name: String,
    labels: Vec<String>,
    cols: usize,
    matrix: Vec<f64>,
    criteria: Vec<Criterion>,
    json: Value,
}

impl Case {
    fn weight_sum(&self) -> f64 {
        self.criteria.iter().map(|c| c.weight).sum()
    }

    fn expected(&self, normalization: Normalization) -> &Value {
        &self.json["expected"][norm_key(normalization)]
    }

    fn without_columns(&self, dropped: &[usize]) -> (Vec<f64>, Vec<Criterion>) {
        let keep: Vec<usize> = (0..self.cols).filter(|j| !dropped.contains(j)).collect();
        let matrix = self
            .matrix
            .chunks_exact(self.cols)
            .flat_map(|row| keep.iter().map(move |&j| row[j]))
            .collect();
        let criteria = keep.iter().map(|&j| self.criteria[j]).collect();
        (matrix, criteria)
    }
}

/// What the engine must do with a case.
#[derive(Debug)]
enum Rule {
    /// Match `expected.<normalisation>`.
    Reference,
    /// `d⁺ + d⁻ = 0` for everyone: closeness 0.5, distances 0 (pymcdm: NaN).
    Neutral,
    /// Equal `equivalent_to.<normalisation>_closeness_without_those_columns` (pymcdm: NaN).
    AsIfDropped,
    /// `Topsis::new` or `score` fails with this error.
    Rejected(Error),
}

fn rule(case: &str, normalization: Normalization) -> Rule {
    match (case, normalization) {
        ("nan_cell", _) => Rule::Rejected(Error::NonFinite { row: 1, col: 1 }),
        ("all_zero_weights", _) => Rule::Rejected(Error::ZeroWeights),
        ("single_alternative" | "identical_alternatives", _) => Rule::Neutral,
        ("zero_column", Normalization::Vector) => Rule::AsIfDropped,
        _ => Rule::Reference,
    }
}

fn norm_key(normalization: Normalization) -> &'static str {
    match normalization {
        Normalization::Vector => "vector",
        Normalization::MinMax => "minmax",
    }
}

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("fixtures/topsis-cases")
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN)) // JSON null means NaN
        .collect()
}

fn load_cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_case(p)).collect()
}

fn load_case(path: &Path) -> Case {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = json["case"].as_str().unwrap().to_owned();
    let csv = std::fs::read_to_string(fixtures().join(json["csv"].as_str().unwrap())).unwrap();
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cols = header.len() - 1;
    let (mut labels, mut matrix) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), cols + 1, "{name}: ragged row {line:?}");
        labels.push(cells[0].to_owned());
        matrix.extend(cells[1..].iter().map(|c| {
            let c = c.trim();
            if c.is_empty() {
                f64::NAN // an empty cell is a missing value
            } else {
                c.parse::<f64>().unwrap()
            }
        }));
    }
    let weights = numbers(&json["weights"]);
    let types = json["types"].as_array().unwrap();
    let criteria = weights
        .iter()
        .zip(types)
        .map(|(&weight, t)| Criterion {
            weight,
            direction: if t.as_i64() == Some(-1) {
                Direction::Cost
            } else {
                Direction::Benefit
            },
        })
        .collect::<Vec<_>>();
    assert_eq!(
        criteria.len(),
        cols,
        "{name}: one weight and type per column"
    );
    Case {
        name,
        labels,
        cols,
        matrix,
        criteria,
        json,
    }
}

fn assert_close(name: &str, what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{name}: {what} length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance,
            "{name}: {what}[{i}] = {g}, expected {w} (|diff| {} > {tolerance})",
            (g - w).abs()
        );
    }
}

/// Average ranks (1 = best), as pymcdm and R's `rank()` give them.
fn rank_average(scores: &[f64]) -> Vec<f64> {
    scores
        .iter()
        .map(|s| {
            let better = scores.iter().filter(|o| *o > s).count() as f64;
            let equal = scores.iter().filter(|o| *o == s).count() as f64;
            better + (equal + 1.0) / 2.0
        })
        .collect()
}

fn check_case(case: &Case, normalization: Normalization) {
    let name = format!("{} ({})", case.name, norm_key(normalization));
    let expected = case.expected(normalization);
    let topsis = Topsis::new(&case.criteria, normalization);
    let rule = rule(&case.name, normalization);
    let outcome = topsis.and_then(|t| Ok((t.score(&case.matrix)?, t.explain(&case.matrix)?)));
    let (scores, explanations) = match (&rule, outcome) {
        (Rule::Rejected(error), outcome) => {
            assert_eq!(outcome.err().as_ref(), Some(error), "{name}");
            return;
        }
        (_, Err(error)) => panic!("{name}: unexpected {error:?} under {rule:?}"),
        (_, Ok(ok)) => ok,
    };

    // Explanations agree bit for bit with the scores, whatever the rule.
    let explained: Vec<f64> = explanations.iter().map(|e| e.closeness).collect();
    assert_eq!(explained, scores, "{name}: explain vs score");
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{name}");

    let d_plus: Vec<f64> = explanations.iter().map(|e| e.distance_to_ideal).collect();
    let d_minus: Vec<f64> = explanations
        .iter()
        .map(|e| e.distance_to_anti_ideal)
        .collect();
    match rule {
        Rule::Reference => {
            let want = numbers(&expected["closeness"]);
            assert!(
                want.iter().all(|w| w.is_finite()),
                "{name}: the reference gives NaN, so this case needs an explicit rule"
            );
            assert_close(&name, "closeness", &scores, &want, TOLERANCE);
            // The case files use the weights as given; we normalise them to sum 1.
            let scale = 1.0 / case.weight_sum();
            let scaled = |key: &str| -> Vec<f64> {
                numbers(&expected[key]).iter().map(|d| d * scale).collect()
            };
            assert_close(&name, "d_plus", &d_plus, &scaled("d_plus"), TOLERANCE);
            assert_close(&name, "d_minus", &d_minus, &scaled("d_minus"), TOLERANCE);
            assert_eq!(
                rank_average(&scores),
                numbers(&expected["rank_average"]),
                "{name}: ranks"
            );
        }
        Rule::Neutral => {
            assert!(scores.iter().all(|&s| s == 0.5), "{name}: {scores:?}");
            assert!(d_plus.iter().chain(&d_minus).all(|&d| d == 0.0), "{name}");
            assert!(explanations
                .iter()
                .all(|e| e.contributions.iter().all(|&c| c == 0.0)));
        }
        Rule::AsIfDropped => {
            let key = format!(
                "{}_closeness_without_those_columns",
                norm_key(normalization)
            );
            let want = numbers(&case.json["equivalent_to"][key.as_str()]);
            assert_close(&name, "closeness", &scores, &want, TOLERANCE);
        }
        Rule::Rejected(_) => unreachable!("handled above"),
    }
}

#[test]
fn the_fixture_directory_holds_the_eleven_known_cases() {
    let names: Vec<String> = load_cases().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "all_zero_weights",
            "car_selection_lecture",
            "constant_column",
            "gpu_offers_synthetic",
            "hwang_yoon_1981_aircraft",
            "identical_alternatives",
            "nan_cell",
            "single_alternative",
            "ties",
            "zero_column",
            "zero_weight",
        ]
    );
}

#[test]
fn every_case_matches_the_vector_reference_or_its_documented_rule() {
    for case in load_cases() {
        check_case(&case, Normalization::Vector);
    }
}

#[test]
fn every_case_matches_the_minmax_reference_or_its_documented_rule() {
    for case in load_cases() {
        check_case(&case, Normalization::MinMax);
    }
}

#[test]
fn dropping_the_columns_named_in_equivalent_to_changes_nothing() {
    for case in load_cases() {
        let Some(dropped) = case.json["equivalent_to"]["dropped_columns"].as_array() else {
            continue;
        };
        let header: Vec<&str> = case.json["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let dropped: Vec<usize> = dropped
            .iter()
            .map(|d| header.iter().position(|h| Some(*h) == d.as_str()).unwrap())
            .collect();
        let (matrix, criteria) = case.without_columns(&dropped);
        for normalization in [Normalization::Vector, Normalization::MinMax] {
            let full = Topsis::new(&case.criteria, normalization)
                .unwrap()
                .score(&case.matrix)
                .unwrap();
            let reduced = Topsis::new(&criteria, normalization)
                .unwrap()
                .score(&matrix)
                .unwrap();
            let name = format!("{} ({})", case.name, norm_key(normalization));
            assert_close(&name, "closeness", &full, &reduced, TOLERANCE);
        }
    }
}

#[test]
fn the_published_worked_examples_match_their_printed_tables() {
    let mut checked = 0;
    for case in load_cases() {
        let published = &case.json["published"];
        if published.is_null() {
            continue;
        }
        let tolerance = published["tolerance_abs"].as_f64().unwrap();
        let topsis = Topsis::new(&case.criteria, Normalization::Vector).unwrap();
        let explanations = topsis.explain(&case.matrix).unwrap();
        let scores: Vec<f64> = explanations.iter().map(|e| e.closeness).collect();
        assert_close(
            &case.name,
            "published closeness",
            &scores,
            &numbers(&published["closeness"]),
            tolerance,
        );
        if published["closeness_full_precision"].is_array() {
            let want = numbers(&published["closeness_full_precision"]);
            assert_close(&case.name, "full precision", &scores, &want, 1e-8);
        }
        // Published distances use the book's weights, which already sum to 1.
        for (key, pick) in [
            (
                "d_plus",
                (|e: &ranking::Explanation| e.distance_to_ideal) as fn(&_) -> f64,
            ),
            ("d_minus", |e: &ranking::Explanation| {
                e.distance_to_anti_ideal
            }),
        ] {
            if published[key].is_array() {
                let got: Vec<f64> = explanations.iter().map(pick).collect();
                assert_close(&case.name, key, &got, &numbers(&published[key]), tolerance);
            }
        }
        let order = top_k(&scores, scores.len(), |i| i);
        let mut rank = vec![0.0; scores.len()];
        for (position, &row) in order.iter().enumerate() {
            rank[row] = (position + 1) as f64;
        }
        assert_eq!(
            rank,
            numbers(&published["rank"]),
            "{}: published rank",
            case.name
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "Hwang & Yoon and the car example");
}

#[test]
fn the_ties_case_is_bit_exact_and_broken_by_the_caller_key() {
    let case = load_cases().into_iter().find(|c| c.name == "ties").unwrap();
    for normalization in [Normalization::Vector, Normalization::MinMax] {
        let scores = Topsis::new(&case.criteria, normalization)
            .unwrap()
            .score(&case.matrix)
            .unwrap();
        assert_eq!(scores, numbers(&case.expected(normalization)["closeness"]));
        let by_label = top_k(&scores, scores.len(), |i| case.labels[i].as_str());
        let labels: Vec<&str> = by_label.iter().map(|&i| case.labels[i].as_str()).collect();
        assert_eq!(labels, ["t3", "t1", "t2", "t4", "t6", "t5"]);
        // A different key reorders only the tied block.
        let reversed = top_k(&scores, scores.len(), std::cmp::Reverse);
        assert_eq!(reversed, [2, 5, 3, 1, 0, 4]);
    }
}
