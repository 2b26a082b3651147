//! Tests that need a service (a database, a browser, a cluster): skip with a notice a
//! `cargo test` user sees, or fail when the environment requires the service.
//!
//! One variable scheme: a flag is on when its variable is `1` or `true` (any case).
//! [`REQUIRE_SERVICES`] (set by `.ci/run`) makes every missing service a failure.
//!
//! The notice goes straight to the process's standard error, not through `eprintln!`:
//! libtest captures the print macros of a passing test, so a skip printed with them
//! would never be seen.

use std::fmt::Display;
use std::io::Write;

/// The variable that turns every missing service into a test failure.
pub const REQUIRE_SERVICES: &str = "LIVETABLE_REQUIRE_SERVICES";

/// Whether the flag `var` is on: set to `1` or `true` (any case).
pub fn flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| is_on(&v))
}

fn is_on(value: &str) -> bool {
    let value = value.trim();
    value == "1" || value.eq_ignore_ascii_case("true")
}

/// Whether a missing service must fail the test ([`REQUIRE_SERVICES`] is on).
pub fn services_required() -> bool {
    flag(REQUIRE_SERVICES)
}

/// Reports that `service` is missing (`why`, with what to do about it): panics when
/// [`REQUIRE_SERVICES`] is on, otherwise writes a skip notice naming the running test
/// where `cargo test` shows it, and returns so the caller can return early.
///
/// # Panics
/// When [`REQUIRE_SERVICES`] is on: that is the failure.
pub fn missing(service: &str, why: impl Display) {
    missing_unless(REQUIRE_SERVICES, service, why);
}

/// [`missing`] with another requiring flag (an opt-in service such as the live
/// Elasticsearch tests' `LIVETABLE_REQUIRE_ES`).
///
/// # Panics
/// When the flag `require_var` is on.
pub fn missing_unless(require_var: &str, service: &str, why: impl Display) {
    report(flag(require_var), require_var, service, why);
}

fn report(required: bool, require_var: &str, service: &str, why: impl Display) {
    assert!(
        !required,
        "{service} is required ({require_var} is set) but missing: {why}"
    );
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // Straight to the terminal: libtest would swallow `eprintln!` from a passing test.
    // A failed write of a notice is not worth failing the test over.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {service} is missing: {why} (set {require_var}=1 to fail instead)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_is_on_for_1_and_true_only() {
        for (value, on) in [
            ("1", true),
            ("true", true),
            ("TRUE", true),
            (" true ", true),
            ("0", false),
            ("false", false),
            ("yes", false),
            ("", false),
        ] {
            assert_eq!(is_on(value), on, "{value:?}");
        }
        assert!(!flag("LIVETABLE_TESTKIT_NEVER_SET"), "an unset flag is off");
    }

    #[test]
    fn a_required_missing_service_fails_naming_it() {
        let err = std::panic::catch_unwind(|| report(true, "REQ", "PostgreSQL", "unreachable"))
            .expect_err("a required service must fail");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("PostgreSQL") && msg.contains("REQ"), "{msg}");
        // Not required: a notice, no panic.
        report(false, "REQ", "PostgreSQL", "unreachable");
    }
}
