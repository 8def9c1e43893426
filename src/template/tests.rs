use super::*;
use crate::error::{Diagnostic, Exit};

const HEADER: &str = "AWSTemplateFormatVersion: 2010-09-09\n";

fn yaml(resources_and_more: &str) -> Template {
    let body = format!("{HEADER}{resources_and_more}");
    parse(&body, "t.yaml").unwrap_or_else(|error| panic!("should load: {error}"))
}

fn json(body: &str) -> Template {
    parse(body, "t.json").unwrap_or_else(|error| panic!("should load: {error}"))
}

/// Every short form, in scalar, sequence and mapping form, equals its long form.
#[test]
fn short_forms_equal_long_forms() {
    let short = yaml(
        "Resources:
  B:
    Type: AWS::S3::Bucket
    Condition: IsProd
    Properties:
      A: !Ref Env
      B: !Sub '${AWS::StackName}-x'
      C: !Sub ['${X}', {X: !Ref Y}]
      D: !Join ['-', [a, !Ref Env]]
      E: !If [IsProd, !Ref AWS::NoValue, 1]
      F: !Equals [!Ref Env, prod]
      G: !Not [!Condition IsProd]
      H: !And [!Condition A, !Or [!Condition B, !Condition C]]
      I: !FindInMap [M, !Ref AWS::Region, Ami]
      J: !Select [0, !Split [',', !GetAZs '']]
      K: !Base64 {Fn::Sub: x}
      L: !Cidr [!GetAtt Vpc.CidrBlock, 6, 8]
      M: !ImportValue {Fn::Sub: '${Base}-ListenerArn'}
      N: !Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}
      O: !GetAZs
",
    );
    let long = json(
        r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"B": {
      "Type": "AWS::S3::Bucket", "Condition": "IsProd", "Properties": {
      "A": {"Ref": "Env"},
      "B": {"Fn::Sub": "${AWS::StackName}-x"},
      "C": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]},
      "D": {"Fn::Join": ["-", ["a", {"Ref": "Env"}]]},
      "E": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]},
      "F": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
      "G": {"Fn::Not": [{"Condition": "IsProd"}]},
      "H": {"Fn::And": [{"Condition": "A"}, {"Fn::Or": [{"Condition": "B"}, {"Condition": "C"}]}]},
      "I": {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Ami"]},
      "J": {"Fn::Select": ["0", {"Fn::Split": [",", {"Fn::GetAZs": ""}]}]},
      "K": {"Fn::Base64": {"Fn::Sub": "x"}},
      "L": {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, "6", 8]},
      "M": {"Fn::ImportValue": {"Fn::Sub": "${Base}-ListenerArn"}},
      "N": {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}},
      "O": {"Fn::GetAZs": ""}
    }}}}"#,
    );
    assert_eq!(
        differing_paths(&short.root, &long.root),
        Vec::<String>::new()
    );
    assert_eq!(short.root, long.root);
    assert_eq!(short.format, Format::Yaml);
    assert_eq!(long.format, Format::Json);
}

#[test]
fn get_att_forms_all_compare_equal() {
    let forms = [
        "!GetAtt Db.Endpoint.Address",
        "!GetAtt [Db, Endpoint.Address]",
        "{Fn::GetAtt: Db.Endpoint.Address}",
        "{Fn::GetAtt: [Db, Endpoint.Address]}",
    ];
    let loaded: Vec<Node> = forms
        .iter()
        .map(|form| {
            let template = yaml(&format!(
                "Resources:\n  R:\n    Type: X::Y::Z\n    Properties:\n      A: {form}\n"
            ));
            template.resources().unwrap()["R"]
                .get("Properties")
                .unwrap()
                .get("A")
                .unwrap()
                .clone()
        })
        .collect();
    let expected = intrinsics::wrap(
        "Fn::GetAtt",
        Node::List(vec![
            Node::String("Db".into()),
            Node::String("Endpoint.Address".into()),
        ]),
    );
    for (form, node) in forms.iter().zip(&loaded) {
        assert_eq!(node, &expected, "{form}");
        assert!(
            matches!(node.get("Fn::GetAtt"), Some(Node::List(_))),
            "{form}"
        );
    }
    assert_ne!(
        yaml("Resources:\n  R:\n    Type: X\n    Properties: {A: !GetAtt A.B}\n").root,
        yaml("Resources:\n  R:\n    Type: X\n    Properties: {A: !GetAtt A.C}\n").root
    );
}

/// The four spellings of "the AZs of the stack's region" load to the one canonical `""`, in
/// both formats and nested in `Fn::Select`; an explicit region or another `Ref` stays distinct.
#[test]
fn get_azs_of_the_stack_region_forms_all_compare_equal() {
    fn availability_zone(template: &Template) -> Node {
        template.resources().unwrap()["R"]
            .get("Properties")
            .unwrap()
            .get("AZ")
            .unwrap()
            .clone()
    }
    let from_yaml = |form: &str| {
        availability_zone(&yaml(&format!(
            "Resources:\n  R:\n    Type: X::Y::Z\n    Properties:\n      AZ: !Select [0, {form}]\n"
        )))
    };
    let from_json = |argument: &str| {
        availability_zone(&json(&format!(
            r#"{{"Resources": {{"R": {{"Type": "X::Y::Z", "Properties":
                {{"AZ": {{"Fn::Select": ["0", {{"Fn::GetAZs": {argument}}}]}}}}}}}}}}"#
        )))
    };
    let expected = intrinsics::wrap(
        "Fn::Select",
        Node::List(vec![
            Node::Number("0".into()),
            intrinsics::wrap("Fn::GetAZs", Node::String(String::new())),
        ]),
    );
    let loaded = [
        ("YAML !GetAZs", from_yaml("!GetAZs")),
        ("YAML !GetAZs ''", from_yaml("!GetAZs ''")),
        ("YAML Fn::GetAZs: null", from_yaml("{Fn::GetAZs: null}")),
        (
            "YAML Fn::GetAZs: !Ref AWS::Region",
            from_yaml("{Fn::GetAZs: !Ref AWS::Region}"),
        ),
        ("JSON \"\"", from_json(r#""""#)),
        ("JSON null", from_json("null")),
        (
            "JSON Ref AWS::Region",
            from_json(r#"{"Ref": "AWS::Region"}"#),
        ),
    ];
    for (form, node) in &loaded {
        assert_eq!(node, &expected, "{form}");
        let argument = node.get("Fn::Select").unwrap().as_list().unwrap()[1].get("Fn::GetAZs");
        assert!(
            matches!(argument, Some(Node::String(s)) if s.is_empty()),
            "{form}"
        );
    }
    for other in [
        "!GetAZs us-east-1",
        "{Fn::GetAZs: !Ref Region}",
        "{Fn::GetAZs: {Ref: AWS::Region, X: 1}}",
    ] {
        assert_ne!(from_yaml(other), expected, "{other}");
    }
    assert_eq!(
        from_yaml("!GetAZs us-east-1"),
        from_json(r#""us-east-1""#),
        "an explicit region is kept as written"
    );
}

#[test]
fn scalars_compare_as_text_across_formats() {
    let from_yaml = yaml("Resources:\n  R:\n    Type: X\n    Properties: {Port: 80, On: true, V: 1.10, D: 2010-09-09}\n");
    let from_json = json(
        r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"R": {"Type": "X",
            "Properties": {"Port": "80", "On": "true", "V": "1.1", "D": "2010-09-09"}}}}"#,
    );
    assert_eq!(from_yaml.root, from_json.root);
    // YAML 1.1 reads the plain 1.10 as the number 1.1: against the string "1.10" it is a change.
    let quoted_version = json(
        r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"R": {"Type": "X",
            "Properties": {"Port": "80", "On": "true", "V": "1.10", "D": "2010-09-09"}}}}"#,
    );
    assert_ne!(from_yaml.root, quoted_version.root);
    let version = from_yaml.root.get("AWSTemplateFormatVersion").unwrap();
    assert!(matches!(version, Node::String(s) if s == "2010-09-09"));
}

#[test]
fn json_numbers_keep_their_text() {
    let template =
        json(r#"{"Resources": {"R": {"Type": "X", "Properties": {"A": 12, "B": -3, "C": 2.5}}}}"#);
    let properties = template.resources().unwrap()["R"]
        .get("Properties")
        .unwrap();
    assert!(matches!(properties.get("A"), Some(Node::Number(n)) if n == "12"));
    assert!(matches!(properties.get("B"), Some(Node::Number(n)) if n == "-3"));
    assert!(matches!(properties.get("C"), Some(Node::Number(n)) if n == "2.5"));
}

#[test]
fn json_errors_are_reported_as_json_with_line_and_column() {
    let error = parse("{\n  \"Resources\": {\n    \"A\": [1,]\n  }\n}\n", "t.json").unwrap_err();
    let TemplateError::Syntax { at, format, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(*format, Format::Json);
    assert_eq!((at.line, at.column), (Some(3), Some(13)), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("t.json:3:13: cannot parse the template: invalid JSON: "),
        "{error}"
    );
    assert!(!error.to_string().contains("at line"), "{error}");
}

#[test]
fn json_duplicate_keys_are_rejected_with_line() {
    let error = parse(
        "{\"Resources\": {\n \"A\": {\"Type\": \"X\"},\n \"A\": {\"Type\": \"Y\"}}}",
        "t.json",
    )
    .unwrap_err();
    let TemplateError::Syntax { at, message, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(at.line, Some(3));
    assert!(message.contains("`A` appears twice"), "{message}");
}

#[test]
fn structure_is_checked_and_names_the_resource() {
    let cases = [
        ("- a\n- b\n", "t.yaml: cannot load the template: the top level is a list, not a map"),
        ("", "t.yaml: cannot load the template: the top level is a null, not a map"),
        ("Parameters: {}\n", "t.yaml: not a CloudFormation template: it has no `Resources` section"),
        ("Resources: []\n", "t.yaml: cannot load the template: `Resources` is a list, not a map of resources"),
        ("Resources: {}\n", "t.yaml: cannot load the template: `Resources` is empty; CloudFormation needs at least one resource"),
        ("Resources:\n  Web: x\n", "t.yaml: cannot load the template: resource `Web` is a string, not a map"),
        ("Resources:\n  Web:\n    Properties: {}\n", "t.yaml: cannot load the template: resource `Web` has no `Type`"),
        ("Resources:\n  Web:\n    Type: [a]\n", "t.yaml: cannot load the template: resource `Web` has a `Type` that is a list, not a string"),
    ];
    for (body, message) in cases {
        let error = parse(body, "t.yaml").unwrap_err();
        assert_eq!(error.to_string(), message);
        assert_eq!(error.exit(), Exit::Error);
        assert_eq!(error.exit().code(), 2);
    }
}

fn section(name: &str, count: usize, entry: &str) -> String {
    let mut text = format!("{name}:\n");
    for index in 0..count {
        text.push_str(&format!("  E{index}: {entry}\n"));
    }
    text
}

#[test]
fn section_limits_are_enforced() {
    let resource = "{Type: AWS::SNS::Topic}";
    let one = section("Resources", 1, resource);
    assert!(parse(&section("Resources", 500, resource), "t.yaml").is_ok());
    let cases = [
        (
            section("Resources", 501, resource),
            "501 resources, over CloudFormation's limit of 500",
        ),
        (
            format!("{one}{}", section("Parameters", 201, "{Type: String}")),
            "201 parameters, over CloudFormation's limit of 200",
        ),
        (
            format!("{one}{}", section("Outputs", 201, "{Value: x}")),
            "201 outputs, over CloudFormation's limit of 200",
        ),
    ];
    for (body, message) in cases {
        let error = parse(&body, "big.yaml").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("big.yaml: cannot load the template: {message}")
        );
    }
    let at_limit = format!(
        "{one}{}{}",
        section("Parameters", 200, "{Type: String}"),
        section("Outputs", 200, "{Value: x}")
    );
    assert!(parse(&at_limit, "t.yaml").is_ok());
}

#[test]
fn body_size_limits() {
    let base = "Resources:\n  T: {Type: AWS::SNS::Topic}\n# ";
    let sized = |length: usize| format!("{base}{}", "x".repeat(length - base.len()));
    assert!(parse(&sized(INLINE_BODY_LIMIT), "t.yaml")
        .unwrap()
        .fits_inline());
    assert!(!parse(&sized(INLINE_BODY_LIMIT + 1), "t.yaml")
        .unwrap()
        .fits_inline());
    assert!(parse(&sized(BODY_LIMIT), "t.yaml").is_ok());
    let error = parse(&sized(BODY_LIMIT + 1), "huge.yaml").unwrap_err();
    assert_eq!(
        error.to_string(),
        "huge.yaml: cannot load the template: it is 1048577 bytes, over CloudFormation's limit of 1048576 bytes"
    );
}

#[test]
fn accessors_and_no_echo() {
    let template = yaml(
        "Parameters:
  Password: {Type: String, NoEcho: true}
  Token: {Type: String, NoEcho: 'true'}
  Shown: {Type: String, NoEcho: false}
  Plain: {Type: String}
Resources:
  T: {Type: AWS::SNS::Topic}
Outputs:
  Arn: {Value: !Ref T}
",
    );
    assert_eq!(
        template
            .no_echo_parameters()
            .into_iter()
            .collect::<Vec<_>>(),
        ["Password", "Token"]
    );
    assert_eq!(template.parameters().unwrap().len(), 4);
    assert_eq!(template.resources().unwrap().len(), 1);
    assert_eq!(template.outputs().unwrap().len(), 1);
    // Known digest of the exact text, so a change in hashing or in the stored body shows.
    let text = parse("Resources: {T: {Type: X}}", "t.yaml").unwrap();
    assert_eq!(
        text.sha256_hex(),
        "96ee17e9ed6917306f02db09a60d1c6fd6723b588eb00833a11a450ac67e43c0"
    );
}

#[test]
fn load_file_names_the_path_and_reads_the_exact_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yaml");
    let body = "# comment kept\nResources:\n  T: {Type: AWS::SNS::Topic}\n";
    std::fs::write(&path, body).unwrap();
    let template = load_file(&path).unwrap();
    assert_eq!(template.body, body);
    assert_eq!(template.origin, path.display().to_string());

    let missing = dir.path().join("missing.yaml");
    let error = load_file(&missing).unwrap_err();
    assert!(matches!(error, TemplateError::Read { .. }));
    assert_eq!(
        error.to_string(),
        format!("{}: cannot read the template file", missing.display())
    );
    assert!(std::error::Error::source(&error).is_some());
    assert!(error.hint().is_some());

    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    assert!(matches!(
        load_file(&binary),
        Err(TemplateError::NotUtf8 { .. })
    ));
}

#[test]
fn a_yaml_flow_map_starting_with_a_brace_is_read_as_json() {
    let error = parse("{Resources: {T: {Type: X}}}", "t.yaml").unwrap_err();
    assert!(
        matches!(
            error,
            TemplateError::Syntax {
                format: Format::Json,
                ..
            }
        ),
        "{error}"
    );
    let spaced = parse("\n  {\"Resources\": {\"T\": {\"Type\": \"X\"}}}", "t.json").unwrap();
    assert_eq!(spaced.format, Format::Json);
}

#[test]
fn a_byte_order_mark_is_not_content_in_json_or_yaml() {
    let plain_yaml = parse(
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n",
        "plain.yaml",
    )
    .unwrap();
    let bom_yaml = parse(
        "\u{feff}Resources:\n  T:\n    Type: AWS::SNS::Topic\n",
        "bom.yaml",
    )
    .unwrap();
    assert_eq!(bom_yaml.root, plain_yaml.root);
    assert!(
        bom_yaml.body.starts_with('\u{feff}'),
        "the body is sent as it is"
    );
    let plain_json = parse(
        r#"{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}"#,
        "plain.json",
    )
    .unwrap();
    let bom_json = parse(
        "\u{feff}{\"Resources\": {\"T\": {\"Type\": \"AWS::SNS::Topic\"}}}",
        "bom.json",
    )
    .unwrap();
    assert_eq!(bom_json.format, Format::Json);
    assert_eq!(bom_json.root, plain_json.root);
}

#[test]
fn get_stack_output_short_form_loads_like_its_long_form() {
    let short = yaml("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !GetStackOutput\n        StackName: network\n        OutputName: VpcId\n");
    let long = yaml("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName:\n        Fn::GetStackOutput: {StackName: network, OutputName: VpcId}\n");
    assert_eq!(short.root, long.root);
}

#[test]
fn key_lines_are_read_from_the_body_of_either_format_byte_order_mark_or_not() {
    let path = ["Resources", "T", "Properties", "TopicName"];
    let yaml_body = "\u{feff}# topic\nResources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: orders\n";
    assert_eq!(
        parse(yaml_body, "t.yaml").unwrap().lines().line_of(&path),
        Some(6)
    );
    let json_body = "\u{feff}{\n  \"Resources\": {\n    \"T\": {\n      \"Type\": \"AWS::SNS::Topic\",\n      \"Properties\": {\"TopicName\": \"orders\"}\n    }\n  }\n}\n";
    let json = parse(json_body, "t.json").unwrap();
    assert_eq!(json.lines().line_of(&path), Some(5));
    assert_eq!(json.lines().line_of(&["Resources", "T"]), Some(3));
}
