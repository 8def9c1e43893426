use std::time::{Duration, SystemTime};

use indexmap::IndexMap;

use super::*;
use crate::aws::cloudformation::StackEvent;
use crate::aws::{AwsError, AwsErrorKind};
use crate::deploy::fake::{at, Change, FakeStackApi};
use crate::deploy::plan::{self, CandidateOptions, Plan};
use crate::error::Diagnostic;
use crate::release::params::{
    ImageCatalog, ImageFacts, ParameterStore, Sources, StackOutputs, StoredParameter,
};
use crate::spec::{AmiQuery, AppSpec};

const TEMPLATE: &str = r#"
Parameters:
  InstanceType: {Type: String}
  DbPassword: {Type: String, NoEcho: true}
  Size: {Type: Number, Default: 1}
Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: web}
"#;

const SPEC: &str = r#"
template = "../templates/web.yaml"
[parameters]
InstanceType = "t3.micro"
DbPassword = "hunter2"
[tags]
team = "storefront"
[stack]
termination_protection = true
timeout = "10m"
[router]
kind = "alb"
listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/base/1/2"
target_group_output = "TargetGroupArn"
"#;

/// The remote sources are never asked: the spec uses literals only.
struct NoRemote;

fn refused() -> AwsError {
    AwsError::new(
        "look up",
        AwsErrorKind::Other {
            message: "not in this test".into(),
        },
    )
}

impl ParameterStore for NoRemote {
    async fn get_parameter(&self, _name: &str) -> Result<Option<StoredParameter>, AwsError> {
        Err(refused())
    }
}

impl ImageCatalog for NoRemote {
    async fn find_images(&self, _query: &AmiQuery) -> Result<Vec<ImageFacts>, AwsError> {
        Err(refused())
    }
}

impl StackOutputs for NoRemote {
    async fn stack_outputs(
        &self,
        _stack: &str,
    ) -> Result<Option<IndexMap<String, String>>, AwsError> {
        Err(refused())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    spec: AppSpec,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/web.yaml"), TEMPLATE).unwrap();
    std::fs::write(dir.path().join("stacks/web.toml"), SPEC).unwrap();
    let spec = crate::spec::load_app(&dir.path().join("stacks"), "web").unwrap();
    Fixture { _dir: dir, spec }
}

async fn plan_for(fixture: &Fixture, release: &str) -> Plan {
    let template = crate::template::load_file(&fixture.spec.template).unwrap();
    let options = CandidateOptions {
        release: Some(release.into()),
        ..CandidateOptions::default()
    };
    let candidate = plan::prepare(&fixture.spec, template, &options, SystemTime::now()).unwrap();
    let env = |_: &str| None;
    let sources = Sources {
        parameters: &NoRemote,
        images: &NoRemote,
        stacks: &NoRemote,
        env: &env,
    };
    let parameters = sources
        .resolve_parameters(&fixture.spec, &candidate.template)
        .await
        .unwrap();
    Plan::new(&fixture.spec, candidate, parameters, Vec::new(), None)
}

struct Quiet;

impl WaitDisplay for Quiet {
    fn event(&mut self, _stack: &str, _event: &StackEvent) {}
    fn status(&mut self, _stack: &str, _status: &str) {}
    fn finish(&mut self) {}
}

fn body(plan: &Plan) -> TemplateSource {
    TemplateSource::Body(plan.candidate.template.body.clone())
}

#[tokio::test(start_paused = true)]
async fn a_healthy_stack_is_handed_back_with_its_outputs() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    let healthy = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .unwrap();
    assert_eq!(healthy.stack.name, "web-r1");
    assert_eq!(healthy.stack.status, "CREATE_COMPLETE");
    assert_eq!(healthy.stack.output("Url"), Some("http://web-r1.example"));

    let request = &api.created_requests()[0];
    assert_eq!(
        request.parameters,
        [
            ("InstanceType".to_string(), "t3.micro".to_string()),
            ("DbPassword".into(), "hunter2".into())
        ]
    );
    let keys: Vec<&str> = request.tags.iter().map(|(key, _)| key.as_str()).collect();
    for key in [
        "team",
        "cutover:app",
        "cutover:release",
        "cutover:created",
        "cutover:template-sha256",
        "cutover:role",
        "cutover:tool-version",
    ] {
        assert!(keys.contains(&key), "tag {key} missing from {keys:?}");
    }
    assert!(request.termination_protection);
    assert_eq!(request.timeout_minutes, Some(10));
    assert!(request.client_request_token.starts_with("cutover-"));
    assert!(!api
        .calls()
        .iter()
        .any(|call| call.starts_with("delete_stack")));
}

#[tokio::test(start_paused = true)]
async fn the_token_depends_on_stack_and_template_only() {
    let fixture = fixture();
    let first = plan_for(&fixture, "r1").await;
    let again = plan_for(&fixture, "r1").await;
    let other = plan_for(&fixture, "r2").await;
    assert_eq!(first.client_request_token(), again.client_request_token());
    assert_ne!(first.client_request_token(), other.client_request_token());
    assert!(first.client_request_token().len() <= 128);
}

#[tokio::test(start_paused = true)]
async fn a_failed_stack_is_explained_and_deleted() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(
            2,
            Change::Resource(
                "WebSg",
                "AWS::EC2::SecurityGroup",
                "CREATE_FAILED",
                Some("quota exceeded"),
            ),
        ),
        at(
            3,
            Change::Status(
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [WebSg]."),
            ),
        ),
        at(6, Change::Status("ROLLBACK_COMPLETE", None)),
    ]);
    let error = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .unwrap_err();
    let DeployError::CreateFailed {
        cause,
        status,
        cleanup,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(status, "ROLLBACK_COMPLETE");
    assert_eq!(
        cause,
        "WebSg (AWS::EC2::SecurityGroup) CREATE_FAILED: quota exceeded"
    );
    assert_eq!(cleanup, &Cleanup::Deleted);
    assert_eq!(error.exit(), crate::error::Exit::Changes);
    let calls = api.calls();
    // Termination protection is lifted before the delete, and the delete is waited for.
    let lift = calls
        .iter()
        .position(|c| c.starts_with("set_termination_protection"))
        .unwrap();
    let delete = calls
        .iter()
        .position(|c| c.starts_with("delete_stack"))
        .unwrap();
    assert!(lift < delete);
    assert!(
        api.describe_stack("web-r1").await.unwrap().is_none(),
        "deleted stacks are gone by name"
    );
}

#[tokio::test(start_paused = true)]
async fn keep_failed_leaves_the_stack() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(
            2,
            Change::Resource(
                "WebSg",
                "AWS::EC2::SecurityGroup",
                "CREATE_FAILED",
                Some("quota exceeded"),
            ),
        ),
        at(3, Change::Status("CREATE_FAILED", None)),
    ]);
    let error = create_and_wait(&api, &plan, body(&plan), true, &mut Quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DeployError::CreateFailed {
                cleanup: Cleanup::Kept,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!api
        .calls()
        .iter()
        .any(|call| call.starts_with("delete_stack")));
    assert_eq!(
        api.describe_stack("web-r1").await.unwrap().unwrap().status,
        "CREATE_FAILED"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_deletes_the_unfinished_stack_and_exits_1() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    api.script_create(vec![at(0, Change::Status("CREATE_IN_PROGRESS", None))]);
    let error = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .unwrap_err();
    let DeployError::TimedOut {
        waited,
        status,
        cleanup,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*waited, Duration::from_secs(600));
    assert_eq!(status, "CREATE_IN_PROGRESS");
    assert_eq!(cleanup, &Cleanup::Deleted);
    assert_eq!(error.exit(), crate::error::Exit::Changes);
    assert!(
        error.to_string().contains("still CREATE_IN_PROGRESS"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_that_fails_is_reported_in_the_hint() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    api.script_create(vec![
        at(0, Change::Status("CREATE_IN_PROGRESS", None)),
        at(1, Change::Status("CREATE_FAILED", Some("boom"))),
    ]);
    api.script_delete(vec![
        at(0, Change::Status("DELETE_IN_PROGRESS", None)),
        at(
            3,
            Change::Resource(
                "Data",
                "AWS::S3::Bucket",
                "DELETE_FAILED",
                Some("bucket not empty"),
            ),
        ),
        at(4, Change::Status("DELETE_FAILED", None)),
    ]);
    let error = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .unwrap_err();
    let hint = error.hint().unwrap();
    assert!(
        hint.contains("bucket not empty") && hint.contains("traffic was not touched"),
        "{hint}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_existing_stack_of_another_run_is_refused() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let api = FakeStackApi::new();
    api.add_existing("web-r1", "{}", &[], &[], SystemTime::now());
    let error = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DeployError::StackExists { .. }),
        "{error:?}"
    );
    assert_eq!(error.exit(), crate::error::Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn the_plan_masks_no_echo_values() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let text = plan.render_text(crate::output::Palette { enabled: false });
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("DbPassword = ****"), "{text}");
    let json = plan.to_json().to_string();
    assert!(!json.contains("hunter2"), "{json}");
    assert_eq!(plan.to_json()["parameters"]["DbPassword"], "****");
    assert_eq!(plan.to_json()["stack"], "web-r1");
}

#[test]
fn a_missing_parameter_is_named_before_any_call() {
    let fixture = fixture();
    let mut spec = fixture.spec.clone();
    spec.parameters.shift_remove("InstanceType");
    let template = crate::template::load_file(&spec.template).unwrap();
    let error = plan::prepare(
        &spec,
        template,
        &CandidateOptions::default(),
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("InstanceType"), "{error}");
    assert_eq!(error.exit(), crate::error::Exit::Error);
}

#[test]
fn an_invalid_release_label_is_refused() {
    let fixture = fixture();
    let template = crate::template::load_file(&fixture.spec.template).unwrap();
    let options = CandidateOptions {
        release: Some("r_1".into()),
        ..CandidateOptions::default()
    };
    let error = plan::prepare(&fixture.spec, template, &options, SystemTime::now()).unwrap_err();
    assert!(matches!(error, DeployError::Naming(_)), "{error:?}");
}

/// A CreateStack whose first attempt created the stack but timed out on our side is retried and
/// answered "already exists" by an endpoint that ignores the request token (moto): the stack
/// carries this request's own tags, creation time included, so it is this run's and the deploy
/// goes on with it.
#[tokio::test(start_paused = true)]
async fn a_stack_this_request_created_on_an_earlier_attempt_is_taken_as_ours() {
    let fixture = fixture();
    let plan = plan_for(&fixture, "r1").await;
    let request = plan.create_request(body(&plan));
    let tags: Vec<(&str, &str)> = request
        .tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let api = FakeStackApi::new();
    api.add_existing("web-r1", "{}", &tags, &[], SystemTime::now());
    let healthy = create_and_wait(&api, &plan, body(&plan), false, &mut Quiet)
        .await
        .expect("the stack is ours");
    assert_eq!(healthy.stack.name, "web-r1");
}
