use std::error::Error as StdError;
use std::fmt;

use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Diagnostic, Exit};

/// An AWS call that failed, classified once at the boundary so callers can decide on the kind
/// (retry when throttled, `None` when not found) without looking at SDK types.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {kind}")]
pub struct AwsError {
    /// What the tool was doing, e.g. "describe stack web-r2".
    pub action: String,
    pub kind: AwsErrorKind,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    NoRegion,
    /// The region found (environment, profile) is not a region's shape (`us-east-1a`).
    InvalidRegion {
        problem: String,
    },
    NoCredentials,
    /// The endpoint could not be reached or did not answer in time.
    Unreachable,
    Throttled {
        message: String,
    },
    /// The thing asked about does not exist.
    NotFound {
        message: String,
    },
    /// AWS refused the request (bad parameters, permissions, conflicts).
    Rejected {
        code: String,
        message: String,
    },
    /// A reply we could not read, or any other failure.
    Other {
        message: String,
    },
}

impl fmt::Display for AwsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsErrorKind::NoRegion => write!(f, "no AWS region configured"),
            AwsErrorKind::InvalidRegion { problem } => write!(f, "{problem}"),
            AwsErrorKind::NoCredentials => write!(f, "no AWS credentials found"),
            AwsErrorKind::Unreachable => write!(f, "could not reach the AWS endpoint"),
            AwsErrorKind::Throttled { message } => write!(f, "throttled by AWS ({message})"),
            AwsErrorKind::NotFound { message } => write!(f, "not found ({message})"),
            AwsErrorKind::Rejected { code, message } => write!(f, "{code}: {message}"),
            AwsErrorKind::Other { message } => write!(f, "{message}"),
        }
    }
}

impl AwsError {
    pub fn new(action: impl Into<String>, kind: AwsErrorKind) -> AwsError {
        AwsError {
            action: action.into(),
            kind,
            source: None,
        }
    }

    pub(crate) fn no_region() -> AwsError {
        AwsError::new("load AWS configuration", AwsErrorKind::NoRegion)
    }

    /// The credentials of `action` (e.g. "load the credentials of AWS profile ops") could not be
    /// had; `source` says why (a profile not defined, an expired SSO session).
    pub(crate) fn no_credentials(
        action: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> AwsError {
        AwsError {
            action: action.into(),
            kind: AwsErrorKind::NoCredentials,
            source: Some(Box::new(source)),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, AwsErrorKind::NotFound { .. })
    }

    pub fn is_throttled(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttled { .. })
    }

    /// Worth another try later: throttling, transport trouble, or a server-side failure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::Throttled { .. } | AwsErrorKind::Unreachable
        ) || matches!(&self.kind, AwsErrorKind::Rejected { code, .. } if code.starts_with("InternalFailure") || code == "ServiceUnavailable" || code == "InternalError")
    }
}

impl Diagnostic for AwsError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match &self.kind {
            AwsErrorKind::NoRegion => {
                Some("pass --region, or set AWS_REGION, or set `region` in your AWS profile".into())
            }
            AwsErrorKind::InvalidRegion { .. } => Some(
                "fix AWS_REGION or AWS_DEFAULT_REGION, or `region` in your AWS profile (or pass --region)"
                    .into(),
            ),
            AwsErrorKind::NoCredentials => Some(
                "configure credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, --profile, or `aws sso login`"
                    .into(),
            ),
            AwsErrorKind::Unreachable => Some(
                "check the network, --endpoint-url / AWS_ENDPOINT_URL, and the region".into(),
            ),
            AwsErrorKind::Throttled { .. } => {
                Some("AWS kept throttling after several retries; try again in a minute".into())
            }
            _ => None,
        }
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// Turns an SDK error into an [`AwsError`] for `action`.
pub fn classify<E, R>(action: impl Into<String>, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let action = action.into();
    let kind = match &error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_string();
            let message = inner.message().unwrap_or("").to_string();
            if THROTTLING_CODES.contains(&code.as_str()) {
                AwsErrorKind::Throttled { message }
            } else if is_not_found(&code, &message) {
                AwsErrorKind::NotFound { message }
            } else {
                AwsErrorKind::Rejected { code, message }
            }
        }
        SdkError::TimeoutError(_) => AwsErrorKind::Unreachable,
        SdkError::DispatchFailure(failure) => {
            if failure.is_io() || failure.is_timeout() {
                AwsErrorKind::Unreachable
            } else if mentions_credentials(&error) {
                AwsErrorKind::NoCredentials
            } else {
                AwsErrorKind::Other {
                    message: innermost_message(&error),
                }
            }
        }
        SdkError::ConstructionFailure(_) if mentions_credentials(&error) => {
            AwsErrorKind::NoCredentials
        }
        SdkError::ResponseError(_) => AwsErrorKind::Other {
            message: format!("unreadable reply: {}", innermost_message(&error)),
        },
        _ => AwsErrorKind::Other {
            message: innermost_message(&error),
        },
    };
    tracing::debug!(action = %action, error = %aws_sdk_cloudformation::error::DisplayErrorContext(&error), "AWS call failed");
    // Service errors already carry their message in `kind`; keep the source only for transport
    // failures, whose detail lives in the chain.
    let source: Option<Box<dyn StdError + Send + Sync>> = match kind {
        AwsErrorKind::Unreachable => Some(Box::new(TransportDetail(innermost_message(&error)))),
        _ => None,
    };
    AwsError {
        action,
        kind,
        source,
    }
}

fn is_not_found(code: &str, message: &str) -> bool {
    code.ends_with("NotFound")
        || code.ends_with("NotFoundException")
        || code.starts_with("NoSuch")
        || code == "ParameterNotFound"
        || (code == "ValidationError" && message.contains("does not exist"))
}

fn mentions_credentials(error: &dyn StdError) -> bool {
    let mut current: Option<&dyn StdError> = Some(error);
    while let Some(e) = current {
        if e.to_string().to_ascii_lowercase().contains("credentials") {
            return true;
        }
        current = e.source();
    }
    false
}

fn innermost_message(error: &dyn StdError) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[derive(Debug)]
struct TransportDetail(String);

impl fmt::Display for TransportDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for TransportDetail {}
