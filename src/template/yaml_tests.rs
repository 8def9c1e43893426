use super::*;

fn load(body: &str) -> Node {
    parse(body, "t.yaml").unwrap_or_else(|error| panic!("{body:?} should load: {error}"))
}

fn value(body: &str) -> Node {
    load(&format!("V: {body}\n")).get("V").cloned().unwrap()
}

#[test]
fn plain_scalars_are_typed_as_cloudformation_reads_them() {
    for text in ["true", "True", "TRUE"] {
        assert!(matches!(value(text), Node::Bool(true)), "{text}");
    }
    for text in ["false", "False", "FALSE"] {
        assert!(matches!(value(text), Node::Bool(false)), "{text}");
    }
    for text in ["null", "~", ""] {
        assert!(matches!(value(text), Node::Null), "{text:?}");
    }
    for text in [
        "80", "-1", "+3", "1.10", "1e5", "-2.5E-3", ".5", "0x1F", "0o17", "1_000", ".inf", ".nan",
        "012",
    ] {
        match value(text) {
            Node::Number(kept) => assert_eq!(kept, text),
            other => panic!("{text} loaded as {other:?}"),
        }
    }
    for text in [
        "2010-09-09",
        "1.2.3",
        "yes",
        "No",
        "on",
        "v1",
        "1.2.3-beta",
        "0x",
        "e5",
        "1e",
        "1:30",
        ".",
    ] {
        match value(text) {
            Node::String(kept) => assert_eq!(kept, text),
            other => panic!("{text} loaded as {other:?}"),
        }
    }
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
    assert!(matches!(value("!!int '80'"), Node::Number(s) if s == "80"));
    assert!(matches!(value("!!bool 'true'"), Node::Bool(true)));
    assert!(matches!(value("!!null ''"), Node::Null));
}

#[test]
fn anchors_and_aliases_resolve() {
    let root = load("A: &tags\n  - Key: a\n    Value: b\nB: *tags\nC: &name x\nD: *name\n");
    assert_eq!(root.get("A"), root.get("B"));
    assert!(matches!(root.get("D"), Some(Node::String(s)) if s == "x"));
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
fn number_detection_rejects_non_numbers() {
    for text in [
        "", "-", "+", "_1", "1._5", "1.5.", "0b2", "0o8", "1e+", "--1", "1-2",
    ] {
        assert!(!is_yaml_number(text), "{text:?}");
    }
}
