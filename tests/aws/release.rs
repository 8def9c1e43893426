//! The release building blocks against moto through the fault proxy: parameter sources (SSM,
//! the public AMI parameter, another stack's outputs, newest AMI) and the app lock in SSM,
//! including `cutover unlock`. Each test has its own account (proxy) and its own app.

use std::process::Output;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use cutover::aws::cloudformation::CloudFormation;
use cutover::aws::images::Ec2Images;
use cutover::aws::ssm::Ssm;
use cutover::aws::AwsContext;
use cutover::release::lock::{AppLocks, Holder, LockError};
use cutover::release::params::{ParamError, Sources, MASK};
use cutover::spec::{AmiQuery, ValueSource};

use crate::support::{fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, FaultProxy};

const PUBLIC_AMI_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

const BASE_TEMPLATE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.9.0.0/16}
Outputs:
  VpcId: {Value: !Ref Vpc}
"#;

const APP_TEMPLATE: &str = r#"
Parameters:
  Env: {Type: String}
  ApiKey: {Type: String}
  VpcId: {Type: AWS::EC2::VPC::Id}
  PublicAmi: {Type: AWS::EC2::Image::Id}
  NewestAmi: {Type: AWS::EC2::Image::Id}
  DbPassword: {Type: String, NoEcho: true}
  Greeting: {Type: String, Default: hello}
Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: web, VpcId: !Ref VpcId}
"#;

const APP_SPEC: &str = r#"
template = "web.yaml"
[parameters]
Env = { ssm = "/web/env" }
ApiKey = { ssm = "/web/api-key" }
VpcId = { stack_output = "base", output = "VpcId" }
PublicAmi = { ssm = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }
NewestAmi = { latest_ami = { owners = ["amazon"], name = "al2023-ami-2023.*", architecture = "x86_64" } }
DbPassword = "literal-secret"
[router]
kind = "alb"
listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/base/1/2"
target_group_output = "TargetGroupArn"
"#;

struct Account {
    proxy: FaultProxy,
    config: aws_config::SdkConfig,
}

impl Account {
    async fn new() -> Account {
        let proxy = FaultProxy::start(moto_endpoint(), &fresh_account());
        let config = sdk_config(proxy.url()).await;
        Account { proxy, config }
    }

    fn context(&self) -> AwsContext {
        AwsContext::from_sdk_config(self.config.clone())
    }

    fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config)
    }

    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }

    async fn put(&self, name: &str, value: &str, kind: ParameterType) {
        self.ssm()
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .send()
            .await
            .unwrap_or_else(|error| panic!("put {name}: {:?}", error.into_service_error()));
    }

    async fn create_base_stack(&self) -> String {
        let client = aws_sdk_cloudformation::Client::new(&self.config);
        client
            .create_stack()
            .stack_name("base")
            .template_body(BASE_TEMPLATE)
            .send()
            .await
            .expect("create base");
        let stacks = client
            .describe_stacks()
            .stack_name("base")
            .send()
            .await
            .expect("describe base");
        let outputs = stacks.stacks()[0].outputs();
        outputs
            .iter()
            .find(|output| output.output_key() == Some("VpcId"))
            .and_then(|output| output.output_value())
            .expect("VpcId output")
            .to_string()
    }

    /// (id, creation date) of every available image matching, straight from EC2.
    async fn images(&self, owner: &str, name: &str) -> Vec<(String, String)> {
        let filter = |key: &str, value: &str| {
            aws_sdk_ec2::types::Filter::builder()
                .name(key)
                .values(value)
                .build()
        };
        let reply = self
            .ec2()
            .describe_images()
            .owners(owner)
            .filters(filter("name", name))
            .filters(filter("state", "available"))
            .send()
            .await
            .expect("describe_images");
        reply
            .images()
            .iter()
            .map(|image| {
                (
                    image.image_id().unwrap().to_string(),
                    image.creation_date().unwrap().to_string(),
                )
            })
            .collect()
    }

    async fn register_image(&self, name: &str) -> String {
        self.ec2()
            .register_image()
            .name(name)
            .root_device_name("/dev/xvda")
            .send()
            .await
            .expect("register_image")
            .image_id()
            .unwrap()
            .to_string()
    }

    async fn lock_value(&self, app: &str) -> Option<String> {
        match self
            .ssm()
            .get_parameter()
            .name(format!("/cutover/locks/{app}"))
            .send()
            .await
        {
            Ok(reply) => reply
                .parameter()
                .and_then(|p| p.value())
                .map(str::to_string),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                None
            }
            Err(error) => panic!("get lock: {:?}", error.into_service_error()),
        }
    }
}

/// The newest (id, date) the way the tool documents it: latest date, ties to the greatest id.
fn expected_newest(images: &[(String, String)]) -> String {
    let latest = images
        .iter()
        .map(|(_, date)| date)
        .max()
        .expect("some images");
    images
        .iter()
        .filter(|(_, date)| date == latest)
        .map(|(id, _)| id.clone())
        .max()
        .unwrap()
}

fn spec_and_template(spec: &str, template: &str) -> (tempfile::TempDir, cutover::spec::AppSpec) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), template).unwrap();
    std::fs::write(dir.path().join("web.toml"), spec).unwrap();
    let spec = cutover::spec::load_file(&dir.path().join("web.toml")).expect("valid spec");
    (dir, spec)
}

#[tokio::test]
async fn parameters_resolve_from_ssm_public_ami_stack_output_and_newest_ami() {
    let account = Account::new().await;
    account.put("/web/env", "prod", ParameterType::String).await;
    account
        .put("/web/api-key", "k-123-secret", ParameterType::SecureString)
        .await;
    let vpc = account.create_base_stack().await;
    let (_dir, spec) = spec_and_template(APP_SPEC, APP_TEMPLATE);
    let template = cutover::template::load_file(&spec.template).unwrap();

    let context = account.context();
    let (ssm, images, stacks) = (
        Ssm::new(&context),
        Ec2Images::new(&context),
        CloudFormation::new(&context),
    );
    let no_env = |_: &str| None;
    let sources = Sources {
        parameters: &ssm,
        images: &images,
        stacks: &stacks,
        env: &no_env,
    };
    let resolved = sources.resolve_parameters(&spec, &template).await.unwrap();

    let value = |name: &str| resolved.get(name).unwrap().expose().to_string();
    assert_eq!(value("Env"), "prod");
    assert_eq!(value("ApiKey"), "k-123-secret");
    assert_eq!(value("VpcId"), vpc);
    assert_eq!(value("DbPassword"), "literal-secret");
    // The public parameter, as SSM itself answers it.
    let public = account
        .ssm()
        .get_parameter()
        .name(PUBLIC_AMI_PARAMETER)
        .send()
        .await
        .unwrap();
    let public = public.parameter().unwrap().value().unwrap();
    assert!(public.starts_with("ami-"), "{public}");
    assert_eq!(value("PublicAmi"), public);
    // moto's Amazon images: several match, compared with our own DescribeImages.
    let matching = account.images("amazon", "al2023-ami-2023.*").await;
    assert!(matching.len() >= 2, "{matching:?}");
    assert_eq!(value("NewestAmi"), expected_newest(&matching));

    // A SecureString and a NoEcho parameter are secrets; nothing else is.
    assert_eq!(
        resolved.secret_names().into_iter().collect::<Vec<_>>(),
        ["ApiKey", "DbPassword"]
    );
    let shown = format!("{resolved} {resolved:?}");
    assert!(!shown.contains("k-123-secret") && !shown.contains("literal-secret"));
    assert!(shown.contains(MASK) && shown.contains(&vpc));
    // Seven template parameters, one with a Default and no spec value: six are sent.
    assert_eq!(resolved.to_stack_parameters().len(), 6);
}

#[tokio::test]
async fn latest_ami_picks_the_newest_creation_date_not_the_greatest_id() {
    let account = Account::new().await;
    let mut older = Vec::new();
    for n in 0..4 {
        older.push(account.register_image(&format!("cutover-golden-{n}")).await);
    }
    // EC2 creation dates have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The newer image must not win by its id: keep one whose id sorts below an older one.
    let oldest_max = older.iter().max().unwrap().clone();
    let newer = loop {
        let id = account.register_image("cutover-golden-new").await;
        if id < oldest_max {
            break id;
        }
        account
            .ec2()
            .deregister_image()
            .image_id(&id)
            .send()
            .await
            .expect("deregister_image");
    };
    let all = account.images("self", "cutover-golden-*").await;
    assert_eq!(all.len(), 5, "{all:?}");

    let context = account.context();
    let (ssm, images, stacks) = (
        Ssm::new(&context),
        Ec2Images::new(&context),
        CloudFormation::new(&context),
    );
    let no_env = |_: &str| None;
    let sources = Sources {
        parameters: &ssm,
        images: &images,
        stacks: &stacks,
        env: &no_env,
    };
    let query = ValueSource::LatestAmi(AmiQuery {
        owners: vec!["self".into()],
        name: "cutover-golden-*".into(),
        architecture: None,
        filters: Default::default(),
    });
    let spec = std::path::Path::new("stacks/web.toml");
    let found = sources.resolve_value("parameter AmiId", &query, spec).await;
    assert_eq!(found.unwrap().expose(), newer);

    // Nothing matches: a clear error, not an empty value.
    let nothing = ValueSource::LatestAmi(AmiQuery {
        owners: vec!["self".into()],
        name: "no-such-image-*".into(),
        architecture: None,
        filters: Default::default(),
    });
    let error = sources
        .resolve_value("parameter AmiId", &nothing, spec)
        .await
        .unwrap_err();
    assert!(matches!(error, ParamError::NoImage { .. }), "{error:?}");
    // A missing SSM parameter and a missing stack are named as such.
    let missing = ValueSource::Ssm {
        name: "/web/nothing-here".into(),
    };
    let error = sources
        .resolve_value("parameter Env", &missing, spec)
        .await
        .unwrap_err();
    assert!(matches!(error, ParamError::SsmMissing { .. }), "{error:?}");
    let no_stack = ValueSource::StackOutput {
        stack: "no-such-base".into(),
        output: "VpcId".into(),
    };
    let error = sources
        .resolve_value("parameter VpcId", &no_stack, spec)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "parameter VpcId in stacks/web.toml: stack no-such-base does not exist"
    );
}

fn holder(user: &str, pid: u32) -> Holder {
    Holder {
        user: user.into(),
        host: "build-42".into(),
        pid,
        command: "cutover deploy web".into(),
    }
}

#[tokio::test]
async fn two_concurrent_acquisitions_exactly_one_wins() {
    let account = Account::new().await;
    let context = account.context();
    let first = AppLocks::new(Ssm::new(&context));
    let second = AppLocks::new(Ssm::new(&context));
    let (alice, bob) = (holder("alice", 1001), holder("bob", 1002));
    let (a, b) = tokio::join!(first.acquire("web", &alice), second.acquire("web", &bob));
    let (winner, loser) = match (a, b) {
        (Ok(guard), Err(error)) | (Err(error), Ok(guard)) => (guard, error),
        (a, b) => panic!("expected exactly one winner: {a:?} / {b:?}"),
    };
    let LockError::Locked { record, .. } = &loser else {
        panic!("expected Locked, got {loser:?}");
    };
    assert_eq!(record.token, winner.record().token);
    assert_eq!(record.holder, winner.record().holder);
    let text = loser.to_string();
    assert!(
        text.starts_with(&format!(
            "app web is locked by {}@build-42 (pid {}",
            record.holder, record.pid
        )),
        "{text}"
    );
    assert_eq!(cutover::error::Diagnostic::exit(&loser).code(), 3);

    // The winner's release frees the lock for the next run.
    winner.release().await.unwrap();
    assert_eq!(account.lock_value("web").await, None);
    let next = first.acquire("web", &alice).await.unwrap();
    next.release().await.unwrap();
}

fn unlock(account: &Account, args: &[&str]) -> Output {
    let mut all = vec!["unlock"];
    all.extend_from_slice(args);
    run_cutover(all, &sdk_env(account.proxy.url()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn unlock_breaks_a_lock_left_by_a_killed_run() {
    let account = Account::new().await;
    let locks = AppLocks::new(Ssm::new(&account.context()));
    // A run that dies holding the lock: nothing releases it.
    let guard = locks
        .acquire("web", &holder("ci-runner", 4242))
        .await
        .unwrap();
    drop(guard);
    assert!(account.lock_value("web").await.is_some());
    let blocked = locks.acquire("web", &holder("next", 1)).await.unwrap_err();
    assert!(matches!(blocked, LockError::Locked { .. }));

    let dry = unlock(&account, &["web", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("locked by ci-runner@build-42 (pid 4242, `cutover deploy web`)"),
        "{}",
        text(&dry.stdout)
    );
    assert!(
        text(&dry.stderr).contains("warning:"),
        "{}",
        text(&dry.stderr)
    );
    assert!(account.lock_value("web").await.is_some());

    // Not on a terminal and no --yes: refused, lock kept.
    let refused = unlock(&account, &["web"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    assert!(account.lock_value("web").await.is_some());

    let broken = unlock(&account, &["web", "--yes", "--output", "json"]);
    assert_eq!(broken.status.code(), Some(0), "{}", text(&broken.stderr));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(report["broken"], true);
    assert_eq!(report["holder"]["holder"], "ci-runner");
    assert_eq!(report["holder"]["pid"], 4242);
    assert_eq!(account.lock_value("web").await, None);

    // Nothing left to break; the next run takes the lock.
    let again = unlock(&account, &["web", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("not locked"));
    locks
        .acquire("web", &holder("next", 1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn unlock_of_an_invalid_app_name_makes_no_call() {
    let account = Account::new().await;
    let output = unlock(&account, &["web_app", "--yes"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("web_app"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(account.proxy.requests_seen(), 0);
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_in_ssm() {
    let account = Account::new().await;
    let context = account.context();
    // A run an hour ago whose lock was never released or refreshed.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    let past =
        AppLocks::new(Ssm::new(&context)).with_clock(std::sync::Arc::new(move || an_hour_ago));
    let crashed = past.acquire("web", &holder("crashed", 7)).await.unwrap();
    let expired_token = crashed.record().token.clone();
    drop(crashed);

    let locks = AppLocks::new(Ssm::new(&context));
    let guard = locks.acquire("web", &holder("next", 8)).await.unwrap();
    let stored = account.lock_value("web").await.unwrap();
    assert!(stored.contains(&guard.record().token), "{stored}");
    assert!(!stored.contains(&expired_token), "{stored}");
    // The takeover claim is cleaned up.
    let claims = account
        .ssm()
        .get_parameters_by_path()
        .path("/cutover/lock-takeovers")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(claims.parameters().is_empty(), "{claims:?}");
    guard.release().await.unwrap();
    assert_eq!(account.lock_value("web").await, None);
}
