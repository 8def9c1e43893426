//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), so that CI systems show the
//! findings on the template's lines. Built with the `serde-sarif` types; one run, the rules of
//! `cutover check` as the tool's rules, one result per finding (a silenced one carries an
//! `inSource` or `external` suppression with its reason).

use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, Region,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif,
    Suppression, Tool, ToolComponent,
};

use crate::check::{Report, Severity, RULES};

/// The SARIF log of `reports` as indented JSON.
pub fn render(reports: &[Report]) -> String {
    let rules: Vec<ReportingDescriptor> = RULES
        .iter()
        .map(|rule| {
            ReportingDescriptor::builder()
                .id(rule.id)
                .name(rule.title.replace(' ', "-"))
                .short_description(MultiformatMessageString::builder().text(rule.title).build())
                .full_description(MultiformatMessageString::builder().text(rule.why).build())
                .help(MultiformatMessageString::builder().text(rule.fix).build())
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::json!(level_name(rule.severity)))
                        .build(),
                )
                .build()
        })
        .collect();
    let results: Vec<SarifResult> = reports
        .iter()
        .flat_map(|report| &report.findings)
        .map(|finding| {
            let mut physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri(&finding.file)).build())
                .build();
            // A region needs a start line (SARIF 2.1.0 §3.30.2): without one, the whole file.
            if let Some(line) = finding.line {
                let mut region = Region::builder().build();
                region.start_line = Some(line as i64);
                physical.region = Some(region);
            }
            let location = Location::builder().physical_location(physical).build();
            let text = format!(
                "{} (at {}). Fix: {}",
                finding.message, finding.path, finding.fix
            );
            let mut result = SarifResult::builder()
                .rule_id(finding.rule)
                .level(level(finding.severity))
                .message(Message::builder().text(text).build())
                .locations(vec![location])
                .build();
            if let Some(reason) = &finding.silenced {
                let kind = if reason.ends_with("(spec)") {
                    "external"
                } else {
                    "inSource"
                };
                result.suppressions = Some(vec![Suppression::builder()
                    .kind(serde_json::json!(kind))
                    .justification(reason.clone())
                    .build()]);
            }
            result
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("cutover")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    let log = Sarif::builder()
        .version(serde_json::json!("2.1.0"))
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .runs(vec![run])
        .build();
    serde_json::to_string_pretty(&log).expect("a SARIF log always serializes")
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Note => ResultLevel::Note,
    }
}

fn level_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A relative path as a URI reference (SARIF: `artifactLocation.uri`, RFC 3986): forward
/// slashes; every byte outside the unreserved set and `/` percent-encoded, so that `#` or `?` in
/// a file name is not read as a fragment or a query.
fn uri(path: &str) -> String {
    let mut encoded = String::new();
    for byte in path.replace('\\', "/").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn file_names_are_uri_references() {
        assert_eq!(uri("templates/web.yaml"), "templates/web.yaml");
        assert_eq!(uri("my tmpl#1.yaml"), "my%20tmpl%231.yaml");
        assert_eq!(uri("a\\b%c?.json"), "a/b%25c%3F.json");
    }
}
