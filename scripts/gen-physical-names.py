#!/usr/bin/env python3
"""Generates src/check/physical_names.tsv: for every CloudFormation resource type, the top-level
properties that set its physical name, from the CloudFormation resource provider schemas that
cfn-lint ships (cfnlint/data/schemas: the us-east-1 provider list and its resource schemas).

A property sets the physical name when the user writes it (not in `readOnlyProperties`), it
takes a string, and either
- it is the resource's (one-part) primary identifier, and is `Name` or `<X>Name` /
  `<X>Identifier` for the resource's own kind (`AWS::S3::Bucket` BucketName,
  `AWS::RDS::DBInstance` DBInstanceIdentifier; not `AWS::ARCZonalShift::…` ResourceIdentifier,
  which names another resource), or
- it can only be set at creation (`createOnlyProperties`) and is `Name`, or `<X>Name` where the
  type's own name ends in X (`AWS::SQS::Queue` QueueName, `AWS::EC2::SecurityGroup` GroupName):
  names of the resource itself, not references to others (`AWS::EC2::Instance` KeyName is not).

A name is often unique only within a parent (an inline policy within its role, a stage within
its API, a log stream within its log group): the table's third column lists the properties of
that scope, and the name collides between releases only when the scope is the same too. The
scope is the rest of the schema's composite primary identifier (`AWS::IAM::RolePolicy`:
[PolicyName, RoleName]), or, where the schema's identifier is an ARN, the parent the service's
API documentation names (SCOPES below). NOT_UNIQUE lists name properties AWS lets repeat.

usage: scripts/gen-physical-names.py [--check]   (with .venv's python, where cfn-lint is)
  --check  compare with the committed table instead of writing it; exit 1 when it differs.
"""

import importlib.metadata
import json
import os
import sys

import cfnlint

SCHEMAS = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
OUT = os.path.join(os.path.dirname(__file__), "..", "src", "check", "physical_names.tsv")


# Names unique within a parent that the schema's primary identifier (an ARN) does not show, with
# the API documentation that says so. They extend or replace the composite-identifier scope.
SCOPES = {
    # EventBridge PutRule: a rule name is unique per event bus.
    ("AWS::Events::Rule", "Name"): ["EventBusName"],
    # Lambda CreateAlias: an alias name is unique per function.
    ("AWS::Lambda::Alias", "Name"): ["FunctionName"],
    # EC2 CreateSecurityGroup: "the name must be unique within the VPC".
    ("AWS::EC2::SecurityGroup", "GroupName"): ["VpcId"],
    # Application Auto Scaling PutScalingPolicy: a policy name is unique per scalable target.
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName"): ["ScalingTargetId", "ResourceId"],
    # AppSync CreateDataSource: per GraphQL API.
    ("AWS::AppSync::DataSource", "Name"): ["ApiId"],
    # App Mesh: names are unique within a mesh (routes within their router or gateway).
    ("AWS::AppMesh::VirtualNode", "VirtualNodeName"): ["MeshName"],
    ("AWS::AppMesh::VirtualRouter", "VirtualRouterName"): ["MeshName"],
    ("AWS::AppMesh::VirtualService", "VirtualServiceName"): ["MeshName"],
    ("AWS::AppMesh::VirtualGateway", "VirtualGatewayName"): ["MeshName"],
    ("AWS::AppMesh::Route", "RouteName"): ["MeshName", "VirtualRouterName"],
    ("AWS::AppMesh::GatewayRoute", "GatewayRouteName"): ["MeshName", "VirtualGatewayName"],
    # EKS CreateNodegroup: per cluster.
    ("AWS::EKS::Nodegroup", "NodegroupName"): ["ClusterName"],
    # RDS Proxy: endpoints and target groups (always "default") belong to their proxy.
    ("AWS::RDS::DBProxyEndpoint", "DBProxyEndpointName"): ["DBProxyName"],
    ("AWS::RDS::DBProxyTargetGroup", "TargetGroupName"): ["DBProxyName"],
    # CodeArtifact CreateRepository: per domain.
    ("AWS::CodeArtifact::Repository", "RepositoryName"): ["DomainName"],
    # EventBridge Schemas CreateSchema: per registry.
    ("AWS::EventSchemas::Schema", "SchemaName"): ["RegistryName"],
    # Amplify CreateBranch: per app.
    ("AWS::Amplify::Branch", "BranchName"): ["AppId"],
    # Glue CreateUserDefinedFunction: per database.
    ("AWS::Glue::UserDefinedFunction", "FunctionName"): ["DatabaseName"],
    # MSK topics: per cluster.
    ("AWS::MSK::Topic", "TopicName"): ["ClusterArn"],
    # Route 53 traffic policy instances: a record name within its hosted zone.
    ("AWS::Route53::TrafficPolicyInstance", "Name"): ["HostedZoneId"],
}

# Names the schemas do not show as top-level name properties, each with why: rows of
# (type, property path (nested with "."), scope). SAM's types are not in the provider schemas:
# the AWS::Serverless transform expands them into the types above, names included.
EXTRA = [
    # The name is inside an input structure (Glue CreateTable / CreateDatabase).
    ("AWS::Glue::Table", "TableInput.Name", ["DatabaseName"]),
    ("AWS::Glue::Database", "DatabaseInput.Name", []),
    # A listener takes each rule priority once (ELBv2 CreateRule: PriorityInUse).
    ("AWS::ElasticLoadBalancingV2::ListenerRule", "Priority", ["ListenerArn"]),
    # An alternate domain name belongs to one distribution (CloudFront: CNAMEAlreadyExists).
    ("AWS::CloudFront::Distribution", "DistributionConfig.Aliases", []),
    # A key pair's name is its KeyName (EC2 CreateKeyPair: InvalidKeyPair.Duplicate).
    ("AWS::EC2::KeyPair", "KeyName", []),
    # A prefix domain is unique in the region (Cognito CreateUserPoolDomain).
    ("AWS::Cognito::UserPoolDomain", "Domain", []),
    ("AWS::Serverless::Function", "FunctionName", []),
    ("AWS::Serverless::SimpleTable", "TableName", []),
    ("AWS::Serverless::StateMachine", "Name", []),
]

# Name properties AWS lets repeat: Route 53 CreateHostedZone allows several hosted zones with the
# same name (a public and private ones, or a new zone while migrating).
NOT_UNIQUE = {("AWS::Route53::HostedZone", "Name")}


def scope_of(type_name, prop, schema, read_only):
    """The properties within whose values `prop` is unique: empty for an account-wide name."""
    if (type_name, prop) in SCOPES:
        return SCOPES[(type_name, prop)]
    primary = [p.split("/")[-1] for p in schema.get("primaryIdentifier", []) if p.count("/") == 2]
    if len(primary) < 2:
        return []
    return [p for p in primary if p != prop and p not in read_only]


def is_string(schema, prop):
    definition = schema.get("properties", {}).get(prop, {})
    if "$ref" in definition:
        name = definition["$ref"].rsplit("/", 1)[-1]
        definition = schema.get("definitions", {}).get(name, {})
    kind = definition.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind) or kind is None and "enum" not in definition and "properties" not in definition and "items" not in definition


def names_own_kind(prop, own, suffixes, primary=False):
    """Whether `prop` names the resource itself, not another one it refers to:
    - `Name`, or the type's own name when that is a name (`AWS::ApiGateway::DomainName`
      DomainName; not `AWS::Personalize::Schema` Schema, which is the schema);
    - `<X>Name` where the type's name ends in X or X starts with it (`AWS::SQS::Queue`
      QueueName, `AWS::EC2::SecurityGroup` GroupName, `AWS::S3::Bucket` BucketName); for the
      primary identifier also where X ends in the type's name (`AWS::ElastiCache::SubnetGroup`
      CacheSubnetGroupName), which elsewhere names another resource of the kind
      (`AWS::DocDB::DBCluster` SourceDBClusterIdentifier);
    - `<X>Identifier` / `<X>Id` where X is the type's name (`AWS::RDS::DBInstance`
      DBInstanceIdentifier, `AWS::ElastiCache::ReplicationGroup` ReplicationGroupId)."""
    if prop == "Name" or (prop == own and prop.endswith("Name")):
        return True
    for suffix in suffixes:
        stem = prop[: -len(suffix)] if prop.endswith(suffix) else None
        if not stem:
            continue
        if suffix == "Name":
            if own.endswith(stem) or stem.startswith(own) or (primary and stem.endswith(own)):
                return True
        elif stem == own:
            return True
    return False


def name_properties(type_name, schema):
    props = schema.get("properties", {})
    read_only = {p.split("/")[-1] for p in schema.get("readOnlyProperties", []) if p.count("/") == 2}
    create_only = {p.split("/")[-1] for p in schema.get("createOnlyProperties", []) if p.count("/") == 2}
    primary = [p.split("/")[-1] for p in schema.get("primaryIdentifier", []) if p.count("/") == 2]
    own = type_name.rsplit("::", 1)[-1]
    found = []
    for prop in sorted(props):
        if prop in read_only or not is_string(schema, prop):
            continue
        primary_name = primary == [prop] and names_own_kind(prop, own, ("Name", "Identifier", "Id"), primary=True)
        own_name = prop in create_only and names_own_kind(prop, own, ("Name", "Identifier"))
        if (primary_name or own_name) and (type_name, prop) not in NOT_UNIQUE:
            found.append((prop, scope_of(type_name, prop, schema, read_only)))
    return found


def table():
    with open(os.path.join(SCHEMAS, "providers", "us-east-1.json"), encoding="utf-8") as handle:
        index = json.load(handle)
    with open(os.path.join(SCHEMAS, "version.json"), encoding="utf-8") as handle:
        schema_date = json.load(handle).get("schema_date", "unknown")
    rows = []
    for type_name in sorted(index):
        path = os.path.join(SCHEMAS, "resources", index[type_name] + ".json")
        with open(path, encoding="utf-8") as handle:
            schema = json.load(handle)
        for prop, scope in name_properties(type_name, schema):
            rows.append(f"{type_name}\t{prop}\t{','.join(scope)}")
    for type_name, prop, scope in EXTRA:
        rows.append(f"{type_name}\t{prop}\t{','.join(scope)}")
    rows.sort()
    named = {tuple(row.split("\t")[:2]) for row in rows}
    stale = sorted(set(SCOPES) - named)
    if stale:
        sys.exit(f"SCOPES names properties the schemas no longer have as names: {stale}")
    header = [
        "# Physical-name properties of CloudFormation resource types: TYPE<TAB>PROPERTY<TAB>SCOPE",
        "# (SCOPE: the comma-separated properties within which the name is unique; empty: the account).",
        "# Generated by scripts/gen-physical-names.py from the resource provider schemas in",
        f"# cfn-lint {importlib.metadata.version('cfn-lint')} (us-east-1, schema date {schema_date}).",
        f"# {len(index)} resource types, {len({row.split(chr(9))[0] for row in rows})} with a physical name property.",
    ]
    return "\n".join(header + rows) + "\n"


def count_line(text):
    return next(line for line in text.splitlines() if "with a physical name property" in line).lstrip("# ")


def main():
    text = table()
    if "--check" in sys.argv[1:]:
        with open(OUT, encoding="utf-8") as handle:
            committed = handle.read()
        # The header names the cfn-lint version; only the rows must match.
        rows = lambda body: [line for line in body.splitlines() if not line.startswith("#")]
        if rows(committed) != rows(text):
            sys.stderr.write("src/check/physical_names.tsv differs from the schemas; run scripts/gen-physical-names.py\n")
            sys.exit(1)
        print(count_line(text))
        return
    with open(OUT, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(count_line(text))


if __name__ == "__main__":
    main()
