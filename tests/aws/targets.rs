//! Every account and region, every release remembered, every change announced: an app whose
//! spec names a role in another account and region lives there; `history` tells every release's
//! story from CloudFormation and the marks; `[notify]` announces deploys to a webhook and an SNS
//! topic, and a dead webhook costs a deploy little.
//!
//! The cross-account test talks to moto directly (no fault proxy: the proxy pins every request
//! to its own account, and here the account must come from the assumed role, as moto isolates
//! accounts by the role's account id). The others use the routing tests' world.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::config::Credentials;
use aws_sdk_cloudwatch::types::StateValue;

use crate::lifecycle::world::{role, role_of, spec as lifecycle_spec, App, RELEASE};
use crate::routing::world::{canary, show, text, watch_then, Account, ALB_RELEASE};
use crate::support::{
    fresh_account, moto_endpoint, run_cutover, sdk_config, sdk_env, WebhookReceiver,
};

/// A load balancer in eu-west-1: the `far` app's base, in the other account.
const EU_BASE: &str = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.50.0.0/16}
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.50.0.0/24, AvailabilityZone: eu-west-1a}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.50.1.0/24, AvailabilityZone: eu-west-1b}
  LoadBalancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Subnets: [!Ref SubnetA, !Ref SubnetB]}
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig: {StatusCode: "503", ContentType: text/plain, MessageBody: none yet}
Outputs:
  ListenerArn: {Value: !Ref Listener}
"#;

fn alb_app(base: &str) -> String {
    format!(
        "template = \"../templates/app.yaml\"\n[router]\nkind = \"alb\"\nlistener = {{ stack_output = \"{base}\", output = \"ListenerArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n[strategy]\nkind = \"all-at-once\"\n"
    )
}

/// An SDK configuration as `role` in `region`, through moto's STS.
async fn assumed(role: &str, region: &'static str) -> aws_config::SdkConfig {
    let base = sdk_config(moto_endpoint()).await;
    let assumed = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(role)
        .role_session_name("tests")
        .send()
        .await
        .expect("assume_role");
    let credentials = assumed.credentials().expect("credentials");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new(region))
        .credentials_provider(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            None,
            "assumed",
        ))
        .load()
        .await
}

async fn stack_exists(sdk: &aws_config::SdkConfig, stack: &str) -> bool {
    aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .is_ok_and(|found| {
            found
                .stacks()
                .iter()
                .any(|stack| stack.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        })
}

async fn parameter_exists(sdk: &aws_config::SdkConfig, name: &str) -> bool {
    aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn an_app_with_a_role_in_another_account_and_region_lives_there_beside_a_local_app() {
    let remote_account = fresh_account();
    let role = format!("arn:aws:iam::{remote_account}:role/deployer");
    let far_base = format!("far-base-{remote_account}");
    let near_base = format!("near-base-{remote_account}");
    let (far, near) = (
        format!("far{remote_account}"),
        format!("near{remote_account}"),
    );
    let remote = assumed(&role, "eu-west-1").await;
    let local = sdk_config(moto_endpoint()).await;
    aws_sdk_cloudformation::Client::new(&remote)
        .create_stack()
        .stack_name(&far_base)
        .template_body(EU_BASE)
        .send()
        .await
        .expect("the far app's base, in the other account");
    let near_base_body = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/routers/alb-base.yaml"),
    )
    .unwrap();
    aws_sdk_cloudformation::Client::new(&local)
        .create_stack()
        .stack_name(&near_base)
        .template_body(near_base_body)
        .send()
        .await
        .expect("the near app's base");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/app.yaml"), RELEASE).unwrap();
    std::fs::write(
        dir.path().join(format!("stacks/{far}.toml")),
        format!(
            "{}\n[aws]\nregion = \"eu-west-1\"\nrole_arn = \"{role}\"\n",
            alb_app(&far_base)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(format!("stacks/{near}.toml")),
        alb_app(&near_base),
    )
    .unwrap();
    let env = sdk_env(moto_endpoint());
    let stacks_dir = dir.path().join("stacks");
    let cutover = |args: &[&str]| {
        let mut all = vec!["--stacks-dir", stacks_dir.to_str().unwrap()];
        all.extend_from_slice(args);
        run_cutover(all, &env)
    };
    for app in [&far, &near] {
        let deployed = cutover(&["deploy", app, "--release", "r1", "--yes"]);
        assert_eq!(
            deployed.status.code(),
            Some(0),
            "{app}: {}",
            show(&deployed)
        );
    }
    let far_r1 = format!("{far}-r1");
    assert!(
        stack_exists(&remote, &far_r1).await,
        "in the role's account and region"
    );
    assert!(
        !stack_exists(&local, &far_r1).await,
        "not in the default account"
    );
    let default_account_eu = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    assert!(
        !stack_exists(&default_account_eu, &far_r1).await,
        "not in the default account's eu-west-1"
    );
    // What cutover records (its marks) lives beside the app too.
    let mark = format!("/cutover/marks/{far}/{far_r1}");
    assert!(
        parameter_exists(&remote, &mark).await,
        "{mark} in the role's account"
    );
    assert!(!parameter_exists(&local, &mark).await);

    let status = cutover(&["status", "--output", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", show(&status));
    let value: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let app = |name: &str| {
        value["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|app| app["app"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {value:#}"))
    };
    assert_eq!(app(&far)["account"], remote_account.as_str());
    assert_eq!(app(&far)["region"], "eu-west-1");
    assert_eq!(app(&far)["live"], far_r1.as_str());
    assert_eq!(app(&near)["account"], "123456789012");
    assert_eq!(app(&near)["region"], "us-east-1");
    let text_status = cutover(&["status"]);
    assert!(
        text(&text_status.stdout).contains(&format!("[{remote_account}/eu-west-1]")),
        "{}",
        show(&text_status)
    );
}

#[tokio::test]
async fn history_tells_every_release_from_its_creation_to_its_end_deleted_ones_too() {
    let app = App::new("hist", RELEASE, &lifecycle_spec(5, "")).await;
    for release in ["r1", "r2", "r3"] {
        app.deploy(release);
    }
    let (r1, r2, r3) = (app.stack("r1"), app.stack("r2"), app.stack("r3"));
    let rolled = app.cutover(&["rollback", &app.name, "--to", &r2, "--yes"]);
    assert_eq!(rolled.status.code(), Some(0), "{}", show(&rolled));
    app.write_spec(&lifecycle_spec(0, ""));
    let retired = app.cutover(&["retire", &app.name, "--yes"]);
    assert_eq!(retired.status.code(), Some(0), "{}", show(&retired));
    assert!(app.deleted(&r1).await, "r1 retired");
    let roles = app.roles();
    assert_eq!(role(&roles, &r2), role_of("live", 100));

    let history = app.cutover(&["history", &app.name, "--output", "json"]);
    assert_eq!(history.status.code(), Some(0), "{}", show(&history));
    let value: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let releases = value["releases"].as_array().unwrap();
    let stacks: Vec<&str> = releases
        .iter()
        .map(|entry| entry["stack"].as_str().unwrap())
        .collect();
    assert_eq!(
        stacks,
        [r3.as_str(), r2.as_str(), r1.as_str()],
        "newest first: {value:#}"
    );
    let entry = |stack: &str| {
        releases
            .iter()
            .find(|entry| entry["stack"] == stack)
            .unwrap()
    };
    assert_eq!(entry(&r3)["state"], "failed", "{value:#}");
    assert_eq!(entry(&r3)["ending"], "rolled_back_from");
    assert!(entry(&r3)["took_traffic_at"].is_string() && entry(&r3)["lost_traffic_at"].is_string());
    assert_eq!(entry(&r2)["state"], "live");
    assert!(
        entry(&r2)["lost_traffic_at"].is_null(),
        "r2 took the traffic back: {value:#}"
    );
    assert_eq!(entry(&r1)["state"], "retired", "{value:#}");
    assert!(entry(&r1)["retired_at"].is_string());
    assert!(
        entry(&r1)["lost_traffic_at"].is_string(),
        "r1 lost the traffic to r2"
    );
    for release in releases {
        assert_eq!(release["template_sha256"].as_str().unwrap().len(), 64);
        assert!(
            release["deployed_by"]
                .as_str()
                .is_some_and(|by| by.starts_with("arn:aws:")),
            "{release}"
        );
    }
    let text_history = app.cutover(&["history", &app.name]);
    let said = text(&text_history.stdout);
    assert!(
        said.contains("rolled back from") && said.contains("retired") && said.contains("live"),
        "{said}"
    );
}

/// An SNS topic with an SQS queue subscribed (boto3 through the account's proxy): its ARN, and
/// a reader of the notifications the queue got, in order.
fn topic_with_queue(
    account: &Account,
    name: &str,
) -> (String, impl Fn() -> Vec<serde_json::Value>) {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let url = account.proxy.url().to_string();
    let script = format!(
        "import boto3, json\n\
         kw = dict(endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         sns, sqs = boto3.client('sns', **kw), boto3.client('sqs', **kw)\n\
         topic = sns.create_topic(Name='{name}')['TopicArn']\n\
         queue = sqs.create_queue(QueueName='{name}')['QueueUrl']\n\
         arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn, Attributes={{'RawMessageDelivery': 'true'}})\n\
         print(topic)\n"
    );
    let made = std::process::Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let topic = String::from_utf8_lossy(&made.stdout).trim().to_string();
    let reader_url = url.clone();
    let queue_name = name.to_string();
    let read = move || {
        let script = format!(
            "import boto3, json\n\
             sqs = boto3.client('sqs', endpoint_url='{reader_url}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             queue = sqs.get_queue_url(QueueName='{queue_name}')['QueueUrl']\n\
             out = []\n\
             while True:\n\
             \x20   got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])\n\
             \x20   if not got: break\n\
             \x20   out += [json.loads(m['Body']) for m in got]\n\
             print(json.dumps(out))\n"
        );
        let read = std::process::Command::new(&python)
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            read.status.success(),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&read.stdout).unwrap()
    };
    (topic, read)
}

fn notify_spec(strategy: &str, topic: &str, webhook: &str) -> String {
    format!(
        "[router]\nkind = \"alb\"\nlistener = {{ stack_output = \"base\", output = \"ListenerArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n{strategy}\n[notify]\nsns_topic = \"{topic}\"\nwebhook = {{ url = \"{webhook}\", header = \"Authorization\", header_env = \"HOOK_TOKEN\" }}\n"
    )
}

fn events(received: &[serde_json::Value]) -> Vec<String> {
    received
        .iter()
        .map(|event| {
            let weights = event["weights"]
                .as_object()
                .map(|weights| {
                    weights
                        .iter()
                        .map(|(stack, weight)| format!("{stack}={weight}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            format!("{} {}", event["event"].as_str().unwrap_or("?"), weights)
        })
        .collect()
}

// Multi-threaded: the receiver answers on one worker while the test waits for the binary on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_and_an_sns_topic_get_a_canary_deploy_then_a_shift_back_in_order() {
    let account = Account::new("onboard-alb.yaml").await;
    let listener = account.output("base", "ListenerArn").await;
    account.put_alarm("shop-5xx").await;
    let hook = WebhookReceiver::start().await;
    let (topic, queued) = topic_with_queue(&account, "shop-deploys");
    account.write_app(
        "shop",
        ALB_RELEASE,
        &notify_spec(&canary("1s", "shop-5xx"), &topic, &hook.url),
    );
    std::env::set_var("HOOK_TOKEN", "Bearer s3cr3t-t0ken");
    let first = account.cutover(&["deploy", "shop", "--release", "r1", "--adopt", "--yes"]);
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let adopted = events(&hook.bodies());
    assert_eq!(
        adopted,
        [
            "deploy_started baseline=100".to_string(),
            "traffic_step baseline=90,shop-r1=10".to_string(),
            "traffic_step baseline=0,shop-r1=100".to_string(),
            "deploy_succeeded baseline=0,shop-r1=100".to_string(),
        ],
        "{adopted:?}\n{}",
        show(&first)
    );
    hook.clear();

    // r2 by canary; the alarm fires at 10 %: shifted back.
    let deploy = account.spawn(&["deploy", "shop", "--release", "r2", "--yes"]);
    let r1_group = account.output("shop-r1", "TargetGroupArn").await;
    let listener_read = listener.clone();
    let (second, _) = watch_then(
        deploy,
        async || account.listener_forward(&listener_read).await,
        |forward| forward.get(&r1_group) == Some(&90),
        async || account.set_alarm("shop-5xx", StateValue::Alarm).await,
    )
    .await;
    assert_eq!(second.status.code(), Some(1), "{}", show(&second));
    let shifted = hook.bodies();
    assert_eq!(
        events(&shifted),
        [
            "deploy_started baseline=0,shop-r1=100".to_string(),
            // The adopted baseline stays registered at 0 while it is a rollback target.
            "traffic_step baseline=0,shop-r1=90,shop-r2=10".to_string(),
            "shifted_back baseline=0,shop-r1=100".to_string(),
        ],
        "{}",
        show(&second)
    );
    let back = shifted.last().unwrap();
    assert_eq!(back["app"], "shop");
    assert_eq!(back["release"], "r2");
    assert_eq!(back["stack"], "shop-r1", "where the traffic went back to");
    assert!(
        back["reason"].as_str().unwrap().contains("alarm shop-5xx"),
        "{back}"
    );
    assert_eq!(back["region"], "us-east-1");
    assert!(back["account"].is_string());
    assert!(
        back["text"].as_str().unwrap().contains("shifted back"),
        "{back}"
    );

    // The topic got the same, in the same order, and no notification carries the token.
    let published = queued();
    let mut expected = adopted;
    expected.extend(events(&shifted));
    assert_eq!(events(&published), expected);
    for notification in shifted.iter().chain(&published) {
        assert!(
            !notification.to_string().contains("s3cr3t-t0ken"),
            "{notification}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_neither_fails_a_deploy_nor_holds_it_up() {
    let account = Account::new("onboard-alb.yaml").await;
    let hook = WebhookReceiver::start().await;
    // A port nothing listens on (bound, then released).
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hooks", listener.local_addr().unwrap())
    };
    let (topic, _) = topic_with_queue(&account, "shop-dead");
    std::env::set_var("HOOK_TOKEN", "Bearer t");
    let timed = |release: &str, webhook: &str| {
        account.write_app(
            "shop",
            ALB_RELEASE,
            &notify_spec("[strategy]\nkind = \"all-at-once\"\n", &topic, webhook),
        );
        let started = Instant::now();
        let mut args = vec!["deploy", "shop", "--release", release, "--yes"];
        if release == "r1" {
            args.push("--adopt");
        }
        let output = account.cutover(&args);
        (output, started.elapsed())
    };
    let (up, with_hook) = timed("r1", &hook.url);
    assert_eq!(up.status.code(), Some(0), "{}", show(&up));
    let (down, with_dead_hook) = timed("r2", &dead);
    assert_eq!(
        down.status.code(),
        Some(0),
        "a dead webhook never fails a deploy: {}",
        show(&down)
    );
    assert!(
        with_dead_hook < with_hook + Duration::from_secs(5),
        "{with_dead_hook:?} with the webhook down vs {with_hook:?} up"
    );
    assert!(
        text(&down.stderr).contains("webhook"),
        "the failure is logged: {}",
        show(&down)
    );
}

/// A release whose NoEcho parameter goes where AWS quotes it back in an error (a CIDR block).
const SECRET_CIDR_RELEASE: &str = r#"
Parameters:
  Secret: {Type: String, NoEcho: true}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref Secret}
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}
Outputs:
  TargetGroupArn: {Value: !Ref Group}
"#;

#[tokio::test]
async fn a_noecho_value_never_shows_in_output_marks_status_or_history() {
    const SECRET: &str = "10.9.0.0/16-hunter2-zz";
    let account = Account::new("onboard-alb.yaml").await;
    let spec = |gates: &str| {
        format!(
            "[parameters]\nSecret = {{ env = \"SHOP_SECRET\" }}\n\n[router]\nkind = \"alb\"\nlistener = {{ stack_output = \"base\", output = \"ListenerArn\" }}\ntarget_group_output = \"TargetGroupArn\"\n\n[strategy]\nkind = \"all-at-once\"\nfinal_bake = \"0s\"\n{gates}"
        )
    };
    let every_output = |output: &std::process::Output| {
        for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            assert!(
                !text(bytes).contains("hunter2"),
                "the NoEcho value is in {stream}: {}",
                show(output)
            );
        }
    };
    let env = [("SHOP_SECRET", SECRET)];

    // AWS refuses the value and quotes it in its error.
    account.write_app("shop", SECRET_CIDR_RELEASE, &spec(""));
    let refused = account.cutover_with_env(
        &[
            "deploy",
            "shop",
            "--release",
            "r1",
            "--adopt",
            "--yes",
            "-vv",
        ],
        &env,
    );
    assert_ne!(refused.status.code(), Some(0), "{}", show(&refused));
    every_output(&refused);

    // A gate command echoes it and fails: the cutover turns back. (Another account: moto's
    // stack listing stays broken after the refused VPC.)
    let account = Account::new("onboard-alb.yaml").await;
    account.write_app("shop", ALB_RELEASE.replace("Resources:", "Parameters:\n  Secret: {Type: String, NoEcho: true}\nResources:").as_str(), &spec(
        "\n[gates]\ncommand = \"echo the secret is $SHOP_SECRET; exit 1\"\ninterval = \"1s\"\nwarmup = \"0s\"\n",
    ));
    let shifted = account.cutover_with_env(
        &[
            "deploy",
            "shop",
            "--release",
            "r2",
            "--adopt",
            "--yes",
            "--output",
            "json",
        ],
        &env,
    );
    assert_eq!(shifted.status.code(), Some(1), "{}", show(&shifted));
    every_output(&shifted);
    assert!(
        text(&shifted.stdout).contains("****") || text(&shifted.stderr).contains("****"),
        "the gate's words are shown, masked: {}",
        show(&shifted)
    );
    for args in [["status", "shop"], ["history", "shop"]] {
        let shown = account.cutover_with_env(&args, &env);
        every_output(&shown);
    }
    let marks = aws_sdk_ssm::Client::new(&account.sdk)
        .get_parameters_by_path()
        .path("/cutover/marks/shop")
        .recursive(true)
        .send()
        .await
        .expect("read the marks");
    assert!(!marks.parameters().is_empty(), "the failures are marked");
    for mark in marks.parameters() {
        assert!(
            !mark.value().unwrap_or_default().contains("hunter2"),
            "{:?}",
            mark.value()
        );
    }
}

#[tokio::test]
async fn a_named_profile_decides_the_account_and_region_over_the_environment() {
    let remote = fresh_account();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n[profile acct]\nrole_arn = arn:aws:iam::{remote}:role/deployer\nsource_profile = base\nregion = eu-west-1\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\nOutputs:\n  Endpoint: {Value: x.example.com}\n",
    )
    .unwrap();
    let write_spec = |profile: &str| {
        std::fs::write(
            dir.path().join("stacks/q.toml"),
            format!("template = \"../app.yaml\"\n[aws]\nprofile = \"{profile}\"\n[router]\nkind = \"route53\"\nhosted_zone_id = \"Z1\"\nrecord_name = \"q.example.com\"\nendpoint_output = \"Endpoint\"\n"),
        )
        .unwrap();
    };
    // A CI job's environment: access keys and a region of their own.
    let mut env = sdk_env(moto_endpoint());
    env.push(("AWS_CONFIG_FILE".into(), config.display().to_string()));
    env.push(("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()));
    let stacks = dir.path().join("stacks").display().to_string();

    write_spec("acct");
    let status = run_cutover(
        ["--stacks-dir", &stacks, "status", "q", "--output", "json"],
        &env,
    );
    assert_eq!(status.status.code(), Some(0), "{}", show(&status));
    let shown: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(shown["apps"][0]["account"], remote.as_str(), "{shown}");
    assert_eq!(shown["apps"][0]["region"], "eu-west-1", "{shown}");

    write_spec("nosuch");
    let missing = run_cutover(["--stacks-dir", &stacks, "status", "q"], &env);
    assert_eq!(missing.status.code(), Some(2), "{}", show(&missing));
    assert!(
        text(&missing.stderr).contains("AWS profile nosuch"),
        "{}",
        show(&missing)
    );

    // Over every app, the one that cannot be reached does not hide the others.
    std::fs::rename(
        dir.path().join("stacks/q.toml"),
        dir.path().join("stacks/broken.toml"),
    )
    .unwrap();
    write_spec("acct");
    let all = run_cutover(
        ["--stacks-dir", &stacks, "status", "--output", "json"],
        &env,
    );
    assert_eq!(all.status.code(), Some(2), "{}", show(&all));
    let shown: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let apps = shown["apps"].as_array().unwrap();
    let q = apps
        .iter()
        .find(|app| app["app"] == "q")
        .expect("q is shown");
    assert_eq!(q["account"], remote.as_str());
    let broken = apps
        .iter()
        .find(|app| app["app"] == "broken")
        .expect("broken is listed");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("AWS profile nosuch"),
        "{broken}"
    );
}
