use super::*;

fn load(body: &str) -> Node {
    parse(body, "t.yaml").unwrap_or_else(|error| panic!("{body:?} should load: {error}"))
}

fn value(body: &str) -> Node {
    load(&format!("V: {body}\n")).get("V").cloned().unwrap()
}

#[test]
fn plain_scalars_are_typed_as_cloudformation_reads_yaml_1_1() {
    for text in ["true", "True", "TRUE", "yes", "Yes", "ON", "on"] {
        assert!(matches!(value(text), Node::Bool(true)), "{text}");
    }
    for text in ["false", "False", "FALSE", "no", "No", "OFF", "off"] {
        assert!(matches!(value(text), Node::Bool(false)), "{text}");
    }
    for text in ["null", "~", ""] {
        assert!(matches!(value(text), Node::Null), "{text:?}");
    }
    for (text, canonical) in [
        ("80", "80"),
        ("-1", "-1"),
        ("+3", "3"),
        ("1.10", "1.1"),
        ("1.30", "1.3"),
        ("-2.5E-3", "-0.0025"),
        (".5", "0.5"),
        ("0x1F", "31"),
        ("1_000", "1000"),
        ("012", "10"),
        ("012345670123", "1402433619"),
        (".inf", "inf"),
    ] {
        match value(text) {
            Node::Number(kept) => assert_eq!(kept, canonical, "{text}"),
            other => panic!("{text} loaded as {other:?}"),
        }
    }
    for text in [
        "2010-09-09",
        "1.2.3",
        "v1",
        "1.2.3-beta",
        "0x",
        "e5",
        "1e",
        "1e5",
        "0o17",
        "1:30",
        ".",
        "y",
        "n",
    ] {
        match value(text) {
            Node::String(kept) => assert_eq!(kept, text),
            other => panic!("{text} loaded as {other:?}"),
        }
    }
}

#[test]
fn a_quoted_scalar_and_its_plain_twin_differ_where_yaml_1_1_says_so() {
    assert_ne!(value("OFF"), value("\"OFF\""));
    assert_eq!(value("yes"), value("\"true\""));
    assert_ne!(value("012345670123"), value("\"012345670123\""));
    assert_eq!(value("1.30"), value("1.3"));
    assert_ne!(value("1.30"), value("\"1.30\""));
    assert_eq!(value("2010-09-09"), value("\"2010-09-09\""));
}

#[test]
fn quoted_and_block_scalars_are_always_strings() {
    assert!(matches!(value("'true'"), Node::String(s) if s == "true"));
    assert!(matches!(value("\"80\""), Node::String(s) if s == "80"));
    assert!(matches!(value("''"), Node::String(s) if s.is_empty()));
    assert!(matches!(load("V: |\n  12\n").get("V"), Some(Node::String(s)) if s == "12\n"));
}

#[test]
fn standard_tags_set_the_type() {
    assert!(matches!(value("!!str 80"), Node::String(s) if s == "80"));
    assert!(matches!(value("!!str yes"), Node::String(s) if s == "yes"));
    assert!(matches!(value("!!int '80'"), Node::Number(s) if s == "80"));
    assert!(matches!(value("!!int 012"), Node::Number(s) if s == "10"));
    assert!(matches!(value("!!float 1.30"), Node::Number(s) if s == "1.3"));
    assert!(matches!(value("!!float 2"), Node::Number(s) if s == "2"));
    assert!(matches!(value("!!bool 'true'"), Node::Bool(true)));
    assert!(matches!(value("!!bool Off"), Node::Bool(false)));
    assert!(matches!(value("!!null ''"), Node::Null));
    for bad in ["!!int 1.5", "!!float x", "!!bool maybe"] {
        let error = parse(&format!("V: {bad}\n"), "t.yaml").unwrap_err();
        assert!(error.to_string().starts_with("t.yaml:1:"), "{bad}: {error}");
    }
}

#[test]
fn anchors_alone_are_accepted_and_aliases_refused_where_they_are() {
    let root = load("A: &tags\n  - Key: a\n    Value: b\nC: &name x\n");
    assert!(matches!(root.get("C"), Some(Node::String(s)) if s == "x"));
    let error = parse("A: &tags [a]\nB:\n  C: *tags\n", "t.yaml").unwrap_err();
    assert!(error.to_string().starts_with("t.yaml:3:6: "), "{error}");
    assert!(error
        .to_string()
        .contains("CloudFormation does not accept aliases"));
}

#[test]
fn nested_aliases_are_refused_in_bounded_time_and_memory() {
    // 10^8 leaves once expanded; refused at the first alias, without expanding anything.
    let mut body = String::from("Resources: {T: {Type: AWS::SNS::Topic}}\nMetadata:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g"])
    {
        let items = vec![format!("*{previous}"); 10].join(", ");
        body.push_str(&format!("  {name}: &{name} [{items}]\n"));
    }
    let error = super::super::parse(&body, "bomb.yaml").unwrap_err();
    assert!(
        matches!(&error, TemplateError::UnsupportedYaml { at, .. } if at.line == Some(4)),
        "{error}"
    );
}

#[test]
fn duplicate_keys_are_rejected_with_both_lines() {
    let error = parse("A: 1\nB:\n  C: 1\n  C: 2\n", "t.yaml").unwrap_err();
    assert!(matches!(&error, TemplateError::DuplicateKey { key, first_line: 3, .. } if key == "C"));
    assert_eq!(
        error.to_string(),
        "t.yaml:4:3: cannot load the template: key `C` appears twice (first on line 3)"
    );
}

#[test]
fn a_second_document_is_rejected() {
    let error = parse("A: 1\n---\nB: 2\n", "t.yaml").unwrap_err();
    assert!(
        matches!(&error, TemplateError::MultipleDocuments { at } if at.line == Some(2)),
        "{error}"
    );
    // One document with explicit markers is fine.
    assert!(parse("---\nA: 1\n...\n", "t.yaml").is_ok());
}

#[test]
fn unknown_tags_name_the_tag_file_and_line() {
    let error = parse(
        "Resources:\n  A:\n    Type: !Reff X\n",
        "templates/web.yaml",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "templates/web.yaml:3:11: cannot load the template: unknown tag !Reff"
    );
    let error = parse(
        "A:\n  - 1\n  - !Sub\n    - x\n  - !Bogus\n    - y\n",
        "t.yaml",
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("t.yaml:5:5: "), "{error}");
    let error = parse("A: !Rain::Embed x.sh\n", "t.yaml").unwrap_err();
    assert!(error.to_string().starts_with("t.yaml:1:4: "), "{error}");
    assert!(crate::error::Diagnostic::hint(&error)
        .unwrap()
        .contains("rain pkg"));
    let error = parse("A: !!binary aGk=\n", "t.yaml").unwrap_err();
    assert!(
        error.to_string().ends_with("unknown tag !!binary"),
        "{error}"
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let error = parse("A:\n  B: [1, 2\nC: 3\n", "t.yaml").unwrap_err();
    let TemplateError::Syntax { at, format, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(*format, Format::Yaml);
    assert_eq!(at.line, Some(3), "{error}");
    assert!(at.column.is_some());
}

#[test]
fn a_tab_in_the_indentation_is_pointed_at_on_its_own_line() {
    for (body, line) in [
        ("A:\n  B: x\n\tC: y\n", 3),
        ("A:\n\tB: x\n", 2),
        ("A:\n  B:\n\t- x\n", 3),
    ] {
        let error = parse(body, "t.yaml").unwrap_err();
        let TemplateError::Syntax { at, .. } = &error else {
            panic!("{body:?}: {error}")
        };
        assert_eq!(
            (at.line, at.column),
            (Some(line), Some(1)),
            "{body:?}: {error}"
        );
    }
}

#[test]
fn every_key_has_its_line_with_list_indexes_in_the_path() {
    let lines = key_lines(
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: x\n      Policies:\n        - PolicyName: a\n        - PolicyName: b\n          PolicyDocument: {Statement: []}\n",
    );
    assert_eq!(lines.line_of(&["Resources", "Role"]), Some(2));
    assert_eq!(
        lines.line_of(&["Resources", "Role", "Properties", "RoleName"]),
        Some(5)
    );
    assert_eq!(
        lines.line_of(&[
            "Resources",
            "Role",
            "Properties",
            "Policies",
            "1",
            "PolicyName"
        ]),
        Some(8)
    );
    assert_eq!(
        lines.line_of(&[
            "Resources",
            "Role",
            "Properties",
            "Policies",
            "1",
            "PolicyDocument",
            "Statement"
        ]),
        Some(9)
    );
}
