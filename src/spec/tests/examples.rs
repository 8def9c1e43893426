use std::path::Path;

use super::super::*;
use super::{Fixture, ALB};

#[test]
fn every_example_in_the_repository_loads() {
    let stacks = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let apps = list_apps(&stacks).unwrap();
    for expected in ["api", "bastion", "web"] {
        assert!(
            apps.iter().any(|app| app == expected),
            "stacks/{expected}.toml is missing: {apps:?}"
        );
    }
    for app in &apps {
        let spec =
            load_app(&stacks, app).unwrap_or_else(|error| panic!("stacks/{app}.toml: {error}"));
        assert!(spec.template.is_file());
    }
}

/// The TOML blocks of `README.md`, so the reference cannot drift from the parser.
fn doc_blocks() -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_complete_example_in_the_docs_loads() {
    let blocks = doc_blocks();
    let complete = blocks
        .iter()
        .find(|block| block.starts_with("template ="))
        .expect("README.md has a complete example");
    let fixture = Fixture::new();
    std::fs::write(
        fixture.dir.path().join("templates/web.yaml"),
        "Resources: {}\n",
    )
    .unwrap();
    let app = fixture
        .load(complete)
        .unwrap_or_else(|error| panic!("{error}\n{complete}"));
    assert_eq!(
        app.strategy.kind,
        StrategyKind::Canary {
            percent: 10,
            bake: std::time::Duration::from_secs(300)
        }
    );
    assert_eq!(app.parameters.len(), 5);
}

#[test]
fn every_table_example_in_the_docs_loads() {
    let blocks: Vec<String> = doc_blocks()
        .into_iter()
        .filter(|block| block.starts_with('['))
        .collect();
    assert!(
        blocks.len() >= 8,
        "found only {} table examples",
        blocks.len()
    );
    for block in blocks {
        // Each fragment is completed with what it does not show: a template, a router, and an
        // AMI parameter for `refresh_ami`.
        let mut text = String::from("template = \"../templates/app.yaml\"\n");
        if !block.contains("[parameters]") {
            text.push_str("[parameters]\nAmiId = { ssm = \"/aws/service/ami\" }\n");
        }
        text.push_str(&block);
        if !block.contains("[router]") {
            text.push_str(ALB);
        }
        if let Err(error) = Fixture::new().load(&text) {
            panic!("README.md example does not load: {error}\n{text}");
        }
    }
}
