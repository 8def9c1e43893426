use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::aws::AwsErrorKind;

const TEMPLATE: &str = r#"
Parameters:
  InstanceType: {Type: String, Default: t3.micro}
  AmiId: {Type: AWS::EC2::Image::Id}
  VpcId: {Type: String}
  SubnetId: {Type: String}
  DbPassword: {Type: String, NoEcho: true}
  ApiKey: {Type: String}
  Greeting: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"#;

const PARAMETERS: &str = r#"
[parameters]
AmiId = { latest_ami = { owners = ["amazon"], name = "al2023-ami-*" } }
VpcId = { stack_output = "base", output = "VpcId" }
SubnetId = { stack_output = "base", output = "SubnetId" }
DbPassword = { env = "WEB_DB_PASSWORD" }
ApiKey = { ssm = "/web/api-key" }
Greeting = "hello"
"#;

/// A spec file and its template in a temporary folder, loaded through the real spec loader.
struct Fixture {
    _dir: tempfile::TempDir,
    spec: AppSpec,
    template: Template,
}

fn fixture(parameters: &str, template: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), template).unwrap();
    let text = format!(
        "template = \"web.yaml\"\n{parameters}\n[router]\nkind = \"alb\"\n\
         listener = \"arn:listener\"\ntarget_group_output = \"TargetGroupArn\"\n"
    );
    let path = dir.path().join("web.toml");
    std::fs::write(&path, text).unwrap();
    let spec = crate::spec::load_file(&path).expect("valid spec");
    let template = crate::template::parse(template, "templates/web.yaml").unwrap();
    Fixture {
        _dir: dir,
        spec,
        template,
    }
}

/// Every fake answers after `DELAY` (virtual time), so parallel look-ups can be told apart.
const DELAY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Calls(Mutex<Vec<String>>);

impl Calls {
    fn record(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Default)]
struct FakeStore {
    parameters: HashMap<String, StoredParameter>,
    fail_with: Option<AwsErrorKind>,
    calls: Calls,
}

impl ParameterStore for FakeStore {
    async fn get_parameter(&self, name: &str) -> Result<Option<StoredParameter>, AwsError> {
        self.calls.record(format!("ssm {name}"));
        tokio::time::sleep(DELAY).await;
        if let Some(kind) = &self.fail_with {
            return Err(AwsError::new(
                format!("get SSM parameter {name}"),
                kind.clone(),
            ));
        }
        Ok(self.parameters.get(name).cloned())
    }
}

#[derive(Default)]
struct FakeImages {
    images: Vec<ImageFacts>,
    calls: Calls,
}

impl ImageCatalog for FakeImages {
    async fn find_images(&self, query: &AmiQuery) -> Result<Vec<ImageFacts>, AwsError> {
        self.calls.record(format!("images {}", query.name));
        tokio::time::sleep(DELAY).await;
        Ok(self.images.clone())
    }
}

#[derive(Default)]
struct FakeStacks {
    stacks: HashMap<String, IndexMap<String, String>>,
    calls: Calls,
}

impl StackOutputs for FakeStacks {
    async fn stack_outputs(
        &self,
        stack: &str,
    ) -> Result<Option<IndexMap<String, String>>, AwsError> {
        self.calls.record(format!("stack {stack}"));
        tokio::time::sleep(DELAY).await;
        Ok(self.stacks.get(stack).cloned())
    }
}

fn image(id: &str, created: &str) -> ImageFacts {
    ImageFacts {
        id: id.into(),
        name: Some(format!("al2023-ami-{id}")),
        creation_date: Some(created.into()),
    }
}

struct World {
    store: FakeStore,
    images: FakeImages,
    stacks: FakeStacks,
    env: HashMap<String, String>,
}

impl World {
    fn new() -> World {
        let mut store = FakeStore::default();
        store.parameters.insert(
            "/web/api-key".into(),
            StoredParameter {
                value: "k-123".into(),
                secure: true,
            },
        );
        let images = FakeImages {
            images: vec![
                image("ami-old", "2024-01-01T00:00:00.000Z"),
                image("ami-new", "2026-03-01T09:12:44.000Z"),
                image("ami-mid", "2025-06-01T00:00:00.000Z"),
            ],
            ..FakeImages::default()
        };
        let mut stacks = FakeStacks::default();
        stacks.stacks.insert(
            "base".into(),
            IndexMap::from([
                ("VpcId".to_string(), "vpc-1".to_string()),
                ("SubnetId".to_string(), "subnet-1".to_string()),
            ]),
        );
        let env = HashMap::from([("WEB_DB_PASSWORD".to_string(), "s3cret".to_string())]);
        World {
            store,
            images,
            stacks,
            env,
        }
    }

    async fn resolve(&self, fixture: &Fixture) -> Result<ResolvedParameters, ParamError> {
        let env = |name: &str| self.env.get(name).cloned();
        let sources = Sources {
            parameters: &self.store,
            images: &self.images,
            stacks: &self.stacks,
            env: &env,
        };
        sources
            .resolve_parameters(&fixture.spec, &fixture.template)
            .await
    }

    fn aws_calls(&self) -> usize {
        self.store.calls.all().len() + self.images.calls.all().len() + self.stacks.calls.all().len()
    }
}

#[tokio::test(start_paused = true)]
async fn every_source_resolves() {
    let fixture = fixture(PARAMETERS, TEMPLATE);
    let world = World::new();
    let resolved = world.resolve(&fixture).await.unwrap();
    let values: Vec<(&str, &str)> = resolved
        .iter()
        .map(|(name, value)| (name, value.expose()))
        .collect();
    assert_eq!(
        values,
        [
            ("AmiId", "ami-new"),
            ("VpcId", "vpc-1"),
            ("SubnetId", "subnet-1"),
            ("DbPassword", "s3cret"),
            ("ApiKey", "k-123"),
            ("Greeting", "hello"),
        ]
    );
    // InstanceType has a Default and no spec value: CloudFormation applies the default.
    assert!(resolved.get("InstanceType").is_none());
    assert_eq!(resolved.to_stack_parameters().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn no_echo_and_secure_strings_are_never_shown() {
    let fixture = fixture(PARAMETERS, TEMPLATE);
    let resolved = World::new().resolve(&fixture).await.unwrap();
    assert_eq!(
        resolved.secret_names(),
        BTreeSet::from(["ApiKey".to_string(), "DbPassword".to_string()])
    );
    let debug = format!("{resolved:?}");
    let display = resolved.to_string();
    for shown in [&debug, &display] {
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("k-123"), "{shown}");
        assert!(shown.contains("vpc-1"), "{shown}");
        assert!(shown.contains(MASK), "{shown}");
    }
    assert_eq!(resolved.to_shown()["DbPassword"], MASK);
    assert_eq!(resolved.get("DbPassword").unwrap().expose(), "s3cret");
}

#[tokio::test(start_paused = true)]
async fn look_ups_run_at_once_and_each_only_once() {
    let fixture = fixture(PARAMETERS, TEMPLATE);
    let world = World::new();
    let started = tokio::time::Instant::now();
    world.resolve(&fixture).await.unwrap();
    // Three distinct look-ups of one second each, all at once.
    assert_eq!(started.elapsed(), DELAY);
    // VpcId and SubnetId share one DescribeStacks of `base`.
    assert_eq!(world.stacks.calls.all(), ["stack base"]);
    assert_eq!(world.store.calls.all(), ["ssm /web/api-key"]);
    assert_eq!(world.images.calls.all(), ["images al2023-ami-*"]);
}

#[tokio::test(start_paused = true)]
async fn a_missing_variable_names_parameter_variable_and_spec_before_any_call() {
    let fixture = fixture(PARAMETERS, TEMPLATE);
    let mut world = World::new();
    world.env.clear();
    let error = world.resolve(&fixture).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ParamError::MissingEnv { .. }), "{error:?}");
    assert!(text.contains("parameter DbPassword"), "{text}");
    assert!(text.contains("WEB_DB_PASSWORD"), "{text}");
    assert!(text.contains("web.toml"), "{text}");
    assert_eq!(error.exit(), Exit::Error);
    assert_eq!(world.aws_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_parameter_the_template_does_not_declare_is_a_typo() {
    let fixture = fixture(&PARAMETERS.replace("Greeting = ", "Greting = "), TEMPLATE);
    let world = World::new();
    let error = world.resolve(&fixture).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("Greting"), "{text}");
    assert!(text.contains("templates/web.yaml"), "{text}");
    // Greeting (no Default) is then also missing, but the typo is the message worth giving.
    assert_eq!(error.hint().unwrap(), "did you mean Greting → Greeting?");
    assert_eq!(world.aws_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_required_parameter_without_a_value_is_named() {
    let parameters = PARAMETERS.replace("Greeting = \"hello\"\n", "");
    let fixture = fixture(&parameters, TEMPLATE);
    let world = World::new();
    let error = world.resolve(&fixture).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(&error, ParamError::MissingValues { names, .. } if names == &["Greeting"]),
        "{error:?}"
    );
    assert!(text.contains("templates/web.yaml"), "{text}");
    assert!(text.contains("Greeting"), "{text}");
    assert!(error.hint().unwrap().contains("Greeting = ..."));
    assert_eq!(world.aws_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn missing_remote_values_are_clear() {
    let fixture = fixture(PARAMETERS, TEMPLATE);

    let mut world = World::new();
    world.store.parameters.clear();
    let error = world.resolve(&fixture).await.unwrap_err();
    assert!(
        matches!(&error, ParamError::SsmMissing { name, .. } if name == "/web/api-key"),
        "{error:?}"
    );

    let mut world = World::new();
    world.stacks.stacks.clear();
    let error = world.resolve(&fixture).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "parameter VpcId in {}: stack base does not exist",
            fixture.spec.path.display()
        )
    );

    let mut world = World::new();
    world
        .stacks
        .stacks
        .get_mut("base")
        .unwrap()
        .shift_remove("SubnetId");
    let error = world.resolve(&fixture).await.unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("stack base has no output SubnetId (its outputs: VpcId)"),
        "{error}"
    );

    let mut world = World::new();
    world.images.images.clear();
    let error = world.resolve(&fixture).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no available AMI matches name \"al2023-ami-*\" owned by amazon"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_aws_failure_names_the_parameter_and_keeps_the_cause() {
    let fixture = fixture(PARAMETERS, TEMPLATE);
    let mut world = World::new();
    world.store.fail_with = Some(AwsErrorKind::Throttled {
        message: "Rate exceeded".into(),
    });
    let error = world.resolve(&fixture).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("could not resolve parameter ApiKey in "),
        "{error}"
    );
    assert!(error
        .to_string()
        .ends_with("from SSM parameter /web/api-key"));
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("Rate exceeded"), "{cause}");
    assert!(error.hint().unwrap().contains("throttling"));
}

#[tokio::test(start_paused = true)]
async fn single_values_resolve_for_routers() {
    let world = World::new();
    let env = |_: &str| None;
    let sources = Sources {
        parameters: &world.store,
        images: &world.images,
        stacks: &world.stacks,
        env: &env,
    };
    let listener = ValueSource::StackOutput {
        stack: "base".into(),
        output: "VpcId".into(),
    };
    let value = sources
        .resolve_value("router.listener", &listener, Path::new("stacks/web.toml"))
        .await
        .unwrap();
    assert_eq!(value.expose(), "vpc-1");
    let error = sources
        .resolve_value(
            "router.allocation_id",
            &ValueSource::Env { var: "EIP".into() },
            Path::new("stacks/web.toml"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "router.allocation_id in stacks/web.toml: environment variable EIP is not set"
    );
}

#[test]
fn the_newest_image_wins_and_ties_are_stable() {
    let images = [
        image("ami-b", "2025-01-01T00:00:00.000Z"),
        image("ami-c", "2025-01-01T00:00:00.000Z"),
        image("ami-a", "2024-12-31T23:59:59.000Z"),
    ];
    assert_eq!(newest_image(&images).unwrap().id, "ami-c");
    let undated = ImageFacts {
        id: "ami-z".into(),
        name: None,
        creation_date: None,
    };
    assert_eq!(
        newest_image(&[undated.clone(), image("ami-a", "2020-01-01T00:00:00Z")])
            .unwrap()
            .id,
        "ami-a"
    );
    assert!(newest_image(&[]).is_none());
}

#[test]
fn debug_of_a_secure_stored_parameter_is_masked() {
    let stored = StoredParameter {
        value: "hunter2".into(),
        secure: true,
    };
    assert!(!format!("{stored:?}").contains("hunter2"));
}
