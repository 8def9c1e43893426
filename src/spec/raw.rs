//! The spec as written: serde structs that reject unknown keys and wrong types (toml attaches the
//! span, so those errors get a line). Rules that need more than one key live in `validate`.

use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::types::{Capability, RecordType};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpec {
    pub template: String,
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: IndexMap<String, RawValue>,
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    #[serde(default)]
    pub stack: RawStack,
    pub router: RawRouter,
    pub strategy: Option<RawStrategy>,
    #[serde(default)]
    pub gates: RawGates,
    #[serde(default)]
    pub retention: RawRetention,
    #[serde(default)]
    pub rotation: RawRotation,
    #[serde(default)]
    pub check: RawCheck,
    #[serde(default)]
    pub aws: RawAws,
    #[serde(default)]
    pub notify: RawNotify,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAws {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub sns_topic: Option<RawValue>,
    pub webhook: Option<RawWebhook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub url: String,
    pub header: Option<String>,
    pub header_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    #[serde(default)]
    pub ignore: Vec<RawIgnore>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { rule = \"CO101\", resource = \"Inbox\", reason = \"why\" } (resource is optional)"
)]
pub(crate) struct RawIgnore {
    pub rule: String,
    pub resource: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStack {
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub termination_protection: bool,
    pub timeout: Option<RawDuration>,
    pub template_bucket: Option<String>,
    #[serde(default)]
    pub rollback_alarms: Vec<String>,
    pub rollback_monitoring: Option<RawDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RouterKind {
    Alb,
    Route53,
    Eip,
}

/// Flat, so that a key of another router kind gets a message naming the kind it belongs to
/// rather than serde's "unknown field".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouter {
    pub kind: RouterKind,
    pub listener: Option<RawValue>,
    pub rule: Option<RawValue>,
    pub target_group_output: Option<String>,
    pub hosted_zone_id: Option<RawValue>,
    pub record_name: Option<String>,
    pub record_type: Option<RecordType>,
    pub ttl: Option<u32>,
    pub endpoint_output: Option<String>,
    pub alias_zone_output: Option<String>,
    pub allocation_id: Option<RawValue>,
    pub instance_output: Option<String>,
    pub test_traffic: Option<RawTestTraffic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTestTraffic {
    pub header: String,
    pub priority: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StrategyName {
    AllAtOnce,
    Canary,
    Linear,
    Steps,
}

/// Flat for the same reason as [`RawRouter`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStrategy {
    pub kind: StrategyName,
    pub percent: Option<u32>,
    pub bake: Option<RawDuration>,
    pub step: Option<u32>,
    pub interval: Option<RawDuration>,
    pub weights: Option<Vec<u32>>,
    pub pause: Option<RawDuration>,
    pub final_bake: Option<RawDuration>,
    pub hold_for_stickiness: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGates {
    pub target_health: Option<RawTargetHealth>,
    #[serde(default)]
    pub instance_status: bool,
    #[serde(default)]
    pub alarms: Vec<String>,
    #[serde(default)]
    pub alarm_outputs: Vec<String>,
    pub http: Option<RawHttp>,
    pub command: Option<String>,
    pub compare: Option<RawCompare>,
    pub interval: Option<RawDuration>,
    pub warmup: Option<RawDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompare {
    pub window: Option<RawDuration>,
    pub confidence: Option<f64>,
    pub warmup: Option<RawDuration>,
    pub min_requests: Option<u64>,
    pub min_minutes: Option<usize>,
    pub metrics: Vec<RawCompareMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompareMetric {
    pub name: String,
    pub statistic: Option<String>,
    pub tolerance: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargetHealth {
    pub min_healthy: Option<u32>,
    pub target_group_output: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub url: Option<String>,
    pub url_output: Option<String>,
    pub expect_status: Option<u16>,
    pub body_contains: Option<String>,
    pub timeout: Option<RawDuration>,
    pub retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    pub keep: Option<u32>,
    pub retire_after: Option<RawDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRotation {
    pub max_age: Option<RawDuration>,
    #[serde(default)]
    pub refresh_ami: bool,
}

/// A duration written the humantime way: "30s", "5m", "2h", "30d", "1h 30m", "0".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RawDuration(pub Duration);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5m\", \"2h\" or \"30d\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawDuration, E> {
                humantime::parse_duration(text.trim())
                    .map(RawDuration)
                    .map_err(|error| {
                        E::custom(format!(
                            "invalid duration \"{text}\": {error} (write e.g. \"30s\", \"5m\", \"2h\", \"30d\")"
                        ))
                    })
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// A value that is either a literal or a table naming where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    Literal(String),
    /// Boxed: the table is ten times the size of a literal.
    Source(Box<RawSourceTable>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawSourceTable {
    pub env: Option<String>,
    pub ssm: Option<String>,
    pub stack_output: Option<String>,
    pub output: Option<String>,
    pub latest_ami: Option<RawAmiQuery>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAmiQuery {
    pub owners: Vec<String>,
    pub name: String,
    pub architecture: Option<String>,
    #[serde(default)]
    pub filters: IndexMap<String, Vec<String>>,
}

pub(crate) const SOURCE_KEYS: &[&str] = &["env", "ssm", "stack_output", "output", "latest_ami"];

/// toml hands a datetime to serde as a one-key map under this name.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

enum SourceKey {
    Env,
    Ssm,
    StackOutput,
    Output,
    LatestAmi,
    Datetime,
}

impl<'de> Deserialize<'de> for SourceKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = SourceKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value source key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<SourceKey, E> {
                Ok(match key {
                    "env" => SourceKey::Env,
                    "ssm" => SourceKey::Ssm,
                    "stack_output" => SourceKey::StackOutput,
                    "output" => SourceKey::Output,
                    "latest_ami" => SourceKey::LatestAmi,
                    TOML_DATETIME_KEY => SourceKey::Datetime,
                    other => return Err(E::unknown_field(other, SOURCE_KEYS)),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// One element of a list literal: a string or a number, as text.
struct ListItem(String);

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl Visitor<'_> for ItemVisitor {
            type Value = ListItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ListItem, E> {
                Ok(ListItem(text.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ListItem, E> {
                Ok(ListItem(value.to_string()))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ListItem, E> {
                Ok(ListItem(value.to_string()))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<ListItem, E> {
                Ok(ListItem(format!("{value:?}")))
            }
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a literal (string, number, boolean) or a table with one of \
                     `env`, `ssm`, `stack_output`, `latest_ami`",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawValue, E> {
                Ok(RawValue::Literal(text.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<RawValue, E> {
                Ok(RawValue::Literal(value.to_string()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawValue, E> {
                Ok(RawValue::Literal(value.to_string()))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawValue, E> {
                Ok(RawValue::Literal(value.to_string()))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<RawValue, E> {
                if !value.is_finite() {
                    return Err(E::custom(format!(
                        "{value} is not a number CloudFormation accepts"
                    )));
                }
                // Debug keeps the fraction of whole numbers: 1.0 stays "1.0", not "1".
                Ok(RawValue::Literal(format!("{value:?}")))
            }
            /// A list becomes the comma-joined text CloudFormation expects for
            /// `CommaDelimitedList` and `List<...>` parameters.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<ListItem>()? {
                    items.push(item.0);
                }
                Ok(RawValue::Literal(items.join(",")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
                let mut table = RawSourceTable::default();
                while let Some(key) = map.next_key::<SourceKey>()? {
                    match key {
                        SourceKey::Env => table.env = Some(map.next_value()?),
                        SourceKey::Ssm => table.ssm = Some(map.next_value()?),
                        SourceKey::StackOutput => table.stack_output = Some(map.next_value()?),
                        SourceKey::Output => table.output = Some(map.next_value()?),
                        SourceKey::LatestAmi => table.latest_ami = Some(map.next_value()?),
                        // An unquoted TOML date or time: CloudFormation only sees text anyway.
                        SourceKey::Datetime => {
                            return Ok(RawValue::Literal(map.next_value::<String>()?))
                        }
                    }
                }
                Ok(RawValue::Source(Box::new(table)))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}
