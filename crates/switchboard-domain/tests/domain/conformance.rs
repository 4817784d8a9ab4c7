//! Conformance: the public RFC 6902 suite (json-patch-tests) and the RFC 7396
//! Appendix A cases, read at test time from the workspace's sibling
//! `shared/conformance` folder (never copied into this repository).
//!
//! The folder is part of every checkout's surroundings (CI's and every
//! developer's): if it is absent, or a suite is empty or holds other cases
//! than expected, the tests fail. A conformance test that ran nothing must
//! not pass.

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard_domain::json::{
    ApplyOptions, Limits, apply, merge_patch, merge_to_operations, parse_patch,
};

const CONFORMANCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

/// Runnable (non-disabled) records per file, per the suite's SOURCE.md.
const RUNNABLE_TESTS_JSON: usize = 92;
const RUNNABLE_SPEC_TESTS_JSON: usize = 16;
const RFC7396_CASES: usize = 15;

/// Loads `relative` from the conformance folder.
///
/// # Panics
///
/// When the folder or the file is absent or not JSON: the suite must run.
fn load(relative: &str) -> Value {
    let dir = Path::new(CONFORMANCE_DIR);
    assert!(
        dir.is_dir(),
        "the conformance data folder {} is absent: the RFC 6902 / RFC 7396 suites cannot run \
         (it sits beside the project as shared/conformance)",
        dir.display()
    );
    let path: PathBuf = dir.join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

/// Runs every non-disabled record of a json-patch-tests file; returns how many ran.
fn run_json_patch_suite(relative: &str) -> usize {
    let suite = load(relative);
    let records = suite.as_array().expect("suite is an array");
    let opts = ApplyOptions::default();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if record.get("disabled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        ran += 1;
        let label = format!(
            "{relative}[{i}] {}",
            record
                .get("comment")
                .and_then(Value::as_str)
                .unwrap_or("(no comment)")
        );
        let doc = &record["doc"];
        let expected = record.get("expected");
        let expects_error = record.get("error").is_some();
        assert!(
            expected.is_some() || expects_error,
            "{label}: neither expected nor error"
        );

        let parsed = parse_patch(&record["patch"], &Limits::default());
        let mut result = doc.clone();
        let before = serde_json::to_string(doc).unwrap();
        let outcome = parsed.and_then(|ops| apply(&mut result, &ops, &opts));

        match (expected, outcome) {
            (Some(expected), Ok(())) if result == *expected => {}
            (Some(expected), Ok(())) => {
                failures.push(format!("{label}: got {result}, expected {expected}"));
            }
            (Some(_), Err(e)) => failures.push(format!("{label}: unexpected error: {e}")),
            (None, Ok(())) => failures.push(format!("{label}: expected an error, got {result}")),
            (None, Err(_)) => {
                let after = serde_json::to_string(&result).unwrap();
                if after != before {
                    failures.push(format!("{label}: failed but changed the document: {after}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    ran
}

#[test]
fn json_patch_tests_json() {
    let ran = run_json_patch_suite("json-patch-tests/tests.json");
    eprintln!("json-patch-tests/tests.json: {ran} cases passed");
    assert_eq!(ran, RUNNABLE_TESTS_JSON);
}

#[test]
fn json_patch_spec_tests_json() {
    let ran = run_json_patch_suite("json-patch-tests/spec_tests.json");
    eprintln!("json-patch-tests/spec_tests.json: {ran} cases passed");
    assert_eq!(ran, RUNNABLE_SPEC_TESTS_JSON);
}

#[test]
fn rfc7396_appendix_a() {
    let cases = load("merge-patch/rfc7396-appendix-a.json");
    let cases = cases.as_array().expect("cases are an array");
    let mut ran = 0;
    for (i, case) in cases.iter().enumerate() {
        let (original, patch, result) = (&case["original"], &case["patch"], &case["result"]);

        let mut merged = original.clone();
        merge_patch(&mut merged, patch);
        assert_eq!(&merged, result, "case {i}: merge_patch");

        let ops = merge_to_operations(original, patch);
        let mut applied = original.clone();
        apply(&mut applied, &ops, &ApplyOptions::default())
            .unwrap_or_else(|e| panic!("case {i}: applying {ops:?}: {e}"));
        assert_eq!(
            &applied, result,
            "case {i}: merge_to_operations + apply ({ops:?})"
        );
        ran += 1;
    }
    eprintln!("rfc7396-appendix-a.json: {ran} cases passed");
    assert_eq!(ran, RFC7396_CASES);
}
