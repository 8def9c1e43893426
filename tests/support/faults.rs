//! What the fault proxy needs to know about a request (service, action, parameters) and the
//! error answers it injects, in the shape each AWS protocol uses so the SDK classifies them
//! exactly as it would classify AWS's own.

use std::collections::HashMap;

/// One request as the proxy read it.
pub struct ParsedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ParsedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The SigV4 signing name from `Authorization: ... Credential=AKID/DATE/REGION/SERVICE/...`
    /// (e.g. `cloudformation`, `ec2`, `elasticloadbalancing`, `route53`, `ssm`, `monitoring`).
    pub fn service(&self) -> String {
        let from_credential = self.header("authorization").and_then(|value| {
            let scope = value.split("Credential=").nth(1)?;
            let scope = scope.split([',', ' ']).next()?;
            scope.split('/').nth(3).map(str::to_string)
        });
        from_credential.unwrap_or_else(|| {
            if self.header("x-amz-target").is_some() {
                "json".into()
            } else if self.path.starts_with("/2013-04-01/") {
                "route53".into()
            } else {
                "unknown".into()
            }
        })
    }

    /// Form parameters of a query-protocol request (CloudFormation, EC2, ELBv2, CloudWatch).
    pub fn form(&self) -> HashMap<String, String> {
        let is_form = self
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return HashMap::new();
        }
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The API action: `Action=` of the form body, the part after the dot of `X-Amz-Target`
    /// (JSON protocols), or a name derived from the method and path (Route 53's REST-XML).
    pub fn action(&self) -> String {
        if let Some(action) = self.form().remove("Action") {
            return action;
        }
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        route53_action(&self.method, &self.path)
    }
}

fn route53_action(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let action = match (method, parts.as_slice()) {
        ("GET", [_, "hostedzone"]) => "ListHostedZones",
        ("POST", [_, "hostedzone"]) => "CreateHostedZone",
        ("GET", [_, "hostedzone", _]) => "GetHostedZone",
        ("DELETE", [_, "hostedzone", _]) => "DeleteHostedZone",
        ("GET", [_, "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", [_, "hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", [_, "change", _]) => "GetChange",
        _ => return format!("{method} {path}"),
    };
    action.to_string()
}

/// How a service writes its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorShape {
    /// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`:
    /// CloudFormation, ELBv2, CloudWatch, Auto Scaling, STS (awsQuery) and Route 53 (REST-XML).
    Query,
    /// `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
    Ec2,
    /// `{"__type": "...", "message": "..."}`: SSM and the other JSON protocols.
    Json,
}

fn shape_of(request: &ParsedRequest) -> ErrorShape {
    match request.service().as_str() {
        "ec2" => ErrorShape::Ec2,
        "ssm" | "json" => ErrorShape::Json,
        _ if request.header("x-amz-target").is_some() => ErrorShape::Json,
        _ => ErrorShape::Query,
    }
}

/// A complete answer the proxy writes instead of forwarding.
pub struct CannedResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// `Throttling: Rate exceeded`, or what EC2 and the JSON services say instead.
pub fn throttling(request: &ParsedRequest, request_id: &str) -> CannedResponse {
    match shape_of(request) {
        ErrorShape::Query => query_error(400, "Sender", "Throttling", "Rate exceeded", request_id),
        ErrorShape::Ec2 => ec2_error(
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        ),
        ErrorShape::Json => json_error(400, "ThrottlingException", "Rate exceeded"),
    }
}

/// A 503 the SDK treats as transient.
pub fn server_error(request: &ParsedRequest, request_id: &str) -> CannedResponse {
    let message = "Service is unavailable, injected by the fault proxy";
    match shape_of(request) {
        ErrorShape::Query => {
            query_error(503, "Receiver", "ServiceUnavailable", message, request_id)
        }
        ErrorShape::Ec2 => ec2_error(503, "Unavailable", message, request_id),
        ErrorShape::Json => json_error(503, "ServiceUnavailable", message),
    }
}

fn query_error(
    status: u16,
    kind: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> CannedResponse {
    CannedResponse {
        status,
        content_type: "text/xml",
        body: format!(
            "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>\
             </Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ),
    }
}

fn ec2_error(status: u16, code: &str, message: &str, request_id: &str) -> CannedResponse {
    CannedResponse {
        status,
        content_type: "text/xml",
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ),
    }
}

fn json_error(status: u16, code: &str, message: &str) -> CannedResponse {
    CannedResponse {
        status,
        content_type: "application/x-amz-json-1.1",
        body: format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
    }
}

/// Decides which of the eligible requests a fault hits, without randomness: with rate `r`,
/// exactly `floor(n * r)` of the first `n` eligible requests fail, evenly spaced (r = 0.2 fails
/// the 5th, 10th, 15th, ...; r = 1 fails every one). A retried request is a new request.
#[derive(Default, Debug)]
pub struct Schedule {
    rate: f64,
    eligible_seen: u64,
    pub injected: usize,
}

impl Schedule {
    pub fn set_rate(&mut self, rate: f64) {
        assert!(
            (0.0..=1.0).contains(&rate),
            "a fault rate is between 0 and 1, got {rate}"
        );
        self.rate = rate;
        self.eligible_seen = 0;
    }

    pub fn fires(&mut self) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        let before = (self.eligible_seen as f64 * self.rate).floor();
        self.eligible_seen += 1;
        let fired = (self.eligible_seen as f64 * self.rate).floor() > before;
        if fired {
            self.injected += 1;
        }
        fired
    }
}

/// A request rate the way AWS enforces one per account: a bucket of `burst` tokens refilled at
/// `per_second`; a request that finds it empty is throttled.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: std::time::Instant,
    pub throttled: usize,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: f64) -> RateLimit {
        assert!(per_second > 0.0 && burst >= 1.0);
        RateLimit {
            per_second,
            burst,
            tokens: burst,
            last: std::time::Instant::now(),
            throttled: 0,
        }
    }

    /// Takes a token; false (and counted) when there is none.
    pub fn admits(&mut self) -> bool {
        let now = std::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.throttled += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifth_fails_every_fifth_request() {
        let mut schedule = Schedule::default();
        schedule.set_rate(0.2);
        let fired: Vec<bool> = (0..10).map(|_| schedule.fires()).collect();
        let expected = [
            false, false, false, false, true, false, false, false, false, true,
        ];
        assert_eq!(fired, expected);
        assert_eq!(schedule.injected, 2);
    }
}
