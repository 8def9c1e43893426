use std::time::Duration;

use super::super::*;
use super::{failure, spec, with_alb, Fixture};
use crate::error::Diagnostic;

#[test]
fn a_key_of_another_router_kind_is_refused_naming_its_kind() {
    let (_, text, line, key) = failure(&format!(
        "{}instance_output = \"InstanceId\"\n",
        with_alb("")
    ));
    assert_eq!(key, "router.instance_output");
    assert_eq!(line, 8, "{text}");
    assert!(
        text.contains("belongs to router kind `eip`, but this router is `alb`"),
        "{text}"
    );
    let (error, ..) = failure(&format!(
        "{}instance_output = \"InstanceId\"\n",
        with_alb("")
    ));
    assert_eq!(
        error.hint().unwrap(),
        "router kind `alb` takes: listener, rule, target_group_output, test_traffic"
    );
}

#[test]
fn an_alb_router_takes_a_listener_or_one_rule_not_both() {
    let rule = spec(
        "[router]\nkind = \"alb\"\nrule = { stack_output = \"shared-alb\", output = \"WebRuleArn\" }\ntarget_group_output = \"Tg\"\n",
    );
    let app = Fixture::new().load(&rule).unwrap();
    assert_eq!(
        app.router,
        RouterSpec::Alb {
            route: AlbRouteSpec::Rule(ValueSource::StackOutput {
                stack: "shared-alb".into(),
                output: "WebRuleArn".into()
            }),
            target_group_output: "Tg".into(),
            test_traffic: None,
        }
    );
    let (error, text, line, key) = failure(&spec(
        "[router]\nkind = \"alb\"\nlistener = \"arn:l\"\nrule = \"arn:r\"\ntarget_group_output = \"Tg\"\n",
    ));
    assert_eq!((line, key.as_str()), (5, "router.rule"), "{text}");
    assert!(
        text.contains("`listener` and `rule` are both set"),
        "{text}"
    );
    assert!(error.hint().unwrap().contains("shared with other apps"));
}

#[test]
fn a_router_without_its_keys_says_which_is_missing() {
    let (_, text, line, key) = failure(&spec(
        "[router]\nkind = \"alb\"\ntarget_group_output = \"Tg\"\n",
    ));
    assert_eq!((line, key.as_str()), (2, "router"), "{text}");
    assert!(
        text.contains("router kind `alb` needs `listener`"),
        "{text}"
    );
    let (_, text, ..) = failure(&spec("[router]\nkind = \"nlb\"\n"));
    assert!(
        text.contains("unknown variant `nlb`") && text.contains("`route53`"),
        "{text}"
    );
    let (_, text, ..) = failure(&spec(""));
    assert!(text.contains("missing field `router`"), "{text}");
}

#[test]
fn route53_router_defaults_and_rules() {
    let base = "[router]\nkind = \"route53\"\nhosted_zone_id = { stack_output = \"dns-base\", output = \"HostedZoneId\" }\nrecord_name = \"api.example.com\"\nendpoint_output = \"EndpointDnsName\"\n";
    let app = Fixture::new().load(&spec(base)).unwrap();
    let RouterSpec::Route53 {
        record_type,
        ttl,
        alias_zone_output,
        hosted_zone_id,
        ..
    } = &app.router
    else {
        panic!()
    };
    assert_eq!(
        (*record_type, *ttl, alias_zone_output),
        (RecordType::Cname, 60, &None)
    );
    // DNS names are case-insensitive: kept in lower case, as Route 53 keeps them.
    let upper = Fixture::new()
        .load(&spec(&base.replace("api.example.com", "API.Example.com")))
        .unwrap();
    assert!(
        matches!(&upper.router, RouterSpec::Route53 { record_name, .. } if record_name == "api.example.com")
    );
    assert_eq!(
        hosted_zone_id,
        &ValueSource::StackOutput {
            stack: "dns-base".into(),
            output: "HostedZoneId".into()
        }
    );

    let (_, text, _, key) = failure(&spec(&format!("{base}alias_zone_output = \"Zone\"\n")));
    assert_eq!(key, "router.alias_zone_output");
    assert!(text.contains("not CNAME"), "{text}");
    let aliased = Fixture::new()
        .load(&spec(&format!(
            "{base}record_type = \"A\"\nalias_zone_output = \"Zone\"\n"
        )))
        .unwrap();
    assert!(matches!(
        aliased.router,
        RouterSpec::Route53 {
            record_type: RecordType::A,
            alias_zone_output: Some(_),
            ..
        }
    ));
    let (_, text, ..) = failure(&spec(&format!("{base}record_type = \"MX\"\n")));
    assert!(
        text.contains("unknown variant `MX`") && text.contains("`CNAME`"),
        "{text}"
    );
    let (_, text, _, key) = failure(&spec(&base.replace("api.example.com", "api..example.com")));
    assert_eq!(key, "router.record_name", "{text}");
}

const EIP: &str = "[router]\nkind = \"eip\"\nallocation_id = { stack_output = \"eip-base\", output = \"AllocationId\" }\ninstance_output = \"InstanceId\"\n";

#[test]
fn eip_router_is_all_at_once_only() {
    let app = Fixture::new().load(&spec(EIP)).unwrap();
    assert_eq!(app.router.kind(), "eip");
    assert!(Fixture::new()
        .load(&spec(&format!("{EIP}[strategy]\nkind = \"all-at-once\"\n")))
        .is_ok());
    for gradual in [
        "kind = \"canary\"\npercent = 10\nbake = \"1m\"",
        "kind = \"linear\"\nstep = 10\ninterval = \"1m\"",
    ] {
        let (error, text, line, key) = failure(&spec(&format!("{EIP}[strategy]\n{gradual}\n")));
        assert_eq!((line, key.as_str()), (7, "strategy.kind"), "{text}");
        assert!(text.contains("can only switch all at once"), "{text}");
        assert!(error.hint().unwrap().contains("all-at-once"));
    }
}

#[test]
fn strategies_parse_with_their_keys() {
    let load = |body: &str| {
        Fixture::new()
            .load(&with_alb(&format!("[strategy]\n{body}\n")))
            .map(|app| app.strategy.kind)
    };
    assert_eq!(
        load("kind = \"linear\"\nstep = 25\ninterval = \"2m\"").unwrap(),
        StrategyKind::Linear {
            step: 25,
            interval: Duration::from_secs(120)
        }
    );
    assert_eq!(
        load("kind = \"steps\"\nweights = [5, 25, 50, 100]\npause = \"1m\"").unwrap(),
        StrategyKind::Steps {
            weights: vec![5, 25, 50, 100],
            pause: Duration::from_secs(60)
        }
    );
    assert_eq!(
        load("kind = \"all-at-once\"\nfinal_bake = \"5m\"").unwrap(),
        StrategyKind::AllAtOnce
    );
}

#[test]
fn strategy_ranges_are_checked() {
    let reject = |body: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[strategy]\n{body}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "kind = \"canary\"\npercent = 0\nbake = \"1m\"",
        "strategy.percent",
        "from 1 to 99",
    );
    reject(
        "kind = \"canary\"\npercent = 100\nbake = \"1m\"",
        "strategy.percent",
        "from 1 to 99",
    );
    reject(
        "kind = \"canary\"\npercent = 10",
        "strategy",
        "needs `bake`",
    );
    reject(
        "kind = \"linear\"\nstep = 100\ninterval = \"1m\"",
        "strategy.step",
        "from 1 to 99",
    );
    reject(
        "kind = \"steps\"\nweights = [5, 5, 100]\npause = \"1m\"",
        "strategy.weights[1]",
        "does not increase",
    );
    reject(
        "kind = \"steps\"\nweights = [0, 100]\npause = \"1m\"",
        "strategy.weights[0]",
        "not from 1 to 100",
    );
    reject(
        "kind = \"steps\"\nweights = [10, 50]\npause = \"1m\"",
        "strategy.weights[1]",
        "last weight must be 100",
    );
    reject(
        "kind = \"steps\"\nweights = []\npause = \"1m\"",
        "strategy.weights",
        "empty",
    );
    reject(
        "kind = \"canary\"\npercent = 10\nbake = \"1m\"\nweights = [100]",
        "strategy.weights",
        "belongs to strategy kind `steps`",
    );
    reject(
        "kind = \"all-at-once\"\nbake = \"1m\"",
        "strategy.bake",
        "belongs to strategy kind `canary`",
    );
    reject(
        "kind = \"blue-green\"",
        "strategy.kind",
        "unknown variant `blue-green`",
    );
}

#[test]
fn value_source_tables_need_exactly_one_source() {
    let reject = |value: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[parameters]\nP = {value}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "{ env = \"A\", ssm = \"/b\" }",
        "parameters.P",
        "found `env` and `ssm`",
    );
    reject(
        "{ output = \"VpcId\" }",
        "parameters.P.output",
        "goes with `stack_output`",
    );
    reject(
        "{ stack_output = \"base\" }",
        "parameters.P",
        "needs `output`",
    );
    reject(
        "{ stack_output = \"base_stack\", output = \"VpcId\" }",
        "parameters.P.stack_output",
        "invalid stack name",
    );
    reject(
        "{ stack_output = \"base\", output = \"Vpc-Id\" }",
        "parameters.P.output",
        "invalid output name",
    );
    reject("{}", "parameters.P", "names no value source");
    reject(
        "{ env = \"\" }",
        "parameters.P.env",
        "not an environment variable name",
    );
    reject(
        "{ latest_ami = { owners = [], name = \"x\" } }",
        "parameters.P.latest_ami.owners",
        "at least one owner",
    );
    reject(
        "{ latest_ami = { owners = [\"amazon\"], name = \"x\", architecture = \"x64\" } }",
        "parameters.P.latest_ami.architecture",
        "unknown architecture",
    );
    reject(
        "{ latest_ami = { owners = [\"amazon\"] } }",
        "parameters.P.latest_ami",
        "missing field `name`",
    );
    reject(
        "{ ssm = 5 }",
        "parameters.P.ssm",
        "invalid type: integer `5`",
    );
    let (_, text, _, key) = failure(&with_alb("[parameters]\nDb-Password = \"x\"\n"));
    assert_eq!(key, "parameters.Db-Password", "{text}");
}

#[test]
fn gates_parse_with_defaults() {
    let app = Fixture::new()
        .load(&with_alb(
            "[gates]\ntarget_health = { min_healthy = 2 }\ninstance_status = true\nalarms = [\"web-5xx\"]\n\
             alarm_outputs = [\"LatencyAlarm\"]\nhttp = { url_output = \"HealthUrl\" }\ncommand = \"./smoke.sh\"\ninterval = \"5s\"\n",
        ))
        .unwrap();
    let gates = app.gates;
    assert_eq!(
        gates.target_health,
        Some(TargetHealthGate {
            min_healthy: 2,
            target_group_output: "TargetGroupArn".into()
        })
    );
    assert!(gates.instance_status);
    assert_eq!(
        (gates.alarms, gates.alarm_outputs),
        (vec!["web-5xx".to_owned()], vec!["LatencyAlarm".to_owned()])
    );
    assert_eq!(
        gates.http,
        Some(HttpGate {
            url: HttpTarget::Output("HealthUrl".into()),
            expect_status: 200,
            body_contains: None,
            timeout: Duration::from_secs(3),
            retries: 3
        })
    );
    assert_eq!(
        (gates.command.as_deref(), gates.interval),
        (Some("./smoke.sh"), Duration::from_secs(5))
    );
}

#[test]
fn gate_rules_are_checked() {
    let reject = |text: &str, want_key: &str, want_text: &str| {
        let (_, shown, _, key) = failure(text);
        assert_eq!(key, want_key, "{shown}");
        assert!(shown.contains(want_text), "{shown}");
    };
    reject(
        &with_alb("[gates]\nhttp = { url = \"http://x\", url_output = \"U\" }"),
        "gates.http.url_output",
        "not both",
    );
    reject(
        &with_alb("[gates]\nhttp = { expect_status = 200 }"),
        "gates.http",
        "needs `url` or `url_output`",
    );
    reject(
        &with_alb("[gates]\nhttp = { url = \"localhost:80\" }"),
        "gates.http.url",
        "not an http",
    );
    reject(
        &with_alb("[gates]\nhttp = { url = \"http://x\", expect_status = 42 }"),
        "gates.http.expect_status",
        "not an HTTP status",
    );
    reject(
        &spec(&format!(
            "{EIP}[gates]\ntarget_health = {{ min_healthy = 1 }}\n"
        )),
        "gates.target_health",
        "needs `target_group_output`",
    );
    let app = Fixture::new()
        .load(&spec(&format!(
            "{EIP}[gates]\ntarget_health = {{ target_group_output = \"Tg\" }}\n"
        )))
        .unwrap();
    assert_eq!(
        app.gates.target_health,
        Some(TargetHealthGate {
            min_healthy: 1,
            target_group_output: "Tg".into()
        })
    );
}

#[test]
fn stack_settings_parse_and_are_checked() {
    let app = Fixture::new()
        .load(&with_alb(
            "[stack]\ncapabilities = [\"CAPABILITY_IAM\", \"CAPABILITY_AUTO_EXPAND\"]\ntermination_protection = true\n\
             template_bucket = \"my-templates\"\nrollback_alarms = [\"web-5xx\"]\nrollback_monitoring = \"10m\"\n",
        ))
        .unwrap();
    assert_eq!(
        app.stack.capabilities,
        [Capability::Iam, Capability::AutoExpand]
    );
    assert_eq!(app.stack.capabilities[0].as_str(), "CAPABILITY_IAM");
    assert!(app.stack.termination_protection);
    assert_eq!(app.stack.template_bucket.as_deref(), Some("my-templates"));
    assert_eq!(
        app.stack.rollback_monitoring,
        Some(Duration::from_secs(600))
    );

    let reject = |body: &str, want_key: &str, want_text: &str| {
        let (_, text, _, key) = failure(&with_alb(&format!("[stack]\n{body}\n")));
        assert_eq!(key, want_key, "{text}");
        assert!(text.contains(want_text), "{text}");
    };
    reject(
        "capabilities = [\"CAPABILITY_ADMIN\"]",
        "stack.capabilities[0]",
        "unknown variant `CAPABILITY_ADMIN`",
    );
    reject(
        "capabilities = [\"CAPABILITY_IAM\", \"CAPABILITY_IAM\"]",
        "stack.capabilities[1]",
        "listed twice",
    );
    reject(
        "template_bucket = \"My_Bucket\"",
        "stack.template_bucket",
        "invalid bucket name",
    );
    reject(
        "rollback_alarms = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
        "stack.rollback_alarms",
        "more than CloudFormation's 5",
    );
    reject(
        "rollback_alarms = [\"a\"]\nrollback_monitoring = \"4h\"",
        "stack.rollback_monitoring",
        "whole minutes, from 0 to 180",
    );
    reject(
        "rollback_monitoring = \"5m\"",
        "stack.rollback_monitoring",
        "needs `rollback_alarms`",
    );
}

#[test]
fn tags_and_rotation_rules_are_checked() {
    let (_, text, _, key) = failure(&with_alb("[tags]\n\"cutover:app\" = \"x\"\n"));
    assert_eq!(key, "tags.cutover:app", "{text}");
    assert!(text.contains("reserved prefix"), "{text}");
    let (_, text, _, key) = failure(&with_alb("[rotation]\nrefresh_ami = true\n"));
    assert_eq!(key, "rotation.refresh_ami", "{text}");
    let app = Fixture::new()
        .load(&with_alb("[parameters]\nAmi = { ssm = \"/a\" }\n[rotation]\nmax_age = \"30d\"\nrefresh_ami = true\n"))
        .unwrap();
    assert_eq!(
        app.rotation,
        RotationSpec {
            max_age: Some(Duration::from_secs(30 * 86400)),
            refresh_ami: true
        }
    );
}

#[test]
fn an_empty_route_and_stickiness_without_an_alb_are_refused() {
    let (_, text, line, key) = failure(&spec(
        "[router]\nkind = \"alb\"\nrule = \"\"\ntarget_group_output = \"Tg\"\n",
    ));
    assert_eq!((line, key.as_str()), (4, "router.rule"), "{text}");
    assert!(text.contains("is empty"), "{text}");
    let (_, text, _, key) = failure(&spec(
        "[router]\nkind = \"eip\"\nallocation_id = \"eipalloc-1\"\ninstance_output = \"Id\"\n[strategy]\nkind = \"all-at-once\"\nhold_for_stickiness = false\n",
    ));
    assert_eq!(key, "strategy.hold_for_stickiness", "{text}");
}

#[test]
fn test_traffic_takes_a_header_name_and_an_optional_free_priority() {
    let app = Fixture::new()
        .load(&with_alb(
            "[router.test_traffic]\nheader = \"X-Release\"\npriority = 7\n",
        ))
        .unwrap();
    let RouterSpec::Alb { test_traffic, .. } = &app.router else {
        panic!("alb")
    };
    assert_eq!(
        test_traffic,
        &Some(TestTrafficSpec {
            header: "X-Release".into(),
            priority: Some(7)
        })
    );
    for (body, key, says) in [
        (
            "header = \"X Release\"",
            "router.test_traffic.header",
            "not an HTTP header name",
        ),
        (
            "header = \"Host\"",
            "router.test_traffic.header",
            "cannot match the Host header",
        ),
        (
            "header = \"X-Release\"\npriority = 0",
            "router.test_traffic.priority",
            "not a listener rule priority",
        ),
        (
            "header = \"X-Release\"\npriority = 50001",
            "router.test_traffic.priority",
            "not a listener rule priority",
        ),
    ] {
        let (_, text, _, at) = failure(&with_alb(&format!("[router.test_traffic]\n{body}\n")));
        assert_eq!(at, key, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    // Only the alb router has listener rules.
    let (_, text, _, key) = failure(&spec(
        "[router]\nkind = \"eip\"\nallocation_id = \"eipalloc-1\"\ninstance_output = \"InstanceId\"\n[router.test_traffic]\nheader = \"X-Release\"\n",
    ));
    assert_eq!(key, "router.test_traffic", "{text}");
}

#[test]
fn compare_names_known_target_group_metrics_with_sane_settings() {
    let app = Fixture::new()
        .load(&with_alb(
            "[gates.compare]\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\" }, { name = \"TargetResponseTime\", statistic = \"p99.9\" }]\n",
        ))
        .unwrap();
    let compare = app.gates.compare.unwrap();
    assert_eq!(compare.window, Duration::from_secs(600));
    assert_eq!(compare.warmup, compare.window);
    assert_eq!(compare.metrics[0].kind, CompareKind::RatePerRequest);
    assert_eq!(compare.metrics[0].tolerance, 0.005);
    assert_eq!(
        compare.metrics[1].kind,
        CompareKind::Distribution {
            statistic: "p99.9".into()
        }
    );
    for (body, says) in [
        ("metrics = []", "at least one metric"),
        (
            "metrics = [{ name = \"CPUUtilization\" }]",
            "not a target group metric",
        ),
        (
            "metrics = [{ name = \"HTTPCode_Target_5XX_Count\", statistic = \"p95\" }]",
            "takes no statistic",
        ),
        (
            "metrics = [{ name = \"TargetResponseTime\", statistic = \"median\" }]",
            "not a CloudWatch statistic",
        ),
        (
            "metrics = [{ name = \"HTTPCode_Target_5XX_Count\", tolerance = 2.0 }]",
            "not a rate difference",
        ),
        (
            "confidence = 1.5\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\" }]",
            "not a confidence",
        ),
        (
            "window = \"90s\"\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\" }]",
            "at least 2m",
        ),
        (
            "min_requests = 0\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\" }]",
            "at least 1 request",
        ),
        (
            "window = \"5m\"\nmetrics = [{ name = \"TargetResponseTime\" }]",
            "at most 4 whole minutes, fewer than min_minutes = 5",
        ),
        (
            "metrics = [{ name = \"HTTPCode_Target_5XX_Count\" }, { name = \"HTTPCode_Target_5XX_Count\" }]",
            "compared twice",
        ),
    ] {
        let (_, text, _, key) = failure(&with_alb(&format!("[gates.compare]\n{body}\n")));
        assert!(key.starts_with("gates.compare"), "{body}: {key}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let (_, text, _, _) = failure(&spec(
        "[router]\nkind = \"eip\"\nallocation_id = \"eipalloc-1\"\ninstance_output = \"InstanceId\"\n[strategy]\nkind = \"all-at-once\"\n[gates.compare]\nmetrics = [{ name = \"HTTPCode_Target_5XX_Count\" }]\n",
    ));
    assert!(text.contains("needs router kind `alb`"), "{text}");
}

#[test]
fn aws_and_notify_take_a_target_and_channels_of_the_right_shape() {
    let app = Fixture::new()
        .load(&with_alb(
            "[aws]\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::222222222222:role/deployer\"\nexternal_id = \"x\"\n[notify]\nsns_topic = \"arn:aws:sns:eu-west-1:222222222222:deploys\"\nwebhook = { url = \"https://chat.example.com/h\", header = \"Authorization\", header_env = \"CHAT_TOKEN\" }\n",
        ))
        .unwrap();
    assert_eq!(app.aws.region.as_deref(), Some("eu-west-1"));
    for region in [
        "us-gov-west-1",
        "cn-northwest-1",
        "us-isob-east-1",
        "ap-southeast-5",
        "il-central-1",
        "eusc-de-east-1",
        "us-isof-south-1",
        "eu-isoe-west-1",
    ] {
        let app = Fixture::new()
            .load(&with_alb(&format!("[aws]\nregion = \"{region}\"\n")))
            .unwrap();
        assert_eq!(app.aws.region.as_deref(), Some(region));
    }
    assert_eq!(
        app.notify.webhook.unwrap().header,
        Some(("Authorization".into(), "CHAT_TOKEN".into())),
        "the variable's name, not its value: it is read when a notification is sent"
    );
    for (body, key, says) in [
        (
            "[aws]\nregion = \"EU West\"",
            "aws.region",
            "not an AWS region name",
        ),
        (
            "[aws]\nregion = \"eu-west\"",
            "aws.region",
            "`eu-west` is not an AWS region name",
        ),
        (
            "[aws]\nregion = \"euwest1\"",
            "aws.region",
            "not an AWS region name",
        ),
        (
            "[aws]\nregion = \"us-east-1a\"",
            "aws.region",
            "`us-east-1a` is an availability zone, not a region: the region is `us-east-1`",
        ),
        (
            "[aws]\nrole_arn = \"deployer\"",
            "aws.role_arn",
            "not an IAM role ARN",
        ),
        (
            "[aws]\nsession_name = \"x\"",
            "aws.role_arn",
            "go with `role_arn`",
        ),
        (
            "[notify]\nwebhook = { url = \"chat.example.com\" }",
            "notify.webhook.url",
            "must start with http:// or https://",
        ),
        (
            "[notify]\nwebhook = { url = \"https://bot:hunter2@chat.example.com/h\" }",
            "notify.webhook.url",
            "user name or password",
        ),
        (
            "[notify]\nwebhook = { url = \"https://x\", header = \"Bad Header\", header_env = \"T\" }",
            "notify.webhook.header",
            "Bad Header",
        ),
        (
            "[notify]\nsns_topic = \"deploys\"",
            "notify.sns_topic",
            "not an SNS topic ARN",
        ),
        (
            "[notify]\nsns_topic = \"arn:aws:sqs:us-east-1:123456789012:q\"",
            "notify.sns_topic",
            "not an SNS topic ARN",
        ),
        (
            "[notify]\nwebhook = { url = \"https://x\", header = \"Authorization\" }",
            "notify.webhook.header",
            "add `header_env`",
        ),
    ] {
        let (_, text, _, at) = failure(&with_alb(&format!("{body}\n")));
        assert_eq!(at, key, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
        assert!(!text.contains("hunter2"), "a credential in a URL is not repeated: {text}");
    }
}
