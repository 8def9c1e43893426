//! What the diff knows about resource types: which hold data, which properties force a
//! replacement. Deliberately a short list of the common types, not the whole registry.

/// Types whose resources hold data that a new release stack would start without.
const STATEFUL_TYPES: &[&str] = &[
    "AWS::AmazonMQ::Broker",
    "AWS::Backup::BackupVault",
    "AWS::Cassandra::Table",
    "AWS::Cognito::UserPool",
    "AWS::DocDB::DBCluster",
    "AWS::DocDBElastic::Cluster",
    "AWS::DynamoDB::GlobalTable",
    "AWS::DynamoDB::Table",
    "AWS::EC2::Volume",
    "AWS::ECR::Repository",
    "AWS::EFS::FileSystem",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::ServerlessCache",
    "AWS::Elasticsearch::Domain",
    "AWS::FSx::FileSystem",
    "AWS::Kinesis::Stream",
    "AWS::MSK::Cluster",
    "AWS::MemoryDB::Cluster",
    "AWS::Neptune::DBCluster",
    "AWS::OpenSearchService::Domain",
    "AWS::QLDB::Ledger",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::Redshift::Cluster",
    "AWS::RedshiftServerless::Namespace",
    "AWS::S3::Bucket",
    "AWS::S3Express::DirectoryBucket",
    "AWS::SQS::Queue",
    "AWS::Timestream::Table",
];

pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL_TYPES.binary_search(&resource_type).is_ok()
}

/// Any property but `Description` (resources that cannot be updated in place).
const ALL_BUT_DESCRIPTION: &[&str] = &["*"];

/// Top-level properties whose change replaces the resource, from the CloudFormation reference
/// ("Update requires: Replacement").
fn replacement_properties(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "AWS::EC2::Instance" => &[
            "AvailabilityZone",
            "CpuOptions",
            "ImageId",
            "KeyName",
            "LaunchTemplate",
            "NetworkInterfaces",
            "PlacementGroupName",
            "PrivateIpAddress",
            "SecurityGroups",
            "SubnetId",
            "Tenancy",
        ],
        "AWS::EC2::SecurityGroup" => &["GroupDescription", "GroupName", "VpcId"],
        "AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress" => ALL_BUT_DESCRIPTION,
        "AWS::EC2::VPC" => &["CidrBlock", "Ipv4IpamPoolId"],
        "AWS::EC2::Subnet" => &[
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "VpcId",
        ],
        "AWS::EC2::LaunchTemplate" => &["LaunchTemplateName"],
        "AWS::AutoScaling::LaunchConfiguration" => ALL_BUT_DESCRIPTION,
        "AWS::ElasticLoadBalancingV2::TargetGroup" => &[
            "IpAddressType",
            "Name",
            "Port",
            "Protocol",
            "ProtocolVersion",
            "TargetType",
            "VpcId",
        ],
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => &["Name", "Scheme", "Type"],
        "AWS::ECS::Cluster" => &["ClusterName"],
        "AWS::ECS::TaskDefinition" => ALL_BUT_DESCRIPTION,
        "AWS::Lambda::Function" => &["FunctionName", "PackageType"],
        "AWS::IAM::Role" => &["Path", "RoleName"],
        "AWS::IAM::ManagedPolicy" => &["ManagedPolicyName", "Path"],
        "AWS::IAM::InstanceProfile" => &["InstanceProfileName", "Path"],
        "AWS::S3::Bucket" => &["BucketName", "ObjectLockEnabled"],
        "AWS::SQS::Queue" => &["FifoQueue", "QueueName"],
        "AWS::SNS::Topic" => &["FifoTopic", "TopicName"],
        "AWS::DynamoDB::Table" => &["KeySchema", "LocalSecondaryIndexes", "TableName"],
        "AWS::RDS::DBInstance" => &[
            "CharacterSetName",
            "DBClusterIdentifier",
            "DBInstanceIdentifier",
            "DBName",
            "KmsKeyId",
            "SourceDBInstanceIdentifier",
            "StorageEncrypted",
        ],
        "AWS::RDS::DBCluster" => &[
            "DBClusterIdentifier",
            "DatabaseName",
            "Engine",
            "KmsKeyId",
            "SnapshotIdentifier",
            "StorageEncrypted",
        ],
        "AWS::EFS::FileSystem" => &["Encrypted", "KmsKeyId", "PerformanceMode"],
        "AWS::Kinesis::Stream" => &["Name"],
        "AWS::Logs::LogGroup" => &["LogGroupName"],
        "AWS::SecretsManager::Secret" => &["Name"],
        "AWS::CloudWatch::Alarm" => &["AlarmName"],
        _ => &[],
    }
}

/// Whether changing `property` (a top-level property name) replaces a resource of this type.
pub fn requires_replacement(resource_type: &str, property: &str) -> bool {
    let properties = replacement_properties(resource_type);
    if properties == ALL_BUT_DESCRIPTION {
        return property != "Description";
    }
    properties.contains(&property)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateful_types_are_sorted_for_binary_search() {
        assert!(STATEFUL_TYPES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(is_stateful("AWS::RDS::DBInstance"));
        assert!(!is_stateful("AWS::EC2::Instance"));
    }

    #[test]
    fn replacement_follows_the_reference() {
        assert!(requires_replacement("AWS::EC2::Instance", "ImageId"));
        assert!(!requires_replacement("AWS::EC2::Instance", "InstanceType"));
        assert!(requires_replacement("AWS::ECS::TaskDefinition", "Cpu"));
        assert!(!requires_replacement(
            "AWS::ECS::TaskDefinition",
            "Description"
        ));
    }
}
