use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::aws::AwsErrorKind;

// ---------------------------------------------------------------------------------------------
// A local webhook: records every request, answers from a script.

#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16, &'static str),
    /// Answers 200 after this long.
    Slow(Duration),
    /// Reads the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Names in lower case.
    headers: BTreeMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    /// The n-th request gets `script[n]`, or the last entry once the script is used up.
    async fn start(script: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(request);
                        log.len() - 1
                    };
                    let reply = script.get(index).or(script.last()).copied();
                    let (status, body) = match reply {
                        Some(Reply::Status(status, body)) => (status, body),
                        Some(Reply::Slow(delay)) => {
                            tokio::time::sleep(delay).await;
                            (200, "ok")
                        }
                        Some(Reply::Hang) | None => std::future::pending().await,
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} Whatever\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Server {
            url: format!("http://{address}/services/T000/B000/SECRETPATH"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|window| window == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..read]);
    }
    Some(Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// A fake SNS topic.

#[derive(Default)]
struct FakeTopic {
    /// (topic ARN, subject, message) per successful publish.
    published: Mutex<Vec<(String, String, String)>>,
    /// Calls, failed ones included.
    calls: Mutex<usize>,
    /// Failures to return, one per call, before succeeding.
    failures: Mutex<VecDeque<AwsErrorKind>>,
}

impl FakeTopic {
    fn failing(failures: Vec<AwsErrorKind>) -> Arc<FakeTopic> {
        Arc::new(FakeTopic {
            failures: Mutex::new(failures.into()),
            ..FakeTopic::default()
        })
    }

    fn published(&self) -> Vec<(String, String, String)> {
        self.published.lock().unwrap().clone()
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl TopicApi for Arc<FakeTopic> {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        *self.calls.lock().unwrap() += 1;
        if let Some(kind) = self.failures.lock().unwrap().pop_front() {
            return Err(AwsError::new(
                format!("publish to SNS topic {topic_arn}"),
                kind,
            ));
        }
        self.published.lock().unwrap().push((
            topic_arn.to_string(),
            subject.to_string(),
            message.to_string(),
        ));
        Ok(())
    }
}

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deploys";

// ---------------------------------------------------------------------------------------------
// Captured warnings (the current-thread test runtime runs the workers on the test's thread, so
// a thread-local subscriber sees them).

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

fn capture_warnings() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

// ---------------------------------------------------------------------------------------------

/// Short enough for tests, same shape as the default.
fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        attempts: 3,
        attempt_timeout: Duration::from_millis(300),
        retry_pause: Duration::from_millis(10),
        open_circuit_timeout: Duration::from_millis(100),
        finish_wait: Duration::from_secs(2),
    }
}

const TOKEN: &str = "tok-0123456789abcdef";

fn to_webhook(url: &str) -> NotifyTargets {
    NotifyTargets {
        sns_topic_arn: None,
        webhook: Some(Webhook {
            url: url.to_string(),
            header: Some(("Authorization".into(), format!("Bearer {TOKEN}"))),
        }),
    }
}

fn webhook_notifier(url: &str) -> Notifier {
    Notifier::new(to_webhook(url), None, Vec::new()).with_policy(fast())
}

fn shifted_back() -> Notification {
    Notification::new(EventKind::ShiftedBack, "web")
        .release("r2")
        .stack("web-r1")
        .target(Some("123456789012".into()), Some("us-east-1".into()))
        .weights(BTreeMap::from([
            ("web-r1".to_string(), 100),
            ("web-r2".to_string(), 0),
        ]))
        .reason("gates failed: alarm web-5xx in ALARM")
}

#[tokio::test]
async fn the_webhook_gets_one_json_object_with_the_headers() {
    let server = Server::start(vec![Reply::Status(200, "ok")]).await;
    let notifier = webhook_notifier(&server.url);
    let notification = shifted_back();
    notifier.send(notification.clone()).await;
    notifier.finish().await;

    let received = server.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/services/T000/B000/SECRETPATH");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.headers["user-agent"],
        format!("cutover/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.headers["authorization"], format!("Bearer {TOKEN}"));
    let body = request.json();
    assert_eq!(
        body,
        serde_json::json!({
            "event": "shifted_back",
            "app": "web",
            "release": "r2",
            "stack": "web-r1",
            "account": "123456789012",
            "region": "us-east-1",
            "weights": {"web-r1": 100, "web-r2": 0},
            "reason": "gates failed: alarm web-5xx in ALARM",
            "at": notification.at,
            "text": "web r2: shifted back to web-r1 (gates failed: alarm web-5xx in ALARM) in 123456789012/us-east-1",
        })
    );
    // One JSON object, fields in declaration order (consumers may read it as a stream).
    assert!(request
        .body
        .starts_with("{\"event\":\"shifted_back\",\"app\":\"web\""));
    assert!(humantime::parse_rfc3339(&notification.at).is_ok());
    assert!(notification.at.ends_with('Z'), "{}", notification.at);
}

#[tokio::test]
async fn a_500_is_retried_and_the_next_2xx_counts() {
    let server = Server::start(vec![Reply::Status(500, "oops"), Reply::Status(204, "")]).await;
    let (logs, _guard) = capture_warnings();
    let notifier = webhook_notifier(&server.url);
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(server.count(), 2);
    assert_eq!(
        logs.text(),
        "",
        "a delivery that succeeded is not a warning"
    );
}

#[tokio::test]
async fn a_failing_webhook_gets_three_attempts_then_one_while_its_circuit_is_open() {
    let server = Server::start(vec![Reply::Status(503, "down")]).await;
    let (logs, _guard) = capture_warnings();
    let notifier = webhook_notifier(&server.url);
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(server.count(), 3);
    notifier
        .send(Notification::new(EventKind::DeployFailed, "web"))
        .await;
    notifier.finish().await;
    assert_eq!(server.count(), 4, "one attempt while the circuit is open");
    let logs = logs.text();
    assert!(
        logs.contains(
            "could not deliver the shifted_back notification to webhook http://127.0.0.1:"
        ) && logs.contains("(3 attempts): status 503: down; until it answers again"),
        "{logs}"
    );
    assert!(
        logs.contains("could not deliver the deploy_failed notification")
            && logs.contains("(1 attempt): status 503: down\n"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_success_closes_the_circuit() {
    let fail = Reply::Status(500, "");
    let ok = Reply::Status(200, "");
    // First: three failures. Second: one attempt, which succeeds. Third: full retries again.
    let server = Server::start(vec![fail, fail, fail, ok, fail, ok]).await;
    let notifier = webhook_notifier(&server.url);
    for _ in 0..3 {
        notifier.send(shifted_back()).await;
    }
    notifier.finish().await;
    assert_eq!(server.count(), 6);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_the_warning_shows_no_secret() {
    // A server that echoes what it got, token included.
    let server = Server::start(vec![Reply::Status(
        401,
        "invalid_token: Bearer tok-0123456789abcdef",
    )])
    .await;
    let (logs, _guard) = capture_warnings();
    let notifier = webhook_notifier(&server.url);
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(server.count(), 1);
    let logs = logs.text();
    assert!(
        logs.contains("(1 attempt): status 401: invalid_token: ****"),
        "{logs}"
    );
    assert!(!logs.contains(TOKEN), "{logs}");
    assert!(!logs.contains("SECRETPATH"), "{logs}");
    assert!(!format!("{notifier:?}").contains("SECRETPATH"));
}

#[tokio::test]
async fn notifications_arrive_in_the_order_they_were_sent() {
    let server = Server::start(vec![Reply::Status(200, "")]).await;
    let notifier = webhook_notifier(&server.url);
    let kinds = [
        EventKind::DeployStarted,
        EventKind::TrafficStep,
        EventKind::TrafficStep,
        EventKind::DeploySucceeded,
        EventKind::ReleaseRetired,
    ];
    for kind in kinds {
        notifier.send(Notification::new(kind, "web")).await;
    }
    notifier.finish().await;
    let events: Vec<String> = server
        .received()
        .iter()
        .map(|request| request.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, kinds.map(|kind| kind.as_str().to_string()).to_vec());
}

/// The requirement: with the webhook down, a deploy (about five notifications) takes less than
/// 5 s longer. Real default timeouts, a webhook that accepts and never answers.
#[tokio::test]
async fn a_webhook_that_never_answers_adds_at_most_the_finish_wait() {
    let server = Server::start(vec![Reply::Hang]).await;
    let topic = Arc::new(FakeTopic::default());
    let (logs, _guard) = capture_warnings();
    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        ..to_webhook(&server.url)
    };
    let notifier = Notifier::with_topic_api(targets, Some(topic.clone()), Vec::new());
    assert_eq!(notifier.policy, DeliveryPolicy::DEFAULT);
    let started = Instant::now();
    for kind in [
        EventKind::DeployStarted,
        EventKind::TrafficStep,
        EventKind::TrafficStep,
        EventKind::DeploySucceeded,
        EventKind::ReleaseRetired,
    ] {
        notifier.send(Notification::new(kind, "web")).await;
    }
    let sending = started.elapsed();
    notifier.finish().await;
    let total = started.elapsed();

    assert!(
        sending < Duration::from_millis(100),
        "send queued only: {sending:?}"
    );
    assert!(
        total < MAX_ADDED_TIME + Duration::from_millis(500),
        "took {total:?}"
    );
    assert!(total < Duration::from_secs(5));
    assert!(server.count() >= 1, "the webhook was tried");
    assert_eq!(
        topic.published().len(),
        5,
        "the topic is not held up by the webhook"
    );
    let logs = logs.text();
    assert!(
        logs.contains("gave up on 5 notification(s) to webhook http://127.0.0.1:")
            && logs.contains("still being delivered after 3s"),
        "{logs}"
    );
}

#[tokio::test]
async fn finish_gives_up_at_a_short_finish_wait_too() {
    let server = Server::start(vec![Reply::Hang]).await;
    let notifier =
        Notifier::new(to_webhook(&server.url), None, Vec::new()).with_policy(DeliveryPolicy {
            finish_wait: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(10),
            ..fast()
        });
    notifier.send(shifted_back()).await;
    let started = Instant::now();
    notifier.finish().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(700),
        "{waited:?}"
    );
    assert_eq!(notifier.targets[0].pending.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn finish_waits_for_a_slow_but_live_webhook() {
    let server = Server::start(vec![Reply::Slow(Duration::from_millis(300))]).await;
    let (logs, _guard) = capture_warnings();
    let notifier = webhook_notifier(&server.url).with_policy(DeliveryPolicy {
        attempt_timeout: Duration::from_secs(1),
        ..fast()
    });
    let started = Instant::now();
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.count(), 1);
    assert_eq!(notifier.targets[0].pending.load(Ordering::SeqCst), 0);
    assert_eq!(logs.text(), "");
}

#[tokio::test]
async fn secrets_and_the_webhook_token_are_scrubbed_from_every_field() {
    const NOECHO: &str = "hunter2-db-password";
    let server = Server::start(vec![Reply::Status(200, "")]).await;
    let topic = Arc::new(FakeTopic::default());
    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        ..to_webhook(&server.url)
    };
    let notifier = Notifier::with_topic_api(targets, Some(topic.clone()), vec![NOECHO.into()])
        .with_policy(fast());
    let mut notification = Notification::new(EventKind::DeployFailed, &format!("web-{NOECHO}"))
        .release(format!("r2-{TOKEN}"))
        .stack(format!("web-{NOECHO}"))
        .target(
            Some(format!("acct-{TOKEN}")),
            Some(format!("region-{NOECHO}")),
        )
        .weights(BTreeMap::from([(format!("web-{TOKEN}"), 100)]))
        .reason(format!(
            "password {NOECHO} and header Bearer {TOKEN} in the output"
        ));
    notification.at = format!("at-{NOECHO}");
    assert!(notification.text.contains(NOECHO) && notification.text.contains(TOKEN));
    notifier.send(notification).await;
    notifier.finish().await;

    let received = server.received();
    assert_eq!(received.len(), 1);
    let (_, subject, message) = topic.published().pop().expect("published");
    for sent in [&received[0].body, &subject, &message] {
        assert!(!sent.contains(NOECHO), "{sent}");
        assert!(!sent.contains(TOKEN), "{sent}");
        assert!(sent.contains("****"), "{sent}");
    }
    let body = received[0].json();
    for field in [
        "app", "release", "stack", "account", "region", "reason", "at", "text",
    ] {
        let value = body[field].as_str().unwrap();
        assert!(value.contains("****"), "{field}: {value}");
    }
    assert_eq!(body["weights"], serde_json::json!({"web-****": 100}));
    assert_eq!(body["app"], "web-****");
    // Only the notification is scrubbed: the header still carries the token.
    assert_eq!(
        received[0].headers["authorization"],
        format!("Bearer {TOKEN}")
    );
}

#[tokio::test]
async fn the_disabled_notifier_sends_nothing() {
    let notifier = Notifier::disabled();
    assert!(!notifier.is_enabled());
    let started = Instant::now();
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert!(started.elapsed() < Duration::from_millis(50));

    // A topic client without a topic ARN sends nothing either; with one, it does.
    let topic = Arc::new(FakeTopic::default());
    let notifier =
        Notifier::with_topic_api(NotifyTargets::default(), Some(topic.clone()), Vec::new());
    assert!(!notifier.is_enabled());
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(topic.calls(), 0);

    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        webhook: None,
    };
    let notifier = Notifier::with_topic_api(targets, Some(topic.clone()), Vec::new());
    assert!(notifier.is_enabled());
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(topic.calls(), 1);
}

#[tokio::test]
async fn sns_gets_the_json_with_a_short_subject() {
    let topic = Arc::new(FakeTopic::default());
    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        webhook: None,
    };
    let notifier = Notifier::with_topic_api(targets, Some(topic.clone()), Vec::new());
    let notification = shifted_back();
    notifier.send(notification.clone()).await;
    notifier.finish().await;
    let published = topic.published();
    assert_eq!(published.len(), 1);
    let (arn, subject, message) = &published[0];
    assert_eq!(arn, TOPIC);
    assert_eq!(subject, "cutover: web r2 shifted back");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(message).unwrap(),
        serde_json::to_value(&notification).unwrap()
    );
}

#[tokio::test]
async fn sns_throttling_is_retried_and_a_refusal_is_not() {
    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        webhook: None,
    };
    let throttled = FakeTopic::failing(vec![AwsErrorKind::Throttled {
        message: "Rate exceeded".into(),
    }]);
    let notifier = Notifier::with_topic_api(targets.clone(), Some(throttled.clone()), Vec::new())
        .with_policy(fast());
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(throttled.calls(), 2);
    assert_eq!(throttled.published().len(), 1);

    let (logs, _guard) = capture_warnings();
    let refused = FakeTopic::failing(vec![AwsErrorKind::Rejected {
        code: "AuthorizationError".into(),
        message: "not authorized to perform SNS:Publish".into(),
    }]);
    let notifier =
        Notifier::with_topic_api(targets, Some(refused.clone()), Vec::new()).with_policy(fast());
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    assert_eq!(refused.calls(), 1);
    assert!(refused.published().is_empty());
    let logs = logs.text();
    assert!(
        logs.contains(&format!("could not deliver the shifted_back notification to SNS topic {TOPIC} (1 attempt): publish to SNS topic {TOPIC}: AuthorizationError: not authorized")),
        "{logs}"
    );
}

#[tokio::test]
async fn a_topic_that_never_answers_times_out_per_attempt() {
    struct Stuck;
    impl TopicApi for Stuck {
        async fn publish(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
            std::future::pending().await
        }
    }
    let targets = NotifyTargets {
        sns_topic_arn: Some(TOPIC.into()),
        webhook: None,
    };
    let (logs, _guard) = capture_warnings();
    let notifier =
        Notifier::with_topic_api(targets, Some(Stuck), Vec::new()).with_policy(DeliveryPolicy {
            attempt_timeout: Duration::from_millis(50),
            ..fast()
        });
    let started = Instant::now();
    notifier.send(shifted_back()).await;
    notifier.finish().await;
    // 3 × 50 ms + 10 ms + 20 ms of pauses.
    assert!(started.elapsed() < Duration::from_millis(600));
    assert!(
        logs.text().contains("(3 attempts): no answer within 50ms"),
        "{}",
        logs.text()
    );
}

#[test]
fn the_text_of_each_kind_reads_as_a_sentence() {
    let place = |notification: Notification| {
        notification.target(Some("123456789012".into()), Some("us-east-1".into()))
    };
    let text = |notification: Notification| place(notification).text;
    assert_eq!(
        text(
            Notification::new(EventKind::DeployStarted, "web")
                .release("r2")
                .stack("web-r2")
        ),
        "web r2: deploy started as stack web-r2 in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::TrafficStep, "web")
                .release("r2")
                .weights(BTreeMap::from([
                    ("web-r1".to_string(), 90),
                    ("web-r2".to_string(), 10)
                ]))
        ),
        "web r2: traffic now web-r1 90%, web-r2 10% in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::TrafficStep, "web")
                .release("r10")
                .weights(BTreeMap::from([
                    ("web-r10".to_string(), 75),
                    ("web-r9".to_string(), 25)
                ]))
        ),
        "web r10: traffic now web-r10 75%, web-r9 25% in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::DeploySucceeded, "web")
                .release("r2")
                .stack("web-r2")
        ),
        "web r2: deployed, all traffic on web-r2 in 123456789012/us-east-1"
    );
    assert_eq!(
        shifted_back().text,
        "web r2: shifted back to web-r1 (gates failed: alarm web-5xx in ALARM) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::DeployFailed, "web")
                .release("r2")
                .reason("stack web-r2 CREATE_FAILED:\n  Instance: capacity\n\n  Role: denied\n")
        ),
        "web r2: deploy failed (stack web-r2 CREATE_FAILED:; Instance: capacity; Role: denied) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::RollbackDone, "web")
                .release("r1")
                .stack("web-r1")
                .reason("requested by alice")
        ),
        "web r1: rolled back to web-r1 (requested by alice) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::ReleaseRetired, "web")
                .release("r1")
                .stack("web-r1")
        ),
        "web r1: retired, stack web-r1 deleted in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::RetirementFailed, "web")
                .release("r1")
                .stack("web-r1")
                .reason("DELETE_FAILED: bucket not empty")
        ),
        "web r1: retirement failed for stack web-r1 (DELETE_FAILED: bucket not empty) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::RotateSummary, "web")
                .reason("retired r1, r2; kept r3, r4")
        ),
        "web: rotation done: retired r1, r2; kept r3, r4 in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::ReleaseHeld, "web")
                .release("r2")
                .stack("web-r2")
                .reason("requests with `x-canary: web-r2` reach it")
        ),
        "web r2: held on its test route (requests with `x-canary: web-r2` reach it) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::ReleaseAborted, "web")
                .release("r2")
                .stack("web-r2")
                .reason("given up before taking production traffic")
        ),
        "web r2: aborted (given up before taking production traffic) in 123456789012/us-east-1"
    );
    assert_eq!(
        text(
            Notification::new(EventKind::RollbackFailed, "web")
                .release("r1")
                .stack("web-r1")
                .reason("gates failed: alarm web-5xx in ALARM")
        ),
        "web r1: rollback to web-r1 failed (gates failed: alarm web-5xx in ALARM) in 123456789012/us-east-1"
    );
    // Bare: only what is known.
    assert_eq!(
        Notification::new(EventKind::DeployFailed, "web").text,
        "web: deploy failed"
    );
    assert_eq!(
        Notification::new(EventKind::ShiftedBack, "web")
            .target(None, Some("eu-west-1".into()))
            .text,
        "web: shifted back in eu-west-1"
    );
    assert_eq!(
        Notification::new(EventKind::TrafficStep, "web")
            .target(Some("123456789012".into()), None)
            .text,
        "web: traffic step in account 123456789012"
    );
}

#[test]
fn a_long_reason_is_cut_in_the_text_but_kept_whole_in_the_field() {
    let reason = "x".repeat(1000);
    let notification = Notification::new(EventKind::DeployFailed, "web").reason(reason.clone());
    assert_eq!(notification.reason.as_deref(), Some(reason.as_str()));
    let expected = format!("web: deploy failed ({}…)", "x".repeat(299));
    assert_eq!(notification.text, expected);
}

#[test]
fn the_subject_fits_sns() {
    let notification = Notification::new(EventKind::RetirementFailed, &"a".repeat(200));
    let subject = text::subject(&notification);
    assert_eq!(subject.chars().count(), text::MAX_SUBJECT_CHARS);
    assert!(subject.starts_with("cutover: aaa") && subject.ends_with('…'));

    let notification = Notification::new(EventKind::RollbackDone, "web\napp\t1");
    assert_eq!(
        text::subject(&notification),
        "cutover: web app 1 rolled back"
    );
}

#[test]
fn events_serialize_in_snake_case_like_as_str() {
    for kind in [
        EventKind::DeployStarted,
        EventKind::TrafficStep,
        EventKind::DeploySucceeded,
        EventKind::ShiftedBack,
        EventKind::DeployFailed,
        EventKind::RollbackDone,
        EventKind::ReleaseRetired,
        EventKind::RetirementFailed,
        EventKind::RotateSummary,
        EventKind::ReleaseHeld,
        EventKind::ReleaseAborted,
        EventKind::RollbackFailed,
    ] {
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::json!(kind.as_str())
        );
    }
    assert_eq!(EventKind::RotateSummary.as_str(), "rotate_summary");
}

#[test]
fn webhooks_are_checked_without_repeating_secrets() {
    let hook = |url: &str, header: Option<(&str, &str)>| Webhook {
        url: url.to_string(),
        header: header.map(|(name, value)| (name.to_string(), value.to_string())),
    };
    assert!(hook(
        "https://hooks.example.com/T0/SECRETPATH",
        Some(("Authorization", "Bearer t"))
    )
    .check()
    .is_ok());
    for (bad, expected) in [
        (hook("ftp://example.com/SECRETPATH", None), "the webhook URL is not usable: it must start with http:// or https:// and name a host"),
        (hook("/SECRETPATH", None), "the webhook URL is not usable: it must start with http:// or https:// and name a host"),
        (hook("http://exa mple.com/SECRETPATH", None), "the webhook URL is not usable: invalid uri character"),
        (hook("https://example.com/", Some(("Bad Name", "x"))), "the webhook header name \"Bad Name\" is not a valid HTTP header name"),
        (hook("https://example.com/", Some(("Authorization", "Bearer SECRET\nX-Evil: 1"))), "the value of the webhook header authorization cannot be sent in HTTP (line breaks or control characters)"),
    ] {
        let error = bad.check().expect_err("refused");
        assert_eq!(error.to_string(), expected);
        assert!(error.hint().is_some());
    }
    let debug = format!(
        "{:?}",
        hook(
            "https://user:pw@hooks.example.com:8443/SECRETPATH",
            Some(("Authorization", "Bearer SECRET"))
        )
    );
    assert_eq!(
        debug,
        "Webhook { url: \"webhook https://hooks.example.com:8443\", header: Some((\"Authorization\", \"****\")) }"
    );
}

#[tokio::test]
async fn a_bad_webhook_is_skipped_with_a_warning() {
    let (logs, _guard) = capture_warnings();
    let notifier = Notifier::new(to_webhook("ftp://example.com/SECRETPATH"), None, Vec::new());
    assert!(!notifier.is_enabled());
    let logs = logs.text();
    assert!(
        logs.contains("webhook ftp://example.com: the webhook URL is not usable"),
        "{logs}"
    );
    assert!(!logs.contains("SECRETPATH"));
}
