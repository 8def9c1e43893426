use super::*;
use crate::template::parse;

/// (rule, line, silenced) of every finding of a YAML template.
fn found(yaml: &str) -> Vec<(&'static str, Option<usize>, bool)> {
    let template = parse(yaml, "t.yaml").unwrap();
    check_template(&template)
        .unwrap()
        .into_iter()
        .map(|finding| (finding.rule, finding.line, finding.silenced.is_some()))
        .collect()
}

fn rules(yaml: &str) -> Vec<&'static str> {
    found(yaml).into_iter().map(|(rule, _, _)| rule).collect()
}

/// The findings of one rule only (a bucket is also stateful, CO202).
fn found_of(id: &str, yaml: &str) -> Vec<(&'static str, Option<usize>, bool)> {
    found(yaml)
        .into_iter()
        .filter(|(rule, _, _)| *rule == id)
        .collect()
}

fn resource(body: &str) -> String {
    format!("Resources:\n  R:\n{body}")
}

#[test]
fn co101_a_name_unique_within_a_parent_of_the_release_is_new_with_it() {
    // An inline policy's name is unique within its role: the release's own role is new.
    let policy = |role: &str| {
        format!(
            "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties: {{AssumeRolePolicyDocument: {{}}}}\n  P:\n    Type: AWS::IAM::RolePolicy\n    Properties:\n      PolicyName: read-orders\n      RoleName: {role}\n      PolicyDocument: {{}}\n"
        )
    };
    assert!(found_of("CO101", &policy("!Ref Role")).is_empty());
    // ... but on a role every release shares, the second release's policy collides.
    let shared = found_of("CO101", &policy("ops-role"));
    assert_eq!(shared, [("CO101", Some(8), false)]);
    let template = parse(&policy("ops-role"), "t.yaml").unwrap();
    let message = &check_template(&template).unwrap()[0].message;
    assert!(message.contains("unique within its RoleName"), "{message}");
    // A stage is unique within its API (schema: composite primary identifier).
    let stage = "Resources:\n  Api:\n    Type: AWS::ApiGateway::RestApi\n  Stage:\n    Type: AWS::ApiGateway::Stage\n    Properties: {StageName: prod, RestApiId: !Ref Api, DeploymentId: d}\n";
    assert!(found_of("CO101", stage).is_empty());
    // An alias within its function (the generator's documented list).
    let alias = "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n  Live:\n    Type: AWS::Lambda::Alias\n    Properties: {Name: live, FunctionName: !Ref Fn, FunctionVersion: $LATEST}\n";
    assert!(found_of("CO101", alias).is_empty());
}

#[test]
fn co101_a_fixed_physical_name_fires_a_per_release_one_does_not() {
    let bucket = |name: &str| {
        resource(&format!(
            "    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {name}\n"
        ))
    };
    assert_eq!(
        found_of("CO101", &bucket("orders")),
        [("CO101", Some(5), false)]
    );
    assert_eq!(
        found_of("CO101", &bucket("!Sub '${AWS::Region}-orders'")).len(),
        1
    );
    assert_eq!(rules(&bucket("!Sub '${AWS::StackName}-orders'")), ["CO202"]);
    // Not a name property: no finding.
    let vpc = resource("    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: 10.0.0.0/16\n");
    assert!(rules(&vpc).is_empty());
    let group = resource(
        "    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties:\n      Name: web\n      Port: 80\n",
    );
    assert_eq!(rules(&group), ["CO101"]);
    // A target group name is unique in the account: its own VPC does not make it new.
    let grouped = "Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\n  G:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {Name: web, VpcId: !Ref Vpc}\n";
    assert_eq!(found_of("CO101", grouped).len(), 1);
    let joined = resource("    Type: AWS::IAM::InstanceProfile\n    Properties:\n      Roles: []\n      InstanceProfileName: !Join ['-', [IAM, InstanceProfile]]\n");
    let template = parse(&joined, "t.yaml").unwrap();
    let message = &check_template(&template).unwrap()[0].message;
    assert!(
        message.contains("a Fn::Join of the literal \"IAM\" and the literal \"InstanceProfile\""),
        "{message}"
    );
    let template = parse(&bucket("orders"), "t.yaml").unwrap();
    let findings = check_template(&template).unwrap();
    let finding = findings
        .iter()
        .find(|finding| finding.rule == "CO101")
        .unwrap();
    assert_eq!(finding.path, "Resources.R.Properties.BucketName");
    assert!(
        finding.message.contains("the literal \"orders\""),
        "{}",
        finding.message
    );
    assert!(
        finding.fix.contains("!Sub \"${AWS::StackName}-orders\""),
        "{}",
        finding.fix
    );
}

#[test]
fn co102_a_fixed_export_name_fires() {
    let template = |name: &str| {
        format!("Resources:\n  T: {{Type: AWS::SNS::Topic}}\nOutputs:\n  TopicArn:\n    Value: !Ref T\n    Export:\n      Name: {name}\n")
    };
    assert_eq!(
        found(&template("shared-topic")),
        [("CO102", Some(7), false)]
    );
    assert!(rules(&template("!Sub '${AWS::StackName}-topic'")).is_empty());
}

#[test]
fn co103_a_fixed_dns_record_fires_unless_its_set_identifier_varies() {
    let record = |extra: &str| {
        resource(&format!(
            "    Type: AWS::Route53::RecordSet\n    Properties:\n      HostedZoneId: Z1\n      Name: api.example.com\n      Type: CNAME\n      TTL: '60'\n      ResourceRecords: [x.example.com]\n{extra}"
        ))
    };
    assert_eq!(found(&record("")), [("CO103", Some(6), false)]);
    assert!(rules(&record(
        "      Weight: 1\n      SetIdentifier: !Ref AWS::StackName\n"
    ))
    .is_empty());
    let group = resource(
        "    Type: AWS::Route53::RecordSetGroup\n    Properties:\n      HostedZoneId: Z1\n      RecordSets:\n        - Name: a.example.com\n          Type: A\n          TTL: '60'\n          ResourceRecords: [192.0.2.1]\n",
    );
    assert_eq!(rules(&group), ["CO103"]);
}

#[test]
fn co104_an_account_singleton_fires() {
    assert_eq!(
        rules(&resource(
            "    Type: AWS::GuardDuty::Detector\n    Properties: {Enable: true}\n"
        )),
        ["CO104"]
    );
}

#[test]
fn co201_retained_resources_fire_and_a_deleted_one_does_not() {
    let queue = |policy: &str| resource(&format!("    Type: AWS::SNS::Topic\n    {policy}\n"));
    for policy in [
        "DeletionPolicy: Retain",
        "DeletionPolicy: RetainExceptOnCreate",
        "DeletionPolicy: Snapshot",
    ] {
        assert_eq!(rules(&queue(policy)), ["CO201"], "{policy}");
    }
    // A release is never updated in place: UpdateReplacePolicy is a note that it does nothing.
    assert_eq!(rules(&queue("UpdateReplacePolicy: Retain")), ["CO207"]);
    assert!(rules(&queue("UpdateReplacePolicy: Delete")).is_empty());
    assert!(rules(&queue("DeletionPolicy: Delete")).is_empty());
}

#[test]
fn co202_stateful_resources_fire() {
    let table = resource("    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\n");
    assert_eq!(rules(&table), ["CO202"]);
}

#[test]
fn co203_iam_wildcards_fire_in_trees_and_in_json_text() {
    let policy = |statement: &str| {
        resource(&format!(
            "    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - {statement}\n"
        ))
    };
    assert_eq!(
        found(&policy("{Effect: Allow, Action: '*', Resource: '*'}")),
        [("CO203", Some(7), false)]
    );
    assert_eq!(
        rules(&policy(
            "{Effect: Allow, Action: [s3:GetObject], Resource: '*'}"
        )),
        ["CO203"]
    );
    assert!(rules(&policy("{Effect: Deny, Action: '*', Resource: '*'}")).is_empty());
    assert!(rules(&policy(
        "{Effect: Allow, Action: s3:GetObject, Resource: 'arn:aws:s3:::b/*'}"
    ))
    .is_empty());
    let text = resource(
        "    Type: AWS::SQS::QueuePolicy\n    Properties:\n      Queues: [q]\n      PolicyDocument: '{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"*\", \"Resource\": \"arn:q\"}}'\n",
    );
    assert_eq!(rules(&text), ["CO203"]);
}

#[test]
fn co204_ingress_open_to_the_world_fires() {
    let group = |cidr: &str| {
        resource(&format!(
            "    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: g\n      SecurityGroupIngress:\n        - {{IpProtocol: tcp, FromPort: 22, ToPort: 22, {cidr}}}\n"
        ))
    };
    assert_eq!(
        found(&group("CidrIp: 0.0.0.0/0")),
        [("CO204", Some(7), false)]
    );
    assert_eq!(rules(&group("CidrIpv6: '::/0'")), ["CO204"]);
    assert!(rules(&group("CidrIp: 10.0.0.0/8")).is_empty());
    let template = parse(&group("CidrIp: 0.0.0.0/0"), "t.yaml").unwrap();
    assert!(check_template(&template).unwrap()[0]
        .message
        .contains("port 22"));
}

#[test]
fn co205_a_no_echo_default_fires() {
    let template = |extra: &str| {
        format!("Parameters:\n  Secret:\n    Type: String\n    NoEcho: true\n{extra}Resources:\n  T: {{Type: AWS::SNS::Topic}}\n")
    };
    assert_eq!(
        found(&template("    Default: hunter2\n")),
        [("CO205", Some(5), false)]
    );
    assert!(rules(&template("")).is_empty());
}

#[test]
fn a_resource_can_silence_its_own_findings_with_a_reason() {
    let yaml = resource(
        "    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n    Metadata:\n      cutover:\n        ignore:\n          CO101: one shared bucket, made once\n    Properties:\n      BucketName: orders\n",
    );
    let template = parse(&yaml, "t.yaml").unwrap();
    let findings = check_template(&template).unwrap();
    let by_rule = |id: &str| findings.iter().find(|finding| finding.rule == id).unwrap();
    assert_eq!(
        by_rule("CO101").silenced.as_deref(),
        Some("one shared bucket, made once")
    );
    assert!(by_rule("CO201").silenced.is_none(), "only the rule named");
    let listed = resource(
        "    Type: AWS::S3::Bucket\n    Metadata: {cutover: {ignore: [CO101, CO202]}}\n    Properties:\n      BucketName: orders\n",
    );
    assert!(found(&listed).iter().all(|(_, _, silenced)| *silenced));
}

#[test]
fn the_spec_silences_a_rule_for_one_resource_or_all() {
    let template = parse(
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: a}\n  B:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: b}\n",
        "t.yaml",
    )
    .unwrap();
    let ignore = |resource: Option<&str>| {
        vec![crate::spec::IgnoreRule {
            rule: "CO101".into(),
            resource: resource.map(str::to_string),
            reason: "queues shared by design".into(),
        }]
    };
    let one: Vec<Finding> = crate::check::check(&template, &ignore(Some("A")))
        .unwrap()
        .into_iter()
        .filter(|finding| finding.rule == "CO101")
        .collect();
    let silenced: Vec<bool> = one
        .iter()
        .map(|finding| finding.silenced.is_some())
        .collect();
    assert_eq!(silenced, [true, false]);
    assert_eq!(
        one[0].silenced.as_deref(),
        Some("queues shared by design (spec)")
    );
    let all = crate::check::check(&template, &ignore(None)).unwrap();
    assert!(all
        .iter()
        .filter(|finding| finding.rule == "CO101")
        .all(|finding| finding.silenced.is_some()));
    assert!(all
        .iter()
        .filter(|finding| finding.rule == "CO202")
        .all(|finding| finding.silenced.is_none()));
}

/// The findings of one rule: (line, message).
fn messages(id: &str, yaml: &str) -> Vec<String> {
    let template = parse(yaml, "t.yaml").unwrap();
    check_template(&template)
        .unwrap()
        .into_iter()
        .filter(|finding| finding.rule == id)
        .map(|finding| finding.message)
        .collect()
}

#[test]
fn names_the_schemas_hide_are_covered_too() {
    for (resource_type, property) in [
        ("AWS::EC2::KeyPair", "KeyName: deploy"),
        (
            "AWS::ElastiCache::ReplicationGroup",
            "ReplicationGroupId: cache",
        ),
        (
            "AWS::ElastiCache::SubnetGroup",
            "CacheSubnetGroupName: cache",
        ),
        ("AWS::DocDB::DBCluster", "DBClusterIdentifier: docs"),
        ("AWS::ApiGateway::DomainName", "DomainName: api.example.com"),
        ("AWS::Cognito::UserPoolDomain", "Domain: shop-login"),
        ("AWS::Serverless::Function", "FunctionName: fixed-fn"),
        ("AWS::Glue::Database", "DatabaseInput: {Name: sales}"),
        (
            "AWS::CloudFront::Distribution",
            "DistributionConfig: {Aliases: [www.example.com]}",
        ),
    ] {
        let yaml = resource(&format!(
            "    Type: {resource_type}\n    Properties: {{{property}}}\n"
        ));
        assert_eq!(messages("CO101", &yaml).len(), 1, "{resource_type}");
    }
    // A listener rule's priority on a listener every release shares.
    let rule = |listener: &str| {
        format!("Resources:\n  L:\n    Type: AWS::ElasticLoadBalancingV2::Listener\n  R:\n    Type: AWS::ElasticLoadBalancingV2::ListenerRule\n    Properties: {{Priority: 10, ListenerArn: {listener}, Actions: [], Conditions: []}}\n")
    };
    assert_eq!(
        messages(
            "CO101",
            &rule("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2")
        )
        .len(),
        1
    );
    assert!(messages("CO101", &rule("!Ref L")).is_empty());
    // A Glue table within a database of the release; a rule on a bus of the release.
    let glue = "Resources:\n  Db:\n    Type: AWS::Glue::Database\n  T:\n    Type: AWS::Glue::Table\n    Properties: {DatabaseName: !Ref Db, TableInput: {Name: orders}}\n";
    assert!(messages("CO101", glue).is_empty());
    let bus = "Resources:\n  Bus:\n    Type: AWS::Events::EventBus\n    Properties: {Name: !Sub '${AWS::StackName}-bus'}\n  R:\n    Type: AWS::Events::Rule\n    Properties: {Name: on-order, EventBusName: !Ref Bus}\n";
    assert!(messages("CO101", bus).is_empty());
}

#[test]
fn a_no_echo_default_is_masked_in_every_finding() {
    let yaml = "Parameters:\n  DbPassword: {Type: String, NoEcho: true, Default: SuperSecret123!}\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: SuperSecret123!}\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Sub 'q-SuperSecret123!'}\n";
    let template = parse(yaml, "t.yaml").unwrap();
    let findings = check_template(&template).unwrap();
    assert!(findings.iter().any(|finding| finding.rule == "CO205"));
    for finding in &findings {
        assert!(
            !finding.message.contains("SuperSecret123!"),
            "{}",
            finding.message
        );
        assert!(!finding.fix.contains("SuperSecret123!"), "{}", finding.fix);
    }
}

#[test]
fn a_silence_that_cannot_be_read_is_an_error_naming_its_line() {
    let on_queue = |metadata: &str| {
        format!("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Metadata:\n      cutover: {metadata}\n    Properties: {{QueueName: q}}\n")
    };
    for (metadata, says) in [
        ("{ignore: [CO110]}", "`CO110` is not a rule"),
        ("{ignore: [co101]}", "rule ids are upper case: CO101"),
        ("{ignroe: [CO101]}", "unknown key `ignroe`"),
        ("ignore everything", "must be a map"),
        ("{ignore: {CO101: {reason: nested}}}", "must be text"),
    ] {
        let template = parse(&on_queue(metadata), "t.yaml").unwrap();
        let error = check_template(&template).unwrap_err();
        assert!(error.message.contains(says), "{metadata}: {error}");
        assert_eq!(error.line, Some(5), "{metadata}: {error}");
    }
    // The template's own Metadata silences a rule everywhere in it.
    let everywhere = "Metadata:\n  cutover: {ignore: {CO101: names are fixed on purpose}}\nResources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: a}\n";
    assert_eq!(found_of("CO101", everywhere), [("CO101", Some(6), true)]);
    // A spec silence for a resource the template lacks.
    let template = parse(&on_queue("{ignore: [CO101]}"), "t.yaml").unwrap();
    let typo = [crate::spec::IgnoreRule {
        rule: "CO202".into(),
        resource: Some("Qeue".into()),
        reason: "transient".into(),
    }];
    let error = crate::check::check(&template, &typo).unwrap_err();
    assert!(error.to_string().contains("`Qeue`"), "{error}");
}

#[test]
fn what_the_release_creates_itself_is_not_a_collision() {
    // A record in a zone of the release.
    let record = "Resources:\n  Zone:\n    Type: AWS::Route53::HostedZone\n    Properties: {Name: internal.example.}\n  R:\n    Type: AWS::Route53::RecordSet\n    Properties: {HostedZoneId: !Ref Zone, Name: db.internal.example., Type: CNAME, TTL: 60, ResourceRecords: [x]}\n";
    assert!(messages("CO103", record).is_empty());
    // An OIDC provider for a per-release URL.
    let provider = |url: &str| {
        resource(&format!("    Type: AWS::IAM::OIDCProvider\n    Properties: {{Url: {url}, ThumbprintList: []}}\n"))
    };
    assert!(messages(
        "CO104",
        &provider("!Sub 'https://${AWS::StackName}.example.com'")
    )
    .is_empty());
    assert_eq!(
        messages(
            "CO104",
            &provider("https://token.actions.githubusercontent.com")
        )
        .len(),
        1
    );
    // A key policy's Resource "*" is its only form; its Action "*" still counts.
    let key = resource("    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n          - {Effect: Allow, Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}, Action: 'kms:*', Resource: '*'}\n");
    assert!(messages("CO203", &key).is_empty());
    // Defaults that hold no secret.
    for declaration in [
        "{Type: String, NoEcho: true, Default: ''}",
        "{Type: 'AWS::SSM::Parameter::Value<String>', NoEcho: true, Default: /app/password}",
    ] {
        let yaml = format!(
            "Parameters:\n  P: {declaration}\nResources:\n  T:\n    Type: AWS::SNS::Topic\n"
        );
        assert!(messages("CO205", &yaml).is_empty(), "{declaration}");
    }
}

#[test]
fn every_form_of_a_wildcard_grant_and_of_open_ingress_is_found() {
    let statement = |body: &str| {
        resource(&format!("    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - {body}\n"))
    };
    for (body, says) in [
        (
            "{Effect: Allow, NotAction: 's3:*', Resource: arn:aws:s3:::b}",
            "every action but those NotAction lists",
        ),
        (
            "{Effect: Allow, Action: 's3:GetObject', NotResource: arn:aws:s3:::b}",
            "every resource but those NotResource lists",
        ),
        (
            "{Effect: Allow, Action: '*:*', Resource: arn:aws:s3:::b}",
            "every action",
        ),
    ] {
        let found = messages("CO203", &statement(body));
        assert!(
            found.len() == 1 && found[0].contains(says),
            "{body}: {found:?}"
        );
    }
    let bucket_policy = resource("    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: b\n      PolicyDocument:\n        Statement:\n          - {Effect: Allow, Principal: '*', Action: 's3:GetObject', Resource: arn:aws:s3:::b/*}\n");
    assert!(messages("CO203", &bucket_policy)[0].contains("to every principal"));
    let ingress = resource("    Type: AWS::EC2::SecurityGroupIngress\n    Properties: {GroupId: sg-1, IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIpv6: '::0/0'}\n");
    assert_eq!(messages("CO204", &ingress).len(), 1);
}

#[test]
fn deep_statements_are_found_at_their_own_line() {
    let yaml = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n              - Effect: Deny\n                Action: '*'\n                Resource: '*'\n              - Effect: Allow\n                Action: '*'\n                Resource: '*'\n";
    assert_eq!(found_of("CO203", yaml), [("CO203", Some(13), false)]);
}
