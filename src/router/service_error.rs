//! AWS errors → [`RouterError`], in one place so every router classifies alike.

use super::RouterError;
use crate::aws::AwsError;

/// `action` says what the router was doing ("set weights web-r1 90%, web-r2 10%"); `missing`
/// names the resource a not-found error is about ("listener arn:…").
pub(crate) fn router_error(action: String, missing: &str, error: AwsError) -> RouterError {
    if let crate::aws::AwsErrorKind::Rejected { code, message } = &error.kind {
        // cutover's own refusal of what the spec names, not the service's: said as such.
        if crate::aws::elbv2::OWN_REFUSALS.contains(&code.as_str()) {
            return RouterError::Conflict {
                route: missing.to_string(),
                reason: message.clone(),
                hint: "fix the [router] section of the app spec".into(),
            };
        }
    }
    if error.is_transient() {
        RouterError::Transient {
            action,
            source: Some(Box::new(error)),
        }
    } else if error.is_not_found() {
        RouterError::NotFound {
            action,
            missing: missing.to_string(),
        }
    } else {
        RouterError::Rejected {
            action,
            source: Some(Box::new(error)),
        }
    }
}

/// Converts a service weight on scale `0..=sum` to percent, rounded to nearest. Weights written
/// by cutover are percent already and add up to 100, so they read back exactly.
pub(crate) fn to_percent(weight: u32, sum: u32) -> u8 {
    if sum == 0 {
        return 0;
    }
    ((weight * 100 + sum / 2) / sum).min(100) as u8
}
