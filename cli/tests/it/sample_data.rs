//! The committed sample catalog is what `data/README.md` says regenerates it.

use crate::{bt, repo_root};

#[test]
fn committed_samples_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let cwd = dir.path();
    for args in [
        ["data", "generate", "--ticker", "BTCUSD", "--bars", "43200", "--seed", "1", "--price", "42000"],
        ["data", "generate", "--ticker", "ETHUSD", "--bars", "43200", "--seed", "2", "--price", "2300"],
    ] {
        let r = bt(&args, cwd);
        assert!(r.ok, "{r:?}");
    }
    for t in ["BTCUSD", "ETHUSD"] {
        let r = bt(&["data", "resample", "--ticker", t, "--to", "1h"], cwd);
        assert!(r.ok, "{r:?}");
    }
    for file in ["BTCUSD/1m.parquet", "BTCUSD/1h.parquet", "ETHUSD/1m.parquet", "ETHUSD/1h.parquet"] {
        let want = std::fs::read(repo_root().join("data").join(file)).expect("committed sample");
        let got = std::fs::read(cwd.join("data").join(file)).expect("regenerated");
        assert!(want == got, "{file} differs from a fresh regeneration");
    }
}
