#!/usr/bin/env python3
"""An independent reading of the corpus's JSON/YAML twins, for tests/template_corpus.rs.

Loads each pair (same path stem, `.json` and `.yaml`/`.yml`) with cfn-lint's own decoders
(cfn-lint's PyYAML loader with CloudFormation's tag constructors for YAML, cfn-lint's JSON
decoder), normalises both the way the Rust loader's canonical tree compares them (short forms
are already long forms here; `Fn::GetAtt: "A.B"` becomes `[A, B]`; the `Fn::GetAZs` arguments
that name the stack's region (bare `!GetAZs`, "", null, `{"Ref": "AWS::Region"}`) become "";
scalars compare as the text CloudFormation sees after a YAML 1.1 reading; null is distinct from
every string), and prints one JSON object to stdout:
`{twin_stem: [paths where the two files differ]}` for every pair both files of which load (an
empty list means the files mean the same). Paths are JSON Pointers. Pairs that cannot be read
and pairs that are not CloudFormation templates (no `Resources`) are listed on stderr.

Usage: twins.py CORPUS_DIR
"""

import datetime
import importlib.metadata
import json
import math
import os
import sys

import yaml
from cfnlint.decode import cfn_json, cfn_yaml


def twins(root):
    for directory, _, files in os.walk(root):
        names = set(files)
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext != ".json":
                continue
            for yaml_ext in (".yaml", ".yml"):
                if stem + yaml_ext in names:
                    rel = os.path.relpath(os.path.join(directory, stem), root)
                    yield rel, os.path.join(directory, name), os.path.join(directory, stem + yaml_ext)


# The short forms CloudFormation accepts; any other tag (e.g. Rain's `!Rain::Embed`) means the
# file is not a CloudFormation template as written.
KNOWN_TAGS = {
    "Ref", "Condition", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "Select", "Split", "Base64", "Cidr", "GetAZs", "ImportValue", "GetStackOutput",
    "Transform",
    # Rule functions, and the AWS::LanguageExtensions ones.
    "Contains", "EachMemberEquals", "EachMemberIn", "RefAll", "ValueOf", "ValueOfAll",
    "Length", "ToJsonString",
}
# cfn-lint names its loader CfnFullLoader since 1.x and MarkedLoader before; both take
# (stream, filename) and get the "!" multi-constructor added per instance.
CFN_LINT_LOADER = getattr(cfn_yaml, "CfnFullLoader", None) or getattr(cfn_yaml, "MarkedLoader")


class CloudFormationLoader(CFN_LINT_LOADER):
    """cfn-lint's loader: PyYAML's YAML 1.1 resolver (plain yes/no/on/off/true/false are
    booleans, 012 is octal, 0x1F hex, 1.30 the float 1.3), with two readings cutover documents
    as its own: sexagesimal numbers (1:30) and timestamps (2010-09-09) stay text."""


def construct_int(loader, node):
    if ":" in node.value:
        return node.value
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


def construct_float(loader, node):
    if ":" in node.value:
        return node.value
    return yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)


def construct_as_written(loader, node):
    return node.value


CloudFormationLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
CloudFormationLoader.add_constructor("tag:yaml.org,2002:float", construct_float)
CloudFormationLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_as_written)


def known_tags_only(loader, tag_suffix, node):
    if tag_suffix not in KNOWN_TAGS:
        raise ValueError(f"unknown tag !{tag_suffix} (line {node.start_mark.line + 1})")
    return cfn_yaml.multi_constructor(loader, tag_suffix, node)


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        loader = CloudFormationLoader(handle.read(), path)
    loader.add_multi_constructor("!", known_tags_only)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_json(path):
    with open(path, encoding="utf-8") as handle:
        return cfn_json.loads(handle.read())


def scalar_text(value):
    """The text CloudFormation sees for a scalar; None stays None (null is not "")."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


# The arguments of `Fn::GetAZs` that all mean the stack's own region (after `normalise` of the
# argument): a bare `!GetAZs`, "", null and `{"Ref": "AWS::Region"}`; all become "".
STACK_REGION_FORMS = (None, "", {"Ref": "AWS::Region"})


def normalise(value):
    if isinstance(value, dict):
        out = {str(key): normalise(item) for key, item in value.items()}
        if len(out) == 1 and isinstance(out.get("Fn::GetAtt"), str) and "." in out["Fn::GetAtt"]:
            out["Fn::GetAtt"] = out["Fn::GetAtt"].split(".", 1)
        if len(out) == 1 and "Fn::GetAZs" in out and out["Fn::GetAZs"] in STACK_REGION_FORMS:
            out["Fn::GetAZs"] = ""
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return scalar_text(value)


def pointer_segment(key):
    return "/" + str(key).replace("~", "~0").replace("/", "~1")


def differing_paths(left, right, path="", out=None):
    out = [] if out is None else out
    if isinstance(left, dict) and isinstance(right, dict):
        for key, value in left.items():
            if key in right:
                differing_paths(value, right[key], path + pointer_segment(key), out)
            else:
                out.append(path + pointer_segment(key))
        for key in right:
            if key not in left:
                out.append(path + pointer_segment(key))
    elif isinstance(left, list) and isinstance(right, list):
        for index in range(max(len(left), len(right))):
            if index < len(left) and index < len(right):
                differing_paths(left[index], right[index], path + pointer_segment(index), out)
            else:
                out.append(path + pointer_segment(index))
    elif isinstance(left, (dict, list)) or isinstance(right, (dict, list)) or left != right:
        out.append(path)
    return out


def main():
    root = sys.argv[1]
    print(f"cfn-lint {importlib.metadata.version('cfn-lint')}, loader {CFN_LINT_LOADER.__name__}", file=sys.stderr)
    result = {}
    for stem, json_path, yaml_path in twins(root):
        try:
            from_json = normalise(load_json(json_path))
            from_yaml = normalise(load_yaml(yaml_path))
        except Exception as error:  # noqa: BLE001 - report and go on with the other pairs
            print(f"{stem}: cannot read: {error}", file=sys.stderr)
            continue
        if not all(isinstance(doc, dict) and "Resources" in doc for doc in (from_json, from_yaml)):
            print(f"{stem}: not a CloudFormation template (no Resources)", file=sys.stderr)
            continue
        result[stem] = sorted(differing_paths(from_json, from_yaml))
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
