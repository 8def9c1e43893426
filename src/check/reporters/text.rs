//! Text: findings grouped by subject, each as `file:line: severity[RULE] resource: message`, the
//! path and the fix below it, a summary line last. Colour only through the palette (off for
//! `NO_COLOR` and pipes).

use crate::check::{Report, Severity};
use crate::output::Palette;

/// The findings and a summary line that says whether they fail at `threshold` (`cutover check`).
pub fn render(reports: &[Report], threshold: Severity, palette: Palette) -> String {
    let (mut out, [errors, warnings, notes, silenced]) = findings(reports, palette);
    let failed = reports.iter().any(|report| report.fails_at(threshold));
    out.push_str(&format!(
        "{errors} error(s), {warnings} warning(s), {notes} note(s), {silenced} silenced; {}\n",
        if failed {
            format!("failing at --fail-on {threshold}")
        } else {
            format!("nothing at or above --fail-on {threshold}")
        }
    ));
    out
}

/// The findings alone, for a command that says what they stop in its own error line (`deploy`).
pub fn render_findings(reports: &[Report], palette: Palette) -> String {
    findings(reports, palette).0
}

/// The text of every finding, and the counts of errors, warnings, notes and silenced ones.
fn findings(reports: &[Report], palette: Palette) -> (String, [usize; 4]) {
    let mut out = String::new();
    let (mut errors, mut warnings, mut notes, mut silenced) = (0, 0, 0, 0);
    for report in reports {
        out.push_str(&palette.bold(&report.subject));
        out.push('\n');
        if report.findings.is_empty() {
            out.push_str("  no findings\n");
        }
        for finding in &report.findings {
            let location = match finding.line {
                Some(line) => format!("{}:{line}", finding.file),
                None => finding.file.clone(),
            };
            let label = format!("{}[{}]", finding.severity, finding.rule);
            let label = match (&finding.silenced, finding.severity) {
                (Some(_), _) => palette.dim(&label),
                (None, Severity::Error) => palette.removed(&label),
                (None, Severity::Warning) => palette.warning(&label),
                (None, Severity::Note) => label,
            };
            let subject = finding
                .resource
                .as_deref()
                .map(|resource| format!("{resource}: "))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {location}: {label} {subject}{}\n",
                finding.message
            ));
            out.push_str(&format!("      at {}\n", finding.path));
            match &finding.silenced {
                Some(reason) => out.push_str(&format!("      silenced: {reason}\n")),
                None => out.push_str(&format!("      fix: {}\n", finding.fix)),
            }
            match (&finding.silenced, finding.severity) {
                (Some(_), _) => silenced += 1,
                (None, Severity::Error) => errors += 1,
                (None, Severity::Warning) => warnings += 1,
                (None, Severity::Note) => notes += 1,
            }
        }
    }
    (out, [errors, warnings, notes, silenced])
}
