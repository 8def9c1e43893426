//! The alarms gate: CloudWatch alarms named in the spec or by the release's outputs must not be
//! in ALARM. One result per alarm, so the report names the one that fired.

use super::{GateOutcome, GateResult};
use crate::aws::cloudwatch::{AlarmApi, AlarmFacts};

/// `alarm web-5xx`.
pub fn gate_name(alarm: &str) -> String {
    format!("alarm {alarm}")
}

/// The alarm name from a name or an ARN (`arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`):
/// DescribeAlarms takes names only.
pub fn alarm_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":alarm:") {
        Some((prefix, name)) if prefix.starts_with("arn:") => name,
        _ => name_or_arn,
    }
}

/// Describes every alarm in one call (per 100) and judges each.
pub async fn check(api: &impl AlarmApi, names: &[String]) -> Vec<GateResult> {
    let names: Vec<String> = names
        .iter()
        .map(|name| alarm_name(name).to_string())
        .collect();
    match api.alarms(&names).await {
        Ok(found) => judge(&names, &found),
        Err(error) => names
            .iter()
            .map(|name| GateResult::error(gate_name(name), error.to_string()))
            .collect(),
    }
}

/// ALARM fails with the alarm's reason; a name that matches no alarm fails too (a typo must not
/// pass silently). INSUFFICIENT_DATA passes: a new alarm has no data before traffic arrives.
pub fn judge(names: &[String], found: &[AlarmFacts]) -> Vec<GateResult> {
    names
        .iter()
        .map(|name| {
            let outcome = match found.iter().find(|alarm| &alarm.name == name) {
                None => GateOutcome::Fail(format!("no CloudWatch alarm named {name} exists")),
                Some(alarm) if alarm.state == "ALARM" => GateOutcome::Fail(format!(
                    "in ALARM: {}",
                    alarm.reason.as_deref().unwrap_or("no reason given")
                )),
                Some(_) => GateOutcome::Pass,
            };
            GateResult::new(gate_name(name), outcome)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: &str) -> AlarmFacts {
        AlarmFacts {
            name: name.into(),
            state: state.into(),
            reason: Some("Threshold Crossed: 5 datapoints".into()),
        }
    }

    #[test]
    fn names_from_arns() {
        assert_eq!(
            alarm_name("arn:aws:cloudwatch:us-east-1:1:alarm:web-5xx"),
            "web-5xx"
        );
        assert_eq!(alarm_name("web-5xx"), "web-5xx");
    }

    #[test]
    fn one_result_per_alarm() {
        let names = ["ok", "firing", "new", "typo"].map(str::to_string);
        let found = [
            alarm("ok", "OK"),
            alarm("firing", "ALARM"),
            alarm("new", "INSUFFICIENT_DATA"),
        ];
        let results = judge(&names, &found);
        assert_eq!(
            results,
            [
                GateResult::pass("alarm ok"),
                GateResult::fail("alarm firing", "in ALARM: Threshold Crossed: 5 datapoints"),
                GateResult::pass("alarm new"),
                GateResult::fail("alarm typo", "no CloudWatch alarm named typo exists"),
            ]
        );
    }
}
