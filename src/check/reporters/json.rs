//! `--output json`: one object, `{"reports": [{"subject", "findings": [...]}], "summary": {...}}`,
//! findings as [`crate::check::Finding`] serializes them (rule, severity, file, line, resource,
//! path, message, fix, silenced).

use serde_json::json;

use crate::check::{Report, Severity};

pub fn render(reports: &[Report], threshold: Severity) -> String {
    let findings = reports.iter().flat_map(|report| &report.findings);
    let count = |severity: Severity| {
        findings
            .clone()
            .filter(|finding| finding.severity == severity && finding.silenced.is_none())
            .count()
    };
    let value = json!({
        "reports": reports,
        "summary": {
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "notes": count(Severity::Note),
            "silenced": findings.clone().filter(|finding| finding.silenced.is_some()).count(),
            "fail_on": threshold,
            "failed": reports.iter().any(|report| report.fails_at(threshold)),
        },
    });
    format!("{value:#}")
}
