//! Every template of the public corpus `aws-cloudformation-templates` loads (or is rejected as
//! not CloudFormation, by an explicit list), and JSON/YAML twins compare as an independent
//! reader (cfn-lint's YAML 1.1 decoder, `tests/independent/twins.py`) says they should.
//!
//! The corpus is not part of this repository: the tests read it from `CUTOVER_CORPUS_DIR` (`.ci/run`
//! sets it) and are skipped, saying so, without it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cutover::error::Diagnostic;
use cutover::template::{self, differing_paths, Template};

/// Files of the corpus that are not CloudFormation templates as written, with a fragment of the
/// message each must be rejected with.
const NOT_CLOUDFORMATION: &[(&str, &str)] = &[
    // Rain templates and modules: `!Rain::Module`, `!Rain::Embed`, `!Rain::S3` must be expanded by
    // `rain pkg` first (the corpus keeps the expanded `-pkg` versions next to some of them).
    ("APIGateway/apigateway_lambda_integration.yaml", "108:18: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/CustomResources/getfromjson/src/getfromjson.yml", "22:18: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/MacrosExamples/DateFunctions/date.yaml", "41:18: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/MacrosExamples/PyPlate/python.yaml", "60:18: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/MacrosExamples/StringFunctions/string.yaml", "35:18: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/StackSets/common-resources-stackset.yaml", "14:21: cannot load the template: unknown tag !Rain::Embed"),
    ("CloudFormation/StackSets/common-resources.yaml", "17:11: cannot load the template: unknown tag !Rain::Module"),
    ("CloudFormation/StackSets/log-setup-management.yaml", "177:21: cannot load the template: unknown tag !Rain::Embed"),
    ("ElastiCache/Elasticache-snapshot.yaml", "220:18: cannot load the template: unknown tag !Rain::Embed"),
    ("IoT/amzn2-greengrass-cfn.yaml", "369:18: cannot load the template: unknown tag !Rain::Embed"),
    ("RainModules/api-resource.yml", "39:13: cannot load the template: unknown tag !Rain::S3"),
    ("RainModules/bucket.yml", "62:11: cannot load the template: unknown tag !Rain::Module"),
    ("RainModules/static-site.yml", "93:11: cannot load the template: unknown tag !Rain::Module"),
    ("Solutions/GitLab/GitLabServer.yaml", "47:11: cannot load the template: unknown tag !Rain::Module"),
    ("Solutions/GitLabAndVSCode/GitLabAndVSCode.yaml", "52:11: cannot load the template: unknown tag !Rain::Module"),
    ("Solutions/Gitea/Gitea.yaml", "52:11: cannot load the template: unknown tag !Rain::Module"),
    ("Solutions/VSCode/VSCodeServer.yaml", "52:11: cannot load the template: unknown tag !Rain::Module"),
    // Their JSON twins keep the Rain directive as a map where the resource type belongs.
    ("CloudFormation/StackSets/common-resources.json", "resource `Storage` has a `Type` that is a map, not a string"),
    ("Solutions/GitLab/GitLabServer.json", "resource `Network` has a `Type` that is a map, not a string"),
    ("Solutions/GitLabAndVSCode/GitLabAndVSCode.json", "resource `Network` has a `Type` that is a map, not a string"),
    ("Solutions/Gitea/Gitea.json", "resource `Network` has a `Type` that is a map, not a string"),
    ("Solutions/VSCode/VSCodeServer.json", "resource `Network` has a `Type` that is a map, not a string"),
    // Not templates at all: test events for custom resources and macros, a bandit config,
    // CodeBuild buildspecs and a Kubernetes manifest (several YAML documents).
    ("CloudFormation/CustomResources/getfromjson/bandit.json", "not a CloudFormation template: it has no `Resources` section"),
    ("CloudFormation/CustomResources/getfromjson/bandit.yml", "not a CloudFormation template: it has no `Resources` section"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-consume-from-list-retrieval-error.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-consume-from-list.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-consume-from-map-retrieval-error.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-consume-from-map.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-empty-json-data-input.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-empty-search-input.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-invalid-json-data-input.json", "not a CloudFormation template"),
    ("CloudFormation/CustomResources/getfromjson/src/events/event-invalid-search-input.json", "not a CloudFormation template"),
    ("CloudFormation/MacrosExamples/Count/event.json", "not a CloudFormation template"),
    ("CloudFormation/MacrosExamples/Count/event_bad.json", "not a CloudFormation template"),
    ("Solutions/CodeBuildAndCodePipeline/codebuild-app-build.yml", "not a CloudFormation template"),
    ("Solutions/CodeBuildAndCodePipeline/codebuild-app-deploy.yml", "not a CloudFormation template"),
    ("EKS/manifest.yml", "21:1: cannot load the template: a second YAML document starts here"),
];

/// The twins whose JSON and YAML files mean different things, as the corpus stores them (e.g. a
/// `LaunchTemplate` in one and a `LaunchConfig` in the other, newer AMI mappings in one). Pinned
/// so that a loader change which makes twins equal or unequal shows here, even when the
/// independent reader is changed along with it. Twins that differed only by spelling the
/// stack's region for `Fn::GetAZs` (JSON `null`, YAML bare `!GetAZs`) are equal since the loader
/// normalises that argument. Five differ only because the YAML writes `Yes`/`No`/`true` plain
/// (a YAML 1.1 boolean) where the JSON has the strings `"Yes"`/`"No"`: NeptuneDB/Neptune,
/// ADConnector, DirectoryServiceSettings, ManagedAD and VPCFlowLogs-main.
const DIFFERING_TWINS: &[&str] = &[
    "AWSSupplyChain/SapPrivateLink/SapPrivateLink",
    "AWSSupplyChain/SapPrivateLink/SapPrivateLinkNoHostedZone",
    "AutoScaling/AutoScalingRollingUpdates",
    "AutoScaling/AutoScalingScheduledAction",
    "EC2/EC2_Instance_With_Ephemeral_Drives",
    "EC2/EIP_With_Association",
    "EC2/InstanceWithCfnInit",
    "ECS/EC2LaunchType/clusters/private-vpc",
    "ECS/EC2LaunchType/clusters/public-vpc",
    "NeptuneDB/Neptune",
    "Solutions/ADConnector/templates/ADCONNECTOR.cfn",
    "Solutions/AmazonCloudWatchAgent/inline/centos",
    "Solutions/AmazonCloudWatchAgent/inline/redhat",
    "Solutions/AmazonCloudWatchAgent/inline/suse",
    "Solutions/AmazonCloudWatchAgent/ssm/centos",
    "Solutions/AmazonCloudWatchAgent/ssm/redhat",
    "Solutions/AmazonCloudWatchAgent/ssm/suse",
    "Solutions/DirectoryServiceSettings/templates/DIRECTORY_SETTINGS.cfn",
    "Solutions/ManagedAD/templates/MANAGEDAD.cfn",
    "Solutions/VPCFlowLogs/templates/VPCFlowLogs-main.cfn",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The corpus folder from `CUTOVER_CORPUS_DIR`; `None` (with one line saying how to run the
/// test) when it is not set.
fn corpus_root() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CUTOVER_CORPUS_DIR") else {
        eprintln!(
            "skipped: set CUTOVER_CORPUS_DIR to the aws-cloudformation-templates corpus to run the corpus tests (.ci/run does)"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "CUTOVER_CORPUS_DIR={} is not a folder",
        dir.display()
    );
    Some(dir)
}

fn is_template(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json" | "yaml" | "yml")
    )
}

fn template_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            template_files(&path, out);
        } else if is_template(&path) {
            out.push(path);
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .expect("under the corpus")
        .to_string_lossy()
        .into_owned()
}

struct Corpus {
    root: PathBuf,
    loaded: BTreeMap<String, Template>,
    rejected: BTreeMap<String, String>,
}

fn load_corpus() -> Option<Corpus> {
    let root = corpus_root()?;
    let mut files = Vec::new();
    template_files(&root, &mut files);
    files.sort();
    let mut corpus = Corpus {
        root: root.clone(),
        loaded: BTreeMap::new(),
        rejected: BTreeMap::new(),
    };
    for file in files {
        match template::load_file(&file) {
            Ok(template) => {
                corpus.loaded.insert(relative(&root, &file), template);
            }
            Err(error) => {
                assert_eq!(error.exit().code(), 2);
                assert!(
                    error.to_string().starts_with(&file.display().to_string()),
                    "{error}"
                );
                corpus
                    .rejected
                    .insert(relative(&root, &file), error.to_string());
            }
        }
    }
    Some(corpus)
}

#[test]
fn every_corpus_template_loads_or_is_listed_as_not_cloudformation() {
    let Some(corpus) = load_corpus() else { return };
    let total = corpus.loaded.len() + corpus.rejected.len();
    eprintln!(
        "corpus: {total} template files, {} loaded, {} rejected as not CloudFormation",
        corpus.loaded.len(),
        corpus.rejected.len()
    );
    for (path, message) in &corpus.rejected {
        eprintln!("  rejected {path}: {message}");
    }
    // The corpus holds 311 templates and LICENSE.txt; a different count means it moved or changed.
    assert_eq!(
        total,
        311,
        "unexpected number of template files under {}",
        corpus.root.display()
    );

    let expected: BTreeMap<&str, &str> = NOT_CLOUDFORMATION.iter().copied().collect();
    let rejected: BTreeSet<&str> = corpus.rejected.keys().map(String::as_str).collect();
    assert_eq!(
        rejected,
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "rejected files differ from the list"
    );
    for (path, fragment) in expected {
        let message = &corpus.rejected[path];
        assert!(
            message.contains(fragment),
            "{path}: expected `{fragment}` in `{message}`"
        );
    }
}

/// Twin stem (path without extension) → (JSON file, YAML file).
fn twins(corpus: &Corpus) -> BTreeMap<String, (String, String)> {
    let mut pairs = BTreeMap::new();
    let all: BTreeSet<&String> = corpus.loaded.keys().chain(corpus.rejected.keys()).collect();
    for path in &all {
        let Some(stem) = path.strip_suffix(".json") else {
            continue;
        };
        for yaml_ext in [".yaml", ".yml"] {
            let yaml = format!("{stem}{yaml_ext}");
            if all.contains(&yaml) {
                pairs.insert(stem.to_string(), (path.to_string(), yaml));
            }
        }
    }
    pairs
}

/// What the independent reader says: twin stem → differing paths, for every pair it could read.
fn independent_reading(root: &Path) -> BTreeMap<String, Vec<String>> {
    let python = manifest_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run the README's test command once, which creates .venv with cfn-lint",
        python.display()
    );
    let script = manifest_dir().join("tests/independent/twins.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "independent reader (cfn-lint) skipped:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("twins.py prints a JSON object of lists")
}

#[test]
fn twins_differ_exactly_where_an_independent_reading_says() {
    let Some(corpus) = load_corpus() else { return };
    let pairs = twins(&corpus);
    let mut compared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut not_compared = Vec::new();
    for (stem, (json, yaml)) in &pairs {
        match (corpus.loaded.get(json), corpus.loaded.get(yaml)) {
            (Some(from_json), Some(from_yaml)) => {
                let mut paths = differing_paths(&from_json.root, &from_yaml.root);
                paths.sort();
                // The trees' own equality and the path search must agree.
                assert_eq!(from_json.root == from_yaml.root, paths.is_empty(), "{stem}");
                compared.insert(stem.clone(), paths);
            }
            _ => not_compared.push(stem.clone()),
        }
    }
    let differing: BTreeMap<&String, &Vec<String>> =
        compared.iter().filter(|(_, p)| !p.is_empty()).collect();
    eprintln!(
        "twins: {} pairs, {} compared, {} equal, {} differ, {} not compared (one file is not CloudFormation): {:?}",
        pairs.len(),
        compared.len(),
        compared.len() - differing.len(),
        differing.len(),
        not_compared.len(),
        not_compared
    );
    for (stem, paths) in &differing {
        eprintln!("  {stem} differs at {} path(s):", paths.len());
        for path in paths.iter() {
            eprintln!("    {path}");
        }
    }

    assert_eq!(
        differing
            .keys()
            .map(|stem| stem.as_str())
            .collect::<Vec<_>>(),
        DIFFERING_TWINS,
        "the twins that differ are not the expected ones"
    );
    assert_eq!(
        (compared.len(), not_compared.len()),
        (125, 14),
        "(compared, not compared) twins"
    );

    let independent = independent_reading(&corpus.root);
    assert_eq!(
        independent.keys().collect::<BTreeSet<_>>(),
        compared.keys().collect::<BTreeSet<_>>(),
        "the independent reader compared a different set of twins"
    );
    let independent_differing: BTreeSet<&String> = independent
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(stem, _)| stem)
        .collect();
    assert_eq!(
        differing.keys().copied().collect::<BTreeSet<_>>(),
        independent_differing,
        "the loader and the independent reader disagree on which twins differ"
    );
    for (stem, paths) in &compared {
        assert_eq!(
            paths, &independent[stem],
            "{stem}: differing paths disagree with the independent reader"
        );
    }
    assert!(!compared.is_empty() && !differing.is_empty());
}
