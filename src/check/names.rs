//! Which properties set a resource's physical name, from the CloudFormation resource provider
//! schemas (generated into `physical_names.tsv` by `scripts/gen-physical-names.py`, which says
//! how a name property is told apart and which schema version it read), and the resource types
//! an account or region has one of.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("physical_names.tsv");

/// A property that sets a resource's physical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameProperty {
    /// `BucketName`, `Name`, …
    pub property: &'static str,
    /// The properties naming the parent within which the name is unique (`RoleName` for an
    /// inline policy's `PolicyName`); empty when it is unique in the account and region.
    pub scope: Vec<&'static str>,
}

fn table() -> &'static HashMap<&'static str, Vec<NameProperty>> {
    static TABLE_BY_TYPE: OnceLock<HashMap<&'static str, Vec<NameProperty>>> = OnceLock::new();
    TABLE_BY_TYPE.get_or_init(|| {
        let mut by_type: HashMap<&str, Vec<NameProperty>> = HashMap::new();
        for line in TABLE.lines().filter(|line| !line.starts_with('#')) {
            let mut columns = line.split('\t');
            let (Some(resource_type), Some(property)) = (columns.next(), columns.next()) else {
                continue;
            };
            let scope = columns
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|part| !part.is_empty())
                .collect();
            by_type
                .entry(resource_type)
                .or_default()
                .push(NameProperty { property, scope });
        }
        by_type
    })
}

/// The properties that set the physical name of `resource_type`; empty for a type without one
/// (or unknown to the schemas).
pub fn physical_name_properties(resource_type: &str) -> &'static [NameProperty] {
    table().get(resource_type).map_or(&[], Vec::as_slice)
}

/// How many resource types have a physical name property, and the schema version line of the
/// table (`cfn-lint 1.58.0 (us-east-1, schema date …)`).
pub fn coverage() -> (usize, &'static str) {
    let version = TABLE
        .lines()
        .find(|line| line.contains("schema date"))
        .map_or("", |line| line.trim_start_matches("# "));
    (table().len(), version)
}

/// Resource types an account has one of per region, with the documentation that says so: a
/// release stack cannot create a second.
pub const SINGLETONS: &[(&str, &str)] = &[
    (
        "AWS::ApiGateway::Account",
        "API Gateway keeps one account-level setting per region",
    ),
    (
        "AWS::GuardDuty::Detector",
        "GuardDuty allows one detector per account and region",
    ),
    (
        "AWS::Config::ConfigurationRecorder",
        "AWS Config allows one configuration recorder per account and region",
    ),
    (
        "AWS::Config::DeliveryChannel",
        "AWS Config allows one delivery channel per account and region",
    ),
    (
        "AWS::SecurityHub::Hub",
        "Security Hub is enabled once per account and region",
    ),
    (
        "AWS::Detective::Graph",
        "Detective has one behavior graph per account and region",
    ),
    (
        "AWS::Macie::Session",
        "Macie is enabled once per account and region",
    ),
    (
        "AWS::IAM::OIDCProvider",
        "an OIDC provider's URL is unique in the account",
    ),
    (
        "AWS::IAM::ServiceLinkedRole",
        "a service has one service-linked role per account (per custom suffix): the second is \"has been taken\"",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_the_schemas_and_the_common_names() {
        let (types, version) = coverage();
        println!("physical name properties: {types} resource types ({version})");
        assert!(types > 500, "{types}");
        assert!(version.contains("cfn-lint"), "{version}");
        for (resource_type, property) in [
            ("AWS::S3::Bucket", "BucketName"),
            ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"),
            ("AWS::IAM::Role", "RoleName"),
            ("AWS::Lambda::Function", "FunctionName"),
            ("AWS::DynamoDB::Table", "TableName"),
            ("AWS::SQS::Queue", "QueueName"),
            ("AWS::Logs::LogGroup", "LogGroupName"),
            ("AWS::CloudWatch::Alarm", "AlarmName"),
            ("AWS::RDS::DBInstance", "DBInstanceIdentifier"),
        ] {
            assert!(
                properties(resource_type).contains(&property),
                "{resource_type} {property}"
            );
        }
        // Names unique within a parent carry it: from a composite primary identifier, or from
        // the generator's documented list.
        let scope = |resource_type: &str| physical_name_properties(resource_type)[0].scope.clone();
        assert_eq!(scope("AWS::IAM::RolePolicy"), ["RoleName"]);
        assert_eq!(scope("AWS::ApiGateway::Stage"), ["RestApiId"]);
        assert_eq!(scope("AWS::Lambda::Alias"), ["FunctionName"]);
        assert!(scope("AWS::S3::Bucket").is_empty());
        assert!(
            properties("AWS::Route53::HostedZone").is_empty(),
            "zone names may repeat"
        );
        // References to other resources are not names: an instance's KeyName, a VPC's nothing.
        assert!(!properties("AWS::EC2::Instance").contains(&"KeyName"));
        assert!(properties("AWS::EC2::VPC").is_empty());
    }

    fn properties(resource_type: &str) -> Vec<&'static str> {
        physical_name_properties(resource_type)
            .iter()
            .map(|name| name.property)
            .collect()
    }
}
