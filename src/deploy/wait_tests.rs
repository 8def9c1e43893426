use std::time::Duration;

use super::*;
use crate::aws::cloudformation::{CreateStackRequest, StackApi, TemplateSource};
use crate::deploy::fake::{at, Change, FakeStackApi};

#[derive(Default)]
struct Recorded {
    lines: Vec<String>,
    statuses: Vec<String>,
    finished: bool,
}

impl WaitDisplay for Recorded {
    fn event(&mut self, _stack: &str, event: &StackEvent) {
        self.lines.push(format!(
            "{} {} {}",
            event.logical_id,
            event.status,
            event.reason.as_deref().unwrap_or("")
        ));
    }
    fn status(&mut self, _stack: &str, status: &str) {
        self.statuses.push(status.to_string());
    }
    fn finish(&mut self) {
        self.finished = true;
    }
}

fn request(name: &str) -> CreateStackRequest {
    CreateStackRequest {
        name: name.into(),
        template: TemplateSource::Body("{}".into()),
        parameters: Vec::new(),
        tags: Vec::new(),
        capabilities: Vec::new(),
        termination_protection: false,
        rollback_alarm_arns: Vec::new(),
        rollback_monitoring_minutes: None,
        client_request_token: format!("token-{name}"),
        timeout_minutes: None,
    }
}

const SG: &str = "AWS::EC2::SecurityGroup";
const INSTANCE: &str = "AWS::EC2::Instance";

#[tokio::test(start_paused = true)]
async fn streams_events_oldest_first_and_succeeds() {
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(
            0,
            Change::Status("CREATE_IN_PROGRESS", Some("User Initiated")),
        ),
        at(5, Change::Resource("WebSg", SG, "CREATE_IN_PROGRESS", None)),
        at(
            5,
            Change::Resource("Web", INSTANCE, "CREATE_IN_PROGRESS", None),
        ),
        at(40, Change::Resource("WebSg", SG, "CREATE_COMPLETE", None)),
        at(
            90,
            Change::Resource("Web", INSTANCE, "CREATE_COMPLETE", None),
        ),
        at(95, Change::Status("CREATE_COMPLETE", None)),
    ]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let mut display = Recorded::default();
    let started = Instant::now();
    let outcome = StackWatch::new(&api, &id, "web-r1")
        .wait(Operation::Create, Duration::from_secs(1800), &mut display)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Succeeded(ref facts) if facts.status == "CREATE_COMPLETE"));
    assert_eq!(
        display.lines,
        [
            "web-r1 CREATE_IN_PROGRESS User Initiated",
            "WebSg CREATE_IN_PROGRESS ",
            "Web CREATE_IN_PROGRESS ",
            "WebSg CREATE_COMPLETE ",
            "Web CREATE_COMPLETE ",
            "web-r1 CREATE_COMPLETE ",
        ]
    );
    assert_eq!(display.statuses, ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]);
    assert!(display.finished);
    // Polling backs off to at most 15 s between looks, so the end is seen within 15 s.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(95) && waited <= Duration::from_secs(110),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn backs_off_while_nothing_changes_and_resets_on_new_events() {
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(
            100,
            Change::Resource("Web", INSTANCE, "CREATE_IN_PROGRESS", None),
        ),
        at(110, Change::Status("CREATE_COMPLETE", None)),
    ]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let started = Instant::now();
    StackWatch::new(&api, &id, "web-r1")
        .wait(
            Operation::Create,
            Duration::from_secs(1800),
            &mut Recorded::default(),
        )
        .await
        .unwrap();
    let polls = api
        .calls()
        .iter()
        .filter(|call| call.starts_with("describe_stack"))
        .count();
    // 1 s polls would make 100+ calls; the back-off (1, 1.5, 2.25, … 15) makes about a dozen.
    assert!((8..=16).contains(&polls), "{polls} polls");
    // Looks at 92.2 s and 107.2 s (15 s apart by then); the event seen at 107.2 s makes the
    // cadence quick again, so the end at 110 s is seen at 111.9 s, not at the next 15 s look.
    let waited = started.elapsed();
    assert!(waited <= Duration::from_secs(113), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn throttled_and_failing_polls_do_not_fail_the_wait() {
    let api = FakeStackApi::new();
    api.fail_calls(|number, operation| {
        if operation == "create_stack" {
            return None;
        }
        match number % 4 {
            1 => Some(AwsErrorKind::Throttled {
                message: "Rate exceeded".into(),
            }),
            2 => Some(AwsErrorKind::Other {
                message: "unreadable reply".into(),
            }),
            _ => None,
        }
    });
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let mut display = Recorded::default();
    let outcome = StackWatch::new(&api, &id, "web-r1")
        .wait(Operation::Create, Duration::from_secs(600), &mut display)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Succeeded(_)));
    // Every event shown exactly once despite the failed polls.
    assert_eq!(display.lines.len(), 4, "{:?}", display.lines);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_ends_the_wait_with_the_error() {
    let api = FakeStackApi::new();
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    api.fail_calls(|_, _| {
        Some(AwsErrorKind::Rejected {
            code: "AccessDenied".into(),
            message: "not allowed".into(),
        })
    });
    let error = StackWatch::new(&api, &id, "web-r1")
        .wait(
            Operation::Create,
            Duration::from_secs(600),
            &mut Recorded::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, WaitError::Aws { .. }), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn root_cause_is_the_first_failed_resource_not_the_last_event() {
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(
            0,
            Change::Status("CREATE_IN_PROGRESS", Some("User Initiated")),
        ),
        at(2, Change::Resource("WebSg", SG, "CREATE_IN_PROGRESS", None)),
        at(
            2,
            Change::Resource("Web", INSTANCE, "CREATE_IN_PROGRESS", None),
        ),
        at(
            4,
            Change::Resource(
                "WebSg",
                SG,
                "CREATE_FAILED",
                Some("The security group 'x' already exists"),
            ),
        ),
        at(
            5,
            Change::Resource(
                "Web",
                INSTANCE,
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
        ),
        at(
            5,
            Change::Status(
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [WebSg, Web]."),
            ),
        ),
        at(
            9,
            Change::Resource(
                "Web",
                INSTANCE,
                "DELETE_FAILED",
                Some("later trouble during rollback"),
            ),
        ),
        at(12, Change::Status("ROLLBACK_COMPLETE", None)),
    ]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let outcome = StackWatch::new(&api, &id, "web-r1")
        .wait(
            Operation::Create,
            Duration::from_secs(600),
            &mut Recorded::default(),
        )
        .await
        .unwrap();
    let Outcome::Failed(failure) = outcome else {
        panic!("expected a failure: {outcome:?}")
    };
    assert_eq!(failure.stack.status, "ROLLBACK_COMPLETE");
    let cause = failure.root_cause.clone().unwrap();
    assert_eq!(
        (cause.logical_id.as_str(), cause.status.as_str()),
        ("WebSg", "CREATE_FAILED")
    );
    assert_eq!(
        failure.explanation(),
        "WebSg (AWS::EC2::SecurityGroup) CREATE_FAILED: The security group 'x' already exists"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_failed_resource_the_stack_reason_explains() {
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(
            3,
            Change::Status("CREATE_FAILED", Some("Template format error")),
        ),
    ]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let Outcome::Failed(failure) = StackWatch::new(&api, &id, "web-r1")
        .wait(
            Operation::Create,
            Duration::from_secs(600),
            &mut Recorded::default(),
        )
        .await
        .unwrap()
    else {
        panic!("expected a failure")
    };
    assert_eq!(failure.root_cause.as_ref().unwrap().logical_id, "web-r1");
    assert!(
        failure.explanation().contains("Template format error"),
        "{}",
        failure.explanation()
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_says_the_stack_is_still_in_progress() {
    let api = FakeStackApi::new();
    api.script_create(vec![at(0, Change::Status("CREATE_IN_PROGRESS", None))]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let started = Instant::now();
    let error = StackWatch::new(&api, &id, "web-r1")
        .wait(
            Operation::Create,
            Duration::from_secs(120),
            &mut Recorded::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(120));
    assert_eq!(
        error.to_string(),
        "gave up waiting for the creation of stack web-r1 after 2m: it is still CREATE_IN_PROGRESS"
    );
    assert!(error.hint().unwrap().contains("--timeout"));
}

#[tokio::test(start_paused = true)]
async fn a_second_wait_on_the_same_stack_shows_only_new_events() {
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(
            1,
            Change::Resource("Web", INSTANCE, "CREATE_FAILED", Some("capacity")),
        ),
        at(2, Change::Status("ROLLBACK_COMPLETE", None)),
    ]);
    api.script_delete(vec![
        at(0, Change::Status("DELETE_IN_PROGRESS", None)),
        at(
            4,
            Change::Resource(
                "Bucket",
                "AWS::S3::Bucket",
                "DELETE_FAILED",
                Some("bucket not empty"),
            ),
        ),
        at(
            5,
            Change::Status("DELETE_FAILED", Some("resources failed to delete")),
        ),
    ]);
    let id = api.create_stack(&request("web-r1")).await.unwrap();
    let mut watch = StackWatch::new(&api, &id, "web-r1");
    let mut display = Recorded::default();
    watch
        .wait(Operation::Create, Duration::from_secs(60), &mut display)
        .await
        .unwrap();
    api.delete_stack(&id).await.unwrap();
    let mut after = Recorded::default();
    let Outcome::Failed(failure) = watch
        .wait(Operation::Delete, Duration::from_secs(60), &mut after)
        .await
        .unwrap()
    else {
        panic!("expected DELETE_FAILED")
    };
    assert_eq!(after.lines.len(), 3, "{:?}", after.lines);
    assert_eq!(failure.root_cause.unwrap().logical_id, "Bucket");
}
