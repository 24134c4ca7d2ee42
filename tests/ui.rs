//! Compile-fail tests: every compile-time diagnostic of fastevent, with the
//! exact message a user sees (`tests/ui/*.rs` and their `.stderr`), and the
//! valid shapes those checks must keep accepting (`tests/ui/pass/`).
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test
//! ui`, then read every one of them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    // What the macros accept, so a check cannot grow to refuse valid code.
    cases.pass("tests/ui/pass/*.rs");
}
