//! The fault proxy: an HTTP/1.1 server on 127.0.0.1 that forwards every request to moto into
//! its own account and, as the test scripts it, delays, throttles, fails or drops requests and
//! rewrites answers to show failed stacks and unhealthy targets.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use tokio::net::{TcpListener, TcpStream};

use super::faults::{self, ParsedRequest, Schedule};
use super::http1::{read_request, write_response, Outcome};
pub use super::rewrite::FailMode;
use super::rewrite::{self, element_text, stack_name_of, StackFault};

/// A running proxy; it stops accepting connections when dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: String,
    account_id: String,
    client: Client<HttpConnector, Full<Bytes>>,
    next_request_id: AtomicU64,
    script: Mutex<Script>,
}

#[derive(Default)]
struct Script {
    throttle: Schedule,
    server_error: Schedule,
    reset: Schedule,
    latency: Duration,
    rate_limit: Option<super::faults::RateLimit>,
    only_actions: Option<HashSet<String>>,
    stacks: HashMap<String, StackFault>,
    /// Stacks created later whose names start with the prefix get the fault (names that a run
    /// generates, such as a rotation's new release).
    stack_prefix_faults: Vec<(String, FailMode)>,
    unhealthy_target_groups: Vec<String>,
    /// ListImports answers, by export name (moto has no ListImports).
    imports: HashMap<String, Vec<String>>,
    requests_seen: usize,
    requests_by_action: HashMap<String, usize>,
}

/// The proxies run on their own runtime, so a test may block (e.g. on the `cutover` binary)
/// on any thread, whatever runtime the test itself uses.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("could not start the fault proxy runtime")
    })
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (a moto URL) as account
    /// `account_id`: two proxies with different accounts see two separate, empty AWS accounts.
    pub fn start(upstream: &str, account_id: &str) -> FaultProxy {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("could not bind the fault proxy");
        listener
            .set_nonblocking(true)
            .expect("could not configure the fault proxy socket");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the proxy has an address")
        );
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            account_id: account_id.to_string(),
            client: {
                let _entered = runtime().enter();
                Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
            },
            next_request_id: AtomicU64::new(1),
            script: Mutex::new(Script::default()),
        });
        let accept = runtime().spawn(accept_loop(
            {
                let _entered = runtime().enter();
                TcpListener::from_std(listener).expect("could not hand the socket to tokio")
            },
            shared.clone(),
        ));
        FaultProxy {
            url,
            shared,
            accept,
        }
    }

    /// The URL to give the SDK or `sdk_env`, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.shared
            .script
            .lock()
            .expect("the proxy script lock is never poisoned")
    }

    /// Answers this share of the eligible requests with a throttling error (`Throttling: Rate
    /// exceeded`; EC2's `RequestLimitExceeded`; JSON `ThrottlingException`). See
    /// [`Schedule`] for which requests: deterministic, every `1/rate`-th one.
    pub fn set_throttle_rate(&self, rate: f64) {
        self.script().throttle.set_rate(rate);
    }

    /// Throttles eligible requests beyond `per_second` (with bursts of up to `burst`), as AWS
    /// does per account and API; `None` lifts the limit.
    pub fn set_rate_limit(&self, limit: Option<(f64, f64)>) {
        self.script().rate_limit =
            limit.map(|(per_second, burst)| super::faults::RateLimit::new(per_second, burst));
    }

    /// Requests throttled by the rate limit.
    pub fn rate_limited(&self) -> usize {
        self.script()
            .rate_limit
            .as_ref()
            .map_or(0, |limit| limit.throttled)
    }

    /// Answers this share of the eligible requests with a 503.
    pub fn set_server_error_rate(&self, rate: f64) {
        self.script().server_error.set_rate(rate);
    }

    /// Closes the connection of this share of the eligible requests without answering (a TCP
    /// reset, after the request was read).
    pub fn set_reset_rate(&self, rate: f64) {
        self.script().reset.set_rate(rate);
    }

    /// Delays every eligible request by this much before handling it.
    pub fn set_latency(&self, latency: Duration) {
        self.script().latency = latency;
    }

    /// Limits latency and injected errors to these API actions (`DescribeStacks`,
    /// `GetParameter`, `ChangeResourceRecordSets`, ...); by default every request is eligible.
    pub fn only_actions(&self, actions: &[&str]) {
        self.script().only_actions =
            Some(actions.iter().map(|action| action.to_string()).collect());
    }

    /// Makes every request eligible for faults again.
    pub fn all_actions(&self) {
        self.script().only_actions = None;
    }

    /// Makes the named stack look failed from now on (see [`FailMode`]).
    pub fn fail_stack(&self, stack_name: &str, mode: FailMode) {
        self.script()
            .stacks
            .insert(stack_name.to_string(), StackFault::new(mode));
    }

    /// Every stack created from now on whose name starts with `prefix` looks failed (see
    /// [`FailMode`]), for stacks whose names the run makes up.
    pub fn fail_stacks_created_with_prefix(&self, prefix: &str, mode: FailMode) {
        self.script()
            .stack_prefix_faults
            .push((prefix.to_string(), mode));
    }

    /// The named stack shows moto's real state again.
    pub fn clear_stack_fault(&self, stack_name: &str) {
        self.script().stacks.remove(stack_name);
    }

    /// Every target of the target groups whose ARN contains `arn_part` ("" = all groups)
    /// reports `unhealthy` (`Target.FailedHealthChecks`) in DescribeTargetHealth.
    pub fn unhealthy_targets(&self, arn_part: &str) {
        self.script()
            .unhealthy_target_groups
            .push(arn_part.to_string());
    }

    /// Targets report moto's health (always healthy) again.
    pub fn healthy_targets(&self) {
        self.script().unhealthy_target_groups.clear();
    }

    /// ListImports of `export_name` names `importers` from now on. moto does not implement
    /// ListImports (it answers 500), so the proxy answers it for every export: the scripted
    /// importers, else CloudFormation's "is not imported by any stack" ValidationError.
    pub fn imports(&self, export_name: &str, importers: &[&str]) {
        self.script().imports.insert(
            export_name.to_string(),
            importers.iter().map(|name| name.to_string()).collect(),
        );
    }

    /// Requests received, faulted ones and retries included.
    pub fn requests_seen(&self) -> usize {
        self.script().requests_seen
    }

    /// Requests received per API action, faulted ones and retries included.
    pub fn requests_by_action(&self) -> HashMap<String, usize> {
        self.script().requests_by_action.clone()
    }

    pub fn throttled(&self) -> usize {
        self.script().throttle.injected
    }

    pub fn server_errors(&self) -> usize {
        self.script().server_error.injected
    }

    pub fn resets(&self) -> usize {
        self.script().reset.injected
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_connection(stream, shared.clone()));
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(message) => {
                let outcome = Outcome::Respond {
                    status: 400,
                    headers: Vec::new(),
                    body: message.into_bytes(),
                };
                let _ = write_response(&mut stream, outcome).await;
                return;
            }
        };
        match handle(&shared, request).await {
            Outcome::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            outcome => {
                if write_response(&mut stream, outcome).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request; `None` when the client closed the connection between requests.
async fn handle(shared: &Shared, request: ParsedRequest) -> Outcome {
    let action = request.action();
    let request_id = format!(
        "fault-proxy-{}",
        shared.next_request_id.fetch_add(1, Ordering::Relaxed)
    );
    let (latency, injected) = {
        let mut script = shared
            .script
            .lock()
            .expect("the proxy script lock is never poisoned");
        script.requests_seen += 1;
        *script.requests_by_action.entry(action.clone()).or_default() += 1;
        let eligible = script
            .only_actions
            .as_ref()
            .is_none_or(|only| only.contains(&action));
        let injected = if !eligible {
            None
        } else if script.reset.fires() {
            Some(Outcome::Reset)
        } else if script.throttle.fires()
            || script
                .rate_limit
                .as_mut()
                .is_some_and(|limit| !limit.admits())
        {
            Some(faults::throttling(&request, &request_id).into())
        } else if script.server_error.fires() {
            Some(faults::server_error(&request, &request_id).into())
        } else {
            None
        };
        (
            if eligible {
                script.latency
            } else {
                Duration::ZERO
            },
            injected,
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(outcome) = injected {
        return outcome;
    }
    if action == "CreateStack" {
        fault_created_stack(shared, &request);
    }
    if action == "DeleteStack" {
        if let Some(outcome) = intercept_delete(shared, &request, &request_id) {
            return outcome;
        }
    }
    if action == "ListImports" {
        return list_imports(shared, &request, &request_id);
    }
    let (status, headers, body) = match forward(shared, &request).await {
        Ok(answer) => answer,
        Err(message) => {
            return Outcome::Respond {
                status: 502,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: format!(
                    "fault proxy: moto at {} did not answer: {message}",
                    shared.upstream
                )
                .into_bytes(),
            }
        }
    };
    let body = if status == 200 {
        rewrite_answer(shared, &request, &action, body).await
    } else {
        body
    };
    Outcome::Respond {
        status,
        headers,
        body,
    }
}

/// A CreateStack whose name matches a prefix fault: the new stack gets the fault.
fn fault_created_stack(shared: &Shared, request: &ParsedRequest) {
    let form = request.form();
    let Some(name) = form.get("StackName") else {
        return;
    };
    let mut script = shared
        .script
        .lock()
        .expect("the proxy script lock is never poisoned");
    let mode = script
        .stack_prefix_faults
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix.as_str()))
        .map(|(_, mode)| mode.clone());
    if let Some(mode) = mode {
        script.stacks.insert(name.clone(), StackFault::new(mode));
    }
}

/// DeleteStack of a stack scripted to fail deletion: answered with success and not forwarded,
/// so the stack stays; with `RetainResources` it goes through and the script ends.
fn intercept_delete(shared: &Shared, request: &ParsedRequest, request_id: &str) -> Option<Outcome> {
    let form = request.form();
    let name = stack_name_of(form.get("StackName")?).to_string();
    let mut script = shared
        .script
        .lock()
        .expect("the proxy script lock is never poisoned");
    let fault = script.stacks.get_mut(&name)?;
    if !matches!(fault.mode, FailMode::DeleteFailed { .. }) {
        return None;
    }
    if form
        .keys()
        .any(|key| key.starts_with("RetainResources.member."))
    {
        script.stacks.remove(&name);
        return None;
    }
    fault.delete_requested = true;
    fault.failed_at = Some(std::time::SystemTime::now());
    Some(Outcome::Respond {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: format!(
            "<DeleteStackResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DeleteStackResponse>"
        )
        .into_bytes(),
    })
}

/// ListImports as CloudFormation answers it, from the script (see [`FaultProxy::imports`]).
fn list_imports(shared: &Shared, request: &ParsedRequest, request_id: &str) -> Outcome {
    let export = request
        .form()
        .get("ExportName")
        .cloned()
        .unwrap_or_default();
    let importers = shared
        .script
        .lock()
        .expect("the proxy script lock is never poisoned")
        .imports
        .get(&export)
        .cloned()
        .unwrap_or_default();
    let xml = |status: u16, body: String| Outcome::Respond {
        status,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    };
    if importers.is_empty() {
        return xml(
            400,
            format!(
                "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                 <Error><Type>Sender</Type><Code>ValidationError</Code>\
                 <Message>Export '{export}' is not imported by any stack.</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        );
    }
    let members: String = importers
        .iter()
        .map(|name| format!("<member>{name}</member>"))
        .collect();
    xml(
        200,
        format!(
            "<ListImportsResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
             <ListImportsResult><Imports>{members}</Imports></ListImportsResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></ListImportsResponse>"
        ),
    )
}

async fn forward(
    shared: &Shared,
    request: &ParsedRequest,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), String> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(format!("{}{}", shared.upstream, request.path));
    for (name, value) in &request.headers {
        if !is_hop_by_hop(name)
            && !name.eq_ignore_ascii_case("host")
            && !name.eq_ignore_ascii_case("x-moto-account-id")
        {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let upstream_request = builder
        .header("x-moto-account-id", shared.account_id.as_str())
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|error| error.to_string())?;
    let response = shared
        .client
        .request(upstream_request)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    Ok((status, headers, body.to_vec()))
}

fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "upgrade",
        "proxy-connection",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

async fn rewrite_answer(
    shared: &Shared,
    request: &ParsedRequest,
    action: &str,
    body: Vec<u8>,
) -> Vec<u8> {
    let Ok(xml) = String::from_utf8(body.clone()) else {
        return body;
    };
    let requested_stack = request
        .form()
        .get("StackName")
        .map(|name| stack_name_of(name).to_string());
    let rewritten = match action {
        "DescribeStacks" | "ListStacks" => {
            let container = if action == "ListStacks" {
                "StackSummaries"
            } else {
                "Stacks"
            };
            let mut script = shared
                .script
                .lock()
                .expect("the proxy script lock is never poisoned");
            rewrite::rewrite_stack_list(&xml, container, &mut script.stacks)
        }
        "DescribeStackResources" | "ListStackResources" => {
            let container = if action == "ListStackResources" {
                "StackResourceSummaries"
            } else {
                "StackResources"
            };
            let name =
                requested_stack.or_else(|| element_text(&xml, "StackName").map(str::to_string));
            let script = shared
                .script
                .lock()
                .expect("the proxy script lock is never poisoned");
            match name.and_then(|name| script.stacks.get(&name)) {
                Some(fault) => rewrite::rewrite_stack_resources(&xml, container, fault),
                None => xml,
            }
        }
        "DescribeStackEvents" => {
            let Some(name) = element_text(&xml, "StackName").map(str::to_string) else {
                return xml.into_bytes();
            };
            let needs_lookup = {
                let script = shared
                    .script
                    .lock()
                    .expect("the proxy script lock is never poisoned");
                script.stacks.get(&name).map(|fault| {
                    (
                        fault.resource_info.is_none() && fault.mode.resource().is_some(),
                        fault.mode.resource().unwrap_or_default().to_string(),
                    )
                })
            };
            let Some((needs_lookup, resource)) = needs_lookup else {
                return xml.into_bytes();
            };
            let info = if needs_lookup {
                Some(look_up_resource(shared, &name, &resource).await)
            } else {
                None
            };
            let mut script = shared
                .script
                .lock()
                .expect("the proxy script lock is never poisoned");
            match script.stacks.get_mut(&name) {
                Some(fault) => {
                    if info.is_some() {
                        fault.resource_info = info;
                    }
                    rewrite::rewrite_stack_events(&xml, fault)
                }
                None => xml,
            }
        }
        "DescribeTargetHealth" => {
            let group = request
                .form()
                .get("TargetGroupArn")
                .cloned()
                .unwrap_or_default();
            let script = shared
                .script
                .lock()
                .expect("the proxy script lock is never poisoned");
            if script
                .unhealthy_target_groups
                .iter()
                .any(|part| group.contains(part.as_str()))
            {
                rewrite::rewrite_target_health(&xml)
            } else {
                xml
            }
        }
        _ => xml,
    };
    rewritten.into_bytes()
}

/// The failed resource's type and physical id as moto knows them, for realistic events;
/// `UNKNOWN` when moto has no such resource (e.g. a type it skips).
async fn look_up_resource(shared: &Shared, stack: &str, logical_id: &str) -> (String, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeStackResources")
        .append_pair("Version", "2010-05-15")
        .append_pair("StackName", stack)
        .append_pair("LogicalResourceId", logical_id)
        .finish();
    let lookup = ParsedRequest {
        method: "POST".into(),
        path: "/".into(),
        headers: vec![
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            (
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/cloudformation/aws4_request, \
                 SignedHeaders=host, Signature=0"
                    .into(),
            ),
        ],
        body: body.into_bytes(),
    };
    let answer = forward(shared, &lookup)
        .await
        .ok()
        .filter(|(status, _, _)| *status == 200);
    let xml = answer
        .map(|(_, _, body)| String::from_utf8_lossy(&body).into_owned())
        .unwrap_or_default();
    let kind = element_text(&xml, "ResourceType")
        .unwrap_or("UNKNOWN")
        .to_string();
    let physical = element_text(&xml, "PhysicalResourceId")
        .unwrap_or("")
        .to_string();
    (kind, physical)
}
