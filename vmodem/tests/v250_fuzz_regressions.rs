#![allow(clippy::unwrap_used)]
//! Replays every committed fuzz input under `vmodem/fuzz/regressions/<target>/` through the
//! same checks as the libFuzzer target (`vmodem/fuzz/src/lib.rs`, included here by path), on
//! the stable toolchain: no panic, and the target's invariants hold. Each target must have at
//! least one input, and the list of targets must match the fuzz crate's `[[bin]]`s.

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
mod fuzz_logic;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The regression inputs of `target`, in name order.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `target`; reports all failing files at once.
fn replay(target: &str) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no regression inputs for {target}");
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| assert!(fuzz_logic::run(target, &data)));
        if r.is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:?}");
    println!("{target}: replayed {} inputs", files.len());
}

#[test]
fn targets_match_the_fuzz_crate_and_each_has_regression_inputs() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(name) = line.strip_prefix("name = ").filter(|_| in_bin) {
            bins.push(name.trim_matches('"').to_string());
        }
    }
    bins.sort();
    assert_eq!(bins, fuzz_logic::TARGETS);
    for t in fuzz_logic::TARGETS {
        assert!(!inputs(t).is_empty(), "no regression inputs for {t}");
    }
    assert!(!fuzz_logic::run("no-such-target", b""));
}

#[test]
fn at_line_inputs_replay() {
    replay("at_line");
}

#[test]
fn at_token_inputs_replay() {
    replay("at_token");
}
