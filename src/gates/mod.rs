//! Health gates checked before each traffic step and through every bake.
//!
//! This file holds the [`GateChecker`] trait and the report it returns; the AWS-backed gates
//! (target health, instance status, CloudWatch alarms, HTTP probe, user command) live in their
//! own files next to it.
//!
//! The rule for errors, in one place: a gate that could not be evaluated (throttled, timed out,
//! the command could not start) reports [`GateOutcome::Error`]; implementations do not retry
//! such errors themselves. The cutover driver re-checks a report whose only non-passing results
//! are errors, with backoff, a few times (`cutover::RetryPolicy`); if errors remain, the report
//! counts as failed, exactly like a [`GateOutcome::Fail`]. A `Fail` is the gate's verdict and
//! is never re-checked early. (An HTTP probe's own `retries` from the spec belong to its verdict:
//! it reports `Fail` once they are used up.)

use std::fmt;
use std::future::Future;

use serde::Serialize;

pub mod alarms;
mod build;
pub mod command;
pub mod compare;
pub mod http;
pub mod instance_status;
pub mod target_health;

pub use build::{build_gates, AppGates};

/// Checks every gate of an app against one release.
pub trait GateChecker {
    /// Evaluates all gates for the release stack `release`. Never fails as a whole: a gate that
    /// could not be evaluated is an [`GateOutcome::Error`] result in the report.
    fn check(&self, release: &str) -> impl Future<Output = GateReport> + Send;

    /// The same, knowing where the cutover stands (gates that judge production traffic wait
    /// until the candidate has some). By default the same as [`GateChecker::check`].
    fn check_with(
        &self,
        release: &str,
        context: GateContext,
    ) -> impl Future<Output = GateReport> + Send {
        let _ = context;
        self.check(release)
    }
}

/// What the cutover driver knows when it checks the gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateContext {
    /// The candidate's share of production traffic, in percent.
    pub candidate_weight: u8,
    /// How long the candidate has had production traffic in this run (from its first step, or
    /// from the start of a run that found it with some); `None` before any.
    pub production_for: Option<std::time::Duration>,
}

/// The results of one round of gate checks. An app without gates gives an empty report, which
/// passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub results: Vec<GateResult>,
}

/// One gate's result, e.g. `gate: "alarm web-5xx-rate"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateResult {
    /// What was checked: "target_health", "instance_status", "alarm `name`", "http", "command",
    /// "compare".
    pub gate: String,
    pub outcome: GateOutcome,
    /// Why a gate passed, when that is worth saying (the comparison's verdicts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The comparison gate's verdicts, one per metric.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comparison: Vec<crate::compare::Verdict>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum GateOutcome {
    Pass,
    /// The gate was evaluated and said no; the reason is for the user ("2 of 3 targets healthy").
    Fail(String),
    /// The gate could not be evaluated; see the module docs for how errors count.
    Error(String),
}

impl GateReport {
    pub fn new(results: Vec<GateResult>) -> Self {
        Self { results }
    }

    /// True when every gate passed. Errors count as failures.
    pub fn passed(&self) -> bool {
        self.results
            .iter()
            .all(|result| result.outcome == GateOutcome::Pass)
    }

    /// True when something did not pass and every such result is an error, not a verdict:
    /// the report is worth re-checking before it counts as failed.
    pub fn only_errors(&self) -> bool {
        !self.passed()
            && self
                .results
                .iter()
                .all(|result| matches!(result.outcome, GateOutcome::Pass | GateOutcome::Error(_)))
    }

    /// The results that did not pass, in check order.
    pub fn failures(&self) -> impl Iterator<Item = &GateResult> {
        self.results
            .iter()
            .filter(|result| result.outcome != GateOutcome::Pass)
    }
}

impl GateResult {
    pub fn new(gate: impl Into<String>, outcome: GateOutcome) -> Self {
        Self {
            gate: gate.into(),
            outcome,
            note: None,
            comparison: Vec::new(),
        }
    }

    pub fn pass(gate: impl Into<String>) -> Self {
        Self::new(gate, GateOutcome::Pass)
    }

    pub fn fail(gate: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(gate, GateOutcome::Fail(reason.into()))
    }

    pub fn error(gate: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(gate, GateOutcome::Error(reason.into()))
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn with_comparison(mut self, verdicts: Vec<crate::compare::Verdict>) -> Self {
        self.comparison = verdicts;
        self
    }
}

/// `alarm web-5xx-rate failed: in ALARM since 12:03`, `http could not be checked: timeout`.
impl fmt::Display for GateResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            GateOutcome::Pass => write!(f, "{} passed", self.gate),
            GateOutcome::Fail(reason) => write!(f, "{} failed: {reason}", self.gate),
            GateOutcome::Error(reason) => write!(f, "{} could not be checked: {reason}", self.gate),
        }
    }
}

/// The failing results joined with "; ", or "all gates passed" and the notes of passing gates
/// (`all gates passed; compare: vs web-r1: …`).
impl fmt::Display for GateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            f.write_str("all gates passed")?;
            for result in &self.results {
                if let Some(note) = &result.note {
                    write!(f, "; {}: {note}", result.gate)?;
                }
            }
            return Ok(());
        }
        for (index, failure) in self.failures().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_report_passes() {
        assert!(GateReport::default().passed());
        assert!(!GateReport::default().only_errors());
    }

    #[test]
    fn an_error_counts_as_failure_and_is_worth_rechecking() {
        let report = GateReport::new(vec![
            GateResult::pass("target_health"),
            GateResult::error("alarm web-5xx", "throttled"),
        ]);
        assert!(!report.passed());
        assert!(report.only_errors());
        assert_eq!(
            report.to_string(),
            "alarm web-5xx could not be checked: throttled"
        );
    }

    #[test]
    fn a_verdict_is_not_only_errors() {
        let report = GateReport::new(vec![
            GateResult::fail("http", "status 503, expected 200"),
            GateResult::error("command", "could not start ./smoke.sh"),
        ]);
        assert!(!report.passed());
        assert!(!report.only_errors());
        assert_eq!(
            report.to_string(),
            "http failed: status 503, expected 200; command could not be checked: could not start ./smoke.sh"
        );
    }

    #[test]
    fn json_shape() {
        let report = GateReport::new(vec![
            GateResult::pass("target_health"),
            GateResult::fail("http", "status 503"),
        ]);
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"results":[{"gate":"target_health","outcome":{"status":"pass"}},{"gate":"http","outcome":{"status":"fail","reason":"status 503"}}]}"#
        );
    }
}
