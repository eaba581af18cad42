#![allow(clippy::unwrap_used)]
//! Runs every scenario file under `testbeds/scenarios/` with the project's binaries (built by
//! `cargo build --workspace --bins`, which `scripts/test` does first) and the shared test data.
//! `SCENARIOS=name1,name2` runs only the files whose names contain one of the given strings.

use hil::scenario::{self, RunOptions};
use std::path::PathBuf;

#[test]
fn scenario_files_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_hil"))
        .parent()
        .unwrap()
        .to_path_buf();
    let testdata = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/testdata"));
    if !testdata.join("ts48/expected.json").is_file() {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            testdata.display()
        );
        println!("SKIPPED: testdata not found");
        return;
    }
    for b in ["vmodem", "testbed", "veuicc"] {
        assert!(
            bin.join(b).is_file(),
            "{} missing: run `cargo build --workspace --bins` first",
            bin.join(b).display()
        );
    }
    let only: Vec<String> = std::env::var("SCENARIOS")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("testbeds/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            only.is_empty()
                || only.iter().any(|o| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .contains(o.as_str())
                })
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files");
    let opts = RunOptions {
        bin,
        testdata,
        keep: false,
        verbose: false,
    };
    let mut failed = Vec::new();
    for f in &files {
        match scenario::load(f).and_then(|s| scenario::run(&s, &opts)) {
            Ok(r) => println!("PASS {} ({} ms)", f.display(), r.elapsed.as_millis()),
            Err(e) => {
                println!("FAIL {}: {e}", f.display());
                failed.push(f.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}
