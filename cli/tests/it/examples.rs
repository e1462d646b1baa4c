//! The worked examples of docs/strategies.md run, and rule errors print the
//! rule with a caret.

use std::path::Path;

use crate::{bt, repo_root};

/// A catalog with the sample 1h datasets and `examples/btc_signal.csv`
/// imported as BTCSIG (what the docs tell users to do).
fn catalog(dir: &Path) -> String {
    let cat = dir.join("cat");
    for t in ["BTCUSD", "ETHUSD"] {
        std::fs::create_dir_all(cat.join(t)).expect("mkdir");
        std::fs::copy(repo_root().join("data").join(t).join("1h.parquet"), cat.join(t).join("1h.parquet"))
            .expect("copy");
    }
    let cat = cat.to_str().expect("utf-8").to_owned();
    let csv = repo_root().join("examples/btc_signal.csv");
    let r =
        bt(&["data", "import", csv.to_str().expect("utf-8"), "--ticker", "BTCSIG", "--catalog", &cat], dir);
    assert!(r.ok, "{r:?}");
    assert!(r.stdout.contains("signal"), "import names the kept column: {}", r.stdout);
    cat
}

#[test]
fn every_worked_example_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = catalog(dir.path());
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("rules_"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    let doc = std::fs::read_to_string(repo_root().join("docs/strategies.md")).expect("docs");
    for name in &names {
        assert!(doc.contains(&format!("examples/{name}")), "docs/strategies.md does not show {name}");
        let file = repo_root().join("examples").join(name);
        let r = bt(
            &["run", file.to_str().expect("utf-8"), "--catalog", &cat, "--out", "x.csv", "--top", "2"],
            dir.path(),
        );
        assert!(r.ok, "{name}: {r:?}");
        let variants: usize = r
            .stdout
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}", r.stdout));
        let csv = std::fs::read_to_string(dir.path().join("x.csv")).expect("csv");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        assert_eq!(lines.count(), variants, "{name}");
        assert!(header.contains(&"rules"), "{name}: {header:?}");
        // The table names the rules once, with their $params.
        assert!(r.stdout.contains("entry_long") || r.stdout.contains("entry_short"), "{name}: {}", r.stdout);
        // Something trades in every example.
        let trades = header.iter().position(|h| *h == "trades").expect("trades column");
        let csv = std::fs::read_to_string(dir.path().join("x.csv")).expect("csv");
        let traded =
            csv.lines().skip(1).filter(|l| l.split(',').nth(trades).is_some_and(|t| t != "0")).count();
        assert!(traded > 0, "{name}: no variant traded");
    }
}

#[test]
fn a_variant_in_detail_shows_its_rules_with_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = catalog(dir.path());
    let file = repo_root().join("examples/rules_column_signal.toml");
    let r = bt(&["run", file.to_str().expect("utf-8"), "--catalog", &cat, "--variant", "7"], dir.path());
    assert!(r.ok, "{r:?}");
    // threshold [0, 0.5] x (stop_loss [0, 0.03] x leverage [1, 2, 3]): 7 = threshold 0.5, sl 0, lev 2.
    assert!(r.stdout.starts_with("variant 7: BTCSIG/1h rules(threshold=0.5) sl=- "), "{}", r.stdout);
    assert!(r.stdout.contains("  entry_long   col(\"signal\") > 0.5\n"), "{}", r.stdout);
    assert!(r.stdout.contains("  exit_long    col(\"signal\") < 0\n"), "{}", r.stdout);
}

#[test]
fn bad_rules_show_a_caret_and_missing_columns_are_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = catalog(dir.path());
    let spec = |rule: &str| {
        format!(
            "[datasets]\ntickers = [\"BTCSIG\"]\ntimeframes = [\"1h\"]\n[strategy]\nentry_long = \"{rule}\"\n"
        )
    };
    std::fs::write(dir.path().join("b.toml"), spec("close > smaa(close, 5)")).expect("write");
    let r = bt(&["run", "b.toml", "--catalog", &cat], dir.path());
    assert!(!r.ok);
    assert_eq!(
        r.stderr,
        "error: b.toml: invalid bundle: strategy.entry_long: unknown function `smaa`; did you mean `sma`?\n  close > smaa(close, 5)\n          ^\n"
    );
    std::fs::write(dir.path().join("c.toml"), spec("col(\\\"signl\\\") > 0")).expect("write");
    let r = bt(&["run", "c.toml", "--catalog", &cat], dir.path());
    assert!(!r.ok);
    assert_eq!(
        r.stderr,
        "error: the rules read col(\"signl\"), which BTCSIG/1h does not have (its data columns: signal); did you mean `signal`?\n"
    );
}
