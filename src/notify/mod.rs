//! Notifications: one JSON object per event of a deploy, rollback or rotation, published to an
//! SNS topic and/or POSTed to a webhook (a chat channel shows its `text`).
//!
//! Delivery never fails a command and never holds it up for long. [`Notifier::send`] only queues:
//! each target has one background worker that delivers its queue in order (so a channel reads
//! "deploy started" before "deployed"), and the targets are independent of each other. A delivery
//! gets up to 3 attempts of at most 2 s each, 200 ms then 400 ms apart, retried only when another
//! try can help (timeouts, transport errors, 5xx, 408, 429, throttling). After a delivery to a
//! target fails, the target's circuit is open: later notifications to it get one attempt of at
//! most 500 ms, until one gets through. [`Notifier::finish`] waits for what is still queued or in
//! flight at most 3 s, then gives it up (logged).
//!
//! So the time notifications add to a command is bounded by [`MAX_ADDED_TIME`] (3 s), however
//! many notifications it sends and whatever state the targets are in: `send` does no I/O, and
//! `finish` waits at most that long. During a long deploy the deliveries overlap with the work.

mod announce;
mod text;
mod webhook;

pub use announce::Announcer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::aws::sns::{Sns, TopicApi};
use crate::aws::AwsError;
use crate::diff::Scrubber;
use crate::error::{Diagnostic, Exit};

/// Where notifications go (built by the caller from the app spec's `[notify]` table). Neither
/// set: nothing is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyTargets {
    /// `arn:aws:sns:<region>:<account>:<name>`; published through the `Sns` given to
    /// [`Notifier::new`].
    pub sns_topic_arn: Option<String>,
    pub webhook: Option<Webhook>,
}

/// A webhook that receives each notification as an HTTP POST of its JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `http://` or `https://`. Only its origin is ever logged: the path of a chat webhook is
    /// itself a credential.
    pub url: String,
    /// An extra request header, e.g. ("Authorization", "Bearer …"): the value is a secret, never
    /// logged and scrubbed from every notification.
    pub header: Option<(String, String)>,
}

impl Webhook {
    /// Checks what can be checked before sending: an http(s) URL with a host, a valid header
    /// name, a header value HTTP can carry. For validating a spec; the notifier skips (and
    /// logs) a webhook that fails this.
    ///
    /// Errors: [`NotifyError::BadUrl`], [`NotifyError::BadHeaderName`],
    /// [`NotifyError::BadHeaderValue`]; none of them repeats the URL or the header value.
    pub fn check(&self) -> Result<(), NotifyError> {
        webhook::parse(self).map(|_| ())
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &webhook::label(&self.url))
            .field(
                "header",
                &self
                    .header
                    .as_ref()
                    .map(|(name, _)| (name, crate::diff::MASK)),
            )
            .finish()
    }
}

/// What happened; serialized in snake_case (`"shifted_back"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    DeployStarted,
    TrafficStep,
    DeploySucceeded,
    ShiftedBack,
    DeployFailed,
    RollbackDone,
    ReleaseRetired,
    RetirementFailed,
    RotateSummary,
    /// `deploy --hold`: the candidate passed its gates and waits on its test route.
    ReleaseHeld,
    /// `abort`: a held candidate given up before taking production traffic.
    ReleaseAborted,
    /// A rollback that did not complete (a gate failed): traffic stayed where it was.
    RollbackFailed,
}

impl EventKind {
    /// The serialized name, e.g. `"shifted_back"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DeployStarted => "deploy_started",
            EventKind::TrafficStep => "traffic_step",
            EventKind::DeploySucceeded => "deploy_succeeded",
            EventKind::ShiftedBack => "shifted_back",
            EventKind::DeployFailed => "deploy_failed",
            EventKind::RollbackDone => "rollback_done",
            EventKind::ReleaseRetired => "release_retired",
            EventKind::RetirementFailed => "retirement_failed",
            EventKind::RotateSummary => "rotate_summary",
            EventKind::ReleaseHeld => "release_held",
            EventKind::ReleaseAborted => "release_aborted",
            EventKind::RollbackFailed => "rollback_failed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification: one JSON object, fields in this order, absent ones as `null`.
///
/// Built with [`Notification::new`] and the setters, each of which recomposes `text` from the
/// fields; to word `text` differently, assign it after the last setter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub event: EventKind,
    pub app: String,
    /// The release id, e.g. `"r2"`; `None` for events about the app as a whole (rotation).
    pub release: Option<String>,
    /// The stack the event is about: the new release's stack for deploy_started and
    /// deploy_succeeded, the stack traffic returned to for shifted_back and rollback_done, the
    /// stack retired (or not) for release_retired and retirement_failed.
    pub stack: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Traffic per stack name in percent, e.g. {"web-r1": 90, "web-r2": 10}.
    pub weights: Option<BTreeMap<String, u8>>,
    /// Why (a failure, a shift back, a rollback), or for rotate_summary the summary itself.
    pub reason: Option<String>,
    /// RFC 3339 UTC to the second, e.g. `"2024-05-01T12:00:00Z"`.
    pub at: String,
    /// One line that reads well in a chat channel, e.g. "web r2: shifted back to web-r1 (gates
    /// failed: alarm web-5xx in ALARM) in 123456789012/us-east-1". Long reasons are cut here at
    /// 300 characters (`reason` keeps all of it).
    pub text: String,
}

impl Notification {
    /// One with `at` = now and `text` composed from the other fields by kind.
    pub fn new(event: EventKind, app: &str) -> Notification {
        Notification {
            event,
            app: app.to_string(),
            release: None,
            stack: None,
            account: None,
            region: None,
            weights: None,
            reason: None,
            at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            text: String::new(),
        }
        .recompose()
    }

    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self.recompose()
    }

    pub fn stack(mut self, stack: impl Into<String>) -> Self {
        self.stack = Some(stack.into());
        self.recompose()
    }

    /// The account id and region the event happened in, as far as known.
    pub fn target(mut self, account: Option<String>, region: Option<String>) -> Self {
        self.account = account;
        self.region = region;
        self.recompose()
    }

    /// Traffic per stack name in percent.
    pub fn weights(mut self, weights: BTreeMap<String, u8>) -> Self {
        self.weights = Some(weights);
        self.recompose()
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self.recompose()
    }

    fn recompose(mut self) -> Self {
        self.text = text::compose(&self);
        self
    }
}

/// A delivery that failed; logged by the notifier, never returned by it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook URL cannot be used; the URL is not repeated (its path may be a credential).
    #[error("the webhook URL is not usable: {0}")]
    BadUrl(String),
    #[error("the webhook header name {0:?} is not a valid HTTP header name")]
    BadHeaderName(String),
    /// The header value is not repeated: it is a secret.
    #[error("the value of the webhook header {0} cannot be sent in HTTP (line breaks or control characters)")]
    BadHeaderValue(String),
    /// The webhook answered with a status other than 2xx; `body` is the start of its answer.
    #[error("status {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status { status: u16, body: String },
    #[error("no answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Could not connect, TLS failed, the connection broke.
    #[error("{0}")]
    Transport(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl NotifyError {
    /// Worth another attempt right away: the target may answer next time. A refusal (401, 404,
    /// no permission to publish) will not change in 400 ms.
    fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Timeout(_) | NotifyError::Transport(_) => true,
            NotifyError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            NotifyError::Aws(error) => error.is_transient(),
            NotifyError::BadUrl(_)
            | NotifyError::BadHeaderName(_)
            | NotifyError::BadHeaderValue(_) => false,
        }
    }
}

impl Diagnostic for NotifyError {
    fn exit(&self) -> Exit {
        Exit::Error
    }

    fn hint(&self) -> Option<String> {
        match self {
            NotifyError::BadUrl(_) => {
                Some("set [notify] webhook to an http:// or https:// URL".into())
            }
            NotifyError::BadHeaderName(_) | NotifyError::BadHeaderValue(_) => Some(
                "the [notify] header is one HTTP header: a token name and a single-line value"
                    .into(),
            ),
            NotifyError::Aws(error) => error.hint(),
            _ => None,
        }
    }
}

/// How deliveries are attempted, and how long [`Notifier::finish`] waits. The default is the
/// policy described in the module docs; tests shorten it with [`Notifier::with_policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts per delivery while the target's circuit is closed (at least 1).
    pub attempts: u32,
    /// Each attempt's limit, from connecting to the answer's status.
    pub attempt_timeout: Duration,
    /// The pause before the second attempt; doubled before each further one.
    pub retry_pause: Duration,
    /// The single attempt's limit while the circuit is open (the last delivery failed).
    pub open_circuit_timeout: Duration,
    /// How long `finish` waits for deliveries still queued or in flight.
    pub finish_wait: Duration,
}

impl DeliveryPolicy {
    pub const DEFAULT: DeliveryPolicy = DeliveryPolicy {
        attempts: 3,
        attempt_timeout: Duration::from_secs(2),
        retry_pause: Duration::from_millis(200),
        open_circuit_timeout: Duration::from_millis(500),
        finish_wait: MAX_ADDED_TIME,
    };
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy::DEFAULT
    }
}

/// The most that notifications add to a command with the default policy, whatever the targets
/// do: `send` does no I/O and `finish` waits at most this long.
pub const MAX_ADDED_TIME: Duration = Duration::from_secs(3);

/// Sends notifications; never fails and never takes long (see the module docs for the bound).
///
/// Needs a tokio runtime: `send` starts a worker per target on first use.
pub struct Notifier {
    targets: Vec<Arc<Target>>,
    scrubber: Arc<Scrubber>,
    policy: DeliveryPolicy,
    /// One per target, same order; started by the first `send`, ended by `finish`.
    workers: Mutex<Vec<Option<Worker>>>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field(
                "targets",
                &self
                    .targets
                    .iter()
                    .map(|target| target.label.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Notifier {
    /// `secrets`: values that must never appear in a notification (NoEcho parameter values);
    /// the webhook header's value, and its token after a scheme such as `Bearer `, are added.
    /// Every string field is scrubbed before sending.
    ///
    /// `sns` publishes to `targets.sns_topic_arn` (ignored without a topic; a topic without it
    /// is skipped with a warning). A webhook that fails [`Webhook::check`] is skipped with a
    /// warning.
    pub fn new(targets: NotifyTargets, sns: Option<Sns>, secrets: Vec<String>) -> Notifier {
        Notifier::with_topic_api(targets, sns, secrets)
    }

    /// [`Notifier::new`] with any [`TopicApi`] for the SNS topic.
    pub fn with_topic_api<T>(
        targets: NotifyTargets,
        topic_api: Option<T>,
        mut secrets: Vec<String>,
    ) -> Notifier
    where
        T: TopicApi + Send + 'static,
    {
        // What the process already masks everywhere (the environment's credentials).
        secrets.extend(crate::output::secrets::registered());
        let mut built = Vec::new();
        match (targets.sns_topic_arn, topic_api) {
            (Some(arn), Some(api)) => built.push(Target::new(
                format!("SNS topic {arn}"),
                Channel::Topic {
                    arn,
                    api: Box::new(api),
                },
            )),
            (Some(arn), None) => {
                tracing::warn!("no AWS connection to publish to SNS topic {arn}: skipping it")
            }
            (None, _) => {}
        }
        if let Some(hook) = targets.webhook {
            if let Some((_, value)) = &hook.header {
                secrets.push(value.clone());
                // "Bearer <token>", "Basic <credentials>": the part after the scheme is the
                // secret, and may show up alone.
                if let Some((_, token)) = value.trim().split_once(' ') {
                    secrets.push(token.trim().to_string());
                }
            }
            let label = webhook::label(&hook.url);
            match webhook::WebhookClient::new(&hook) {
                Ok(client) => built.push(Target::new(label, Channel::Webhook(Box::new(client)))),
                Err(error) => tracing::warn!("{label}: {error}: skipping it"),
            }
        }
        let workers = Mutex::new(built.iter().map(|_| None).collect());
        Notifier {
            targets: built,
            scrubber: Arc::new(Scrubber::new(secrets)),
            policy: DeliveryPolicy::DEFAULT,
            workers,
        }
    }

    /// A notifier that sends nothing (no `[notify]` table).
    pub fn disabled() -> Notifier {
        Notifier {
            targets: Vec::new(),
            scrubber: Arc::new(Scrubber::new(Vec::new())),
            policy: DeliveryPolicy::DEFAULT,
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the delivery policy; call before the first `send`.
    pub fn with_policy(mut self, policy: DeliveryPolicy) -> Notifier {
        self.policy = policy;
        self
    }

    /// Whether any target is set up.
    pub fn is_enabled(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Scrubs `notification` and queues it for every target; returns at once (no I/O). The
    /// deliveries run in the background; failures are logged with `tracing::warn!`.
    pub async fn send(&self, notification: Notification) {
        self.queue(notification);
    }

    /// [`Notifier::send`] from code that cannot await (an event callback). Needs a tokio
    /// runtime, like `send`.
    pub fn queue(&self, notification: Notification) {
        if self.targets.is_empty() {
            return;
        }
        let notification = self.scrubbed(notification);
        let json = match serde_json::to_string(&notification) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(
                    "could not encode the {} notification: {error}",
                    notification.event
                );
                return;
            }
        };
        let payload = Arc::new(Payload {
            event: notification.event,
            subject: text::subject(&notification),
            json,
        });
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        for (target, worker) in self.targets.iter().zip(workers.iter_mut()) {
            let worker = worker.get_or_insert_with(|| {
                Worker::start(target.clone(), self.scrubber.clone(), self.policy)
            });
            target.pending.fetch_add(1, Ordering::SeqCst);
            if worker.queue.send(payload.clone()).is_err() {
                // Only after the worker was given up on, which also took it out of `workers`.
                target.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Waits for the deliveries still queued or in flight, at most the policy's `finish_wait`
    /// (3 s by default), then gives them up with a warning per target. Call once at the end of
    /// a command, on its failing paths too: what is still queued when the runtime ends is lost.
    pub async fn finish(&self) {
        let workers: Vec<Worker> = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        if workers.is_empty() {
            return;
        }
        // Dropping the queues lets each worker end once it has delivered what it holds.
        let handles: Vec<JoinHandle<()>> = workers.into_iter().map(|worker| worker.task).collect();
        let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
        let all_done = futures_util::future::join_all(handles);
        if tokio::time::timeout(self.policy.finish_wait, all_done)
            .await
            .is_ok()
        {
            return;
        }
        aborts.iter().for_each(|task| task.abort());
        for target in &self.targets {
            let left = target.pending.swap(0, Ordering::SeqCst);
            if left > 0 {
                tracing::warn!(
                    "gave up on {left} notification(s) to {} still being delivered after {}",
                    target.label,
                    humantime::format_duration(self.policy.finish_wait)
                );
            }
        }
    }

    /// Every string field through the scrubber; destructured so that a new field cannot be
    /// forgotten here.
    fn scrubbed(&self, notification: Notification) -> Notification {
        let Notification {
            event,
            mut app,
            mut release,
            mut stack,
            mut account,
            mut region,
            weights,
            mut reason,
            mut at,
            mut text,
        } = notification;
        let scrubber = &self.scrubber;
        scrubber.scrub_string(&mut app);
        for field in [
            &mut release,
            &mut stack,
            &mut account,
            &mut region,
            &mut reason,
        ] {
            field
                .iter_mut()
                .for_each(|text| scrubber.scrub_string(text));
        }
        scrubber.scrub_string(&mut at);
        scrubber.scrub_string(&mut text);
        let weights = weights.map(|weights| {
            weights
                .into_iter()
                .map(|(mut stack, percent)| {
                    scrubber.scrub_string(&mut stack);
                    (stack, percent)
                })
                .collect()
        });
        Notification {
            event,
            app,
            release,
            stack,
            account,
            region,
            weights,
            reason,
            at,
            text,
        }
    }
}

/// One notification ready to go, shared by the targets.
struct Payload {
    event: EventKind,
    subject: String,
    json: String,
}

/// A destination with its delivery state.
struct Target {
    /// How logs name it; never a secret.
    label: String,
    channel: Channel,
    /// Set when the last delivery failed, cleared by the next success: a dead target then costs
    /// one short attempt per notification instead of three long ones.
    circuit_open: AtomicBool,
    /// Queued or being delivered: what `finish` reports when it gives up.
    pending: AtomicUsize,
}

enum Channel {
    Webhook(Box<webhook::WebhookClient>),
    Topic { arn: String, api: Box<dyn Publish> },
}

impl Target {
    fn new(label: String, channel: Channel) -> Arc<Target> {
        Arc::new(Target {
            label,
            channel,
            circuit_open: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
        })
    }

    async fn attempt(&self, payload: &Payload) -> Result<(), NotifyError> {
        match &self.channel {
            Channel::Webhook(client) => client.post(Bytes::from(payload.json.clone())).await,
            Channel::Topic { arn, api } => {
                Ok(api.publish(arn, &payload.subject, &payload.json).await?)
            }
        }
    }

    /// Attempts per the policy and the circuit; logs the failure.
    async fn deliver(&self, payload: &Payload, policy: &DeliveryPolicy, scrubber: &Scrubber) {
        let (attempts, limit) = if self.circuit_open.load(Ordering::SeqCst) {
            (1, policy.open_circuit_timeout)
        } else {
            (policy.attempts.max(1), policy.attempt_timeout)
        };
        let mut pause = policy.retry_pause;
        let mut attempt = 0;
        let failure = loop {
            attempt += 1;
            let error = match tokio::time::timeout(limit, self.attempt(payload)).await {
                Ok(Ok(())) => {
                    self.circuit_open.store(false, Ordering::SeqCst);
                    return;
                }
                Ok(Err(error)) => error,
                Err(_) => NotifyError::Timeout(limit),
            };
            if attempt >= attempts || !error.is_retryable() {
                break error;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        };
        let was_open = self.circuit_open.swap(true, Ordering::SeqCst);
        // The error can quote the target's answer, which may echo the token.
        let mut message = failure.to_string();
        scrubber.scrub_string(&mut message);
        let tries = if attempt == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempt} attempts")
        };
        let later = if was_open {
            ""
        } else {
            "; until it answers again, later notifications get one short attempt"
        };
        tracing::warn!(
            "could not deliver the {} notification to {} ({tries}): {message}{later}",
            payload.event,
            self.label
        );
    }
}

/// A target's background delivery: its queue and its task.
struct Worker {
    queue: mpsc::UnboundedSender<Arc<Payload>>,
    task: JoinHandle<()>,
}

impl Worker {
    fn start(target: Arc<Target>, scrubber: Arc<Scrubber>, policy: DeliveryPolicy) -> Worker {
        let (queue, mut inbox) = mpsc::unbounded_channel::<Arc<Payload>>();
        let task = tokio::spawn(async move {
            while let Some(payload) = inbox.recv().await {
                target.deliver(&payload, &policy, &scrubber).await;
                // Saturating: `finish` may have zeroed the count while this delivery ended.
                let _ = target
                    .pending
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            }
        });
        Worker { queue, task }
    }
}

/// [`TopicApi`] made object-safe, so that the notifier does not carry a type parameter.
trait Publish: Send + Sync {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), AwsError>> + Send + 'a>>;
}

impl<T: TopicApi + Send> Publish for T {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), AwsError>> + Send + 'a>> {
        Box::pin(TopicApi::publish(self, topic_arn, subject, message))
    }
}
