//! Rewrites moto's CloudFormation and ELBv2 answers so a stack looks failed and targets look
//! unhealthy: moto itself never fails a stack and calls every registered target healthy.
//! The answers are small, regular XML, so the edits are string-level and scoped to the
//! top-level `<member>` of the stack or resource concerned.

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, SystemTime};

/// How a named stack should look failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Creation failed and rollback was disabled: `CREATE_FAILED`, the resource `CREATE_FAILED`.
    CreateFailed { resource: String, reason: String },
    /// Creation failed and was rolled back: `ROLLBACK_COMPLETE`, every resource `DELETE_COMPLETE`.
    RollbackComplete { resource: String, reason: String },
    /// Once a `DeleteStack` arrives (answered with success, not forwarded), the stack stays and
    /// reports `DELETE_FAILED` with the resource `DELETE_FAILED`. A `DeleteStack` that names
    /// `RetainResources` goes through and really deletes it, as CloudFormation allows.
    DeleteFailed { resource: String, reason: String },
    /// The stack stays `CREATE_IN_PROGRESS` (moto finishes every stack at once), its resources
    /// too, until the fault is cleared; deleting it works as usual. For timeouts and for
    /// resuming an interrupted run.
    StuckCreating,
}

impl FailMode {
    /// The logical id of the failed resource.
    pub fn resource(&self) -> Option<&str> {
        match self {
            FailMode::CreateFailed { resource, .. }
            | FailMode::RollbackComplete { resource, .. }
            | FailMode::DeleteFailed { resource, .. } => Some(resource),
            FailMode::StuckCreating => None,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            FailMode::CreateFailed { reason, .. }
            | FailMode::RollbackComplete { reason, .. }
            | FailMode::DeleteFailed { reason, .. } => reason,
            FailMode::StuckCreating => "",
        }
    }
}

/// A scripted failure of one stack, with what the proxy learnt about it.
#[derive(Debug)]
pub struct StackFault {
    pub mode: FailMode,
    pub delete_requested: bool,
    /// When the failure "happened": fixed at the first answer that shows it, so repeated
    /// polls see the same events.
    pub failed_at: Option<SystemTime>,
    /// `(ResourceType, PhysicalResourceId)` of the failed resource, looked up in moto.
    pub resource_info: Option<(String, String)>,
}

impl StackFault {
    pub fn new(mode: FailMode) -> StackFault {
        StackFault {
            mode,
            delete_requested: false,
            failed_at: None,
            resource_info: None,
        }
    }

    pub fn is_visible(&self) -> bool {
        !matches!(self.mode, FailMode::DeleteFailed { .. }) || self.delete_requested
    }

    fn stack_status(&self) -> &'static str {
        match self.mode {
            FailMode::CreateFailed { .. } => "CREATE_FAILED",
            FailMode::RollbackComplete { .. } => "ROLLBACK_COMPLETE",
            FailMode::DeleteFailed { .. } => "DELETE_FAILED",
            FailMode::StuckCreating => "CREATE_IN_PROGRESS",
        }
    }

    fn stack_reason(&self) -> Option<String> {
        let resource = self.mode.resource().unwrap_or_default();
        match self.mode {
            FailMode::CreateFailed { .. } => Some(format!(
                "The following resource(s) failed to create: [{resource}]. "
            )),
            FailMode::RollbackComplete { .. } | FailMode::StuckCreating => None,
            FailMode::DeleteFailed { .. } => Some(format!(
                "The following resource(s) failed to delete: [{resource}]. "
            )),
        }
    }

    fn failed_at(&mut self) -> SystemTime {
        *self.failed_at.get_or_insert_with(SystemTime::now)
    }
}

/// The stack name in a `StackName` parameter that may be a name or a stack ARN.
pub fn stack_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":stack/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

/// DescribeStacks (`Stacks`) and ListStacks (`StackSummaries`): status and reason of every
/// failed stack's member. Deleted stacks of the same name keep their `DELETE_COMPLETE`.
pub fn rewrite_stack_list(
    xml: &str,
    container: &str,
    faults: &mut HashMap<String, StackFault>,
) -> String {
    edit_members(xml, container, |member| {
        let name = element_text(member, "StackName")?;
        let fault = faults.get_mut(name).filter(|fault| fault.is_visible())?;
        if element_text(member, "StackStatus") == Some("DELETE_COMPLETE") {
            return None;
        }
        fault.failed_at();
        let edited = set_element(
            member,
            "StackStatus",
            Some(fault.stack_status()),
            "StackStatus",
        );
        let reason = fault.stack_reason().map(|reason| escape(&reason));
        let edited = set_element(
            &edited,
            "StackStatusReason",
            reason.as_deref(),
            "StackStatus",
        );
        if fault.mode == FailMode::StuckCreating {
            // A stack still being created has no outputs yet.
            return Some(set_element(&edited, "Outputs", None, "Outputs"));
        }
        Some(edited)
    })
}

/// DescribeStackResources (`StackResources`) and ListStackResources (`StackResourceSummaries`).
pub fn rewrite_stack_resources(xml: &str, container: &str, fault: &StackFault) -> String {
    if !fault.is_visible() {
        return xml.to_string();
    }
    let (status, only_failed) = match fault.mode {
        FailMode::CreateFailed { .. } => ("CREATE_FAILED", true),
        FailMode::RollbackComplete { .. } => ("DELETE_COMPLETE", false),
        FailMode::DeleteFailed { .. } => ("DELETE_FAILED", true),
        FailMode::StuckCreating => ("CREATE_IN_PROGRESS", false),
    };
    edit_members(xml, container, |member| {
        let is_failed = fault.mode.resource().is_some()
            && element_text(member, "LogicalResourceId") == fault.mode.resource();
        if only_failed && !is_failed {
            return None;
        }
        let edited = set_element(member, "ResourceStatus", Some(status), "ResourceStatus");
        let reason = is_failed.then(|| escape(fault.mode.reason()));
        Some(set_element(
            &edited,
            "ResourceStatusReason",
            reason.as_deref(),
            "ResourceStatus",
        ))
    })
}

/// DescribeStackEvents: adds the per-resource and stack-level events of the failure (newest
/// first, as CloudFormation lists them) and drops moto's contradicting `CREATE_COMPLETE`.
pub fn rewrite_stack_events(xml: &str, fault: &mut StackFault) -> String {
    if !fault.is_visible() {
        return xml.to_string();
    }
    let Some(first) = container_members(xml, "StackEvents").into_iter().next() else {
        return xml.to_string();
    };
    let first = &xml[first];
    let (Some(stack_id), Some(stack_name)) = (
        element_text(first, "StackId"),
        element_text(first, "StackName"),
    ) else {
        return xml.to_string();
    };
    let resource = fault.mode.resource().unwrap_or_default().to_string();
    let reason = fault.mode.reason().to_string();
    let (resource_type, mut physical_id) = fault
        .resource_info
        .clone()
        .unwrap_or_else(|| ("UNKNOWN".into(), String::new()));
    if !matches!(fault.mode, FailMode::DeleteFailed { .. }) {
        // A resource that failed to create has no physical id.
        physical_id.clear();
    }
    // Oldest first here; each entry: (logical id, status, reason); None = the stack itself.
    let script: Vec<(Option<&str>, &str, Option<String>)> = match fault.mode {
        FailMode::CreateFailed { .. } => vec![
            (Some(&resource), "CREATE_IN_PROGRESS", None),
            (Some(&resource), "CREATE_FAILED", Some(reason)),
            (None, "CREATE_FAILED", fault.stack_reason()),
        ],
        FailMode::RollbackComplete { .. } => vec![
            (Some(&resource), "CREATE_IN_PROGRESS", None),
            (Some(&resource), "CREATE_FAILED", Some(reason)),
            (
                None,
                "ROLLBACK_IN_PROGRESS",
                Some(format!(
                    "The following resource(s) failed to create: [{resource}]. Rollback requested by user."
                )),
            ),
            (Some(&resource), "DELETE_COMPLETE", None),
            (None, "ROLLBACK_COMPLETE", None),
        ],
        FailMode::DeleteFailed { .. } => vec![
            (None, "DELETE_IN_PROGRESS", Some("User Initiated".into())),
            (Some(&resource), "DELETE_IN_PROGRESS", None),
            (Some(&resource), "DELETE_FAILED", Some(reason)),
            (None, "DELETE_FAILED", fault.stack_reason()),
        ],
        // Only moto's own CREATE_IN_PROGRESS, without its CREATE_COMPLETE.
        FailMode::StuckCreating => Vec::new(),
    };
    let failed_at = fault.failed_at();
    let mut synthetic = String::new();
    for (index, (logical, status, reason)) in script.iter().enumerate().rev() {
        let (name, id) = (stack_name, stack_id);
        let timestamp =
            humantime::format_rfc3339_micros(failed_at + Duration::from_millis(index as u64));
        let (logical_id, physical, kind) = match logical {
            Some(logical) => (*logical, physical_id.as_str(), resource_type.as_str()),
            None => (name, id, "AWS::CloudFormation::Stack"),
        };
        synthetic.push_str(&format!(
            "<member><StackId>{id}</StackId><EventId>{logical_id}-{status}-fault-proxy-{index}</EventId>\
             <StackName>{name}</StackName><LogicalResourceId>{logical_id}</LogicalResourceId>"
        ));
        if !physical.is_empty() {
            synthetic.push_str(&format!(
                "<PhysicalResourceId>{physical}</PhysicalResourceId>"
            ));
        }
        synthetic.push_str(&format!(
            "<ResourceType>{kind}</ResourceType><Timestamp>{timestamp}</Timestamp><ResourceStatus>{status}</ResourceStatus>"
        ));
        if let Some(reason) = reason {
            synthetic.push_str(&format!(
                "<ResourceStatusReason>{}</ResourceStatusReason>",
                escape(reason)
            ));
        }
        synthetic.push_str("</member>");
    }
    let drop_create_complete = !matches!(fault.mode, FailMode::DeleteFailed { .. });
    let kept = edit_members(xml, "StackEvents", |member| {
        let is_stack = element_text(member, "ResourceType") == Some("AWS::CloudFormation::Stack");
        let complete = element_text(member, "ResourceStatus") == Some("CREATE_COMPLETE");
        (drop_create_complete && is_stack && complete).then(String::new)
    });
    let open = "<StackEvents>";
    let at = kept.find(open).expect("the events were found above") + open.len();
    format!("{}{}{}", &kept[..at], synthetic, &kept[at..])
}

/// DescribeTargetHealth: every target `unhealthy`, failing its health checks.
pub fn rewrite_target_health(xml: &str) -> String {
    xml.replace(
        "<State>healthy</State>",
        "<State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason>\
         <Description>Health checks failed</Description>",
    )
}

/// The spans of the top-level `<member>` elements of `<container>`.
fn container_members(xml: &str, container: &str) -> Vec<Range<usize>> {
    let open = format!("<{container}>");
    let close = format!("</{container}>");
    let Some(start) = xml.find(&open).map(|at| at + open.len()) else {
        return Vec::new();
    };
    let end = xml[start..]
        .rfind(&close)
        .map_or(xml.len(), |at| start + at);
    let mut members = Vec::new();
    let (mut depth, mut member_start, mut at) = (0usize, start, start);
    while let Some(offset) = xml[at..end].find('<') {
        at += offset;
        let rest = &xml[at..end];
        if rest.starts_with("<member>") {
            if depth == 0 {
                member_start = at;
            }
            depth += 1;
        } else if rest.starts_with("</member>") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                members.push(member_start..at + "</member>".len());
            }
        }
        at += 1;
    }
    members
}

/// Replaces the members for which `edit` returns a new text.
fn edit_members(
    xml: &str,
    container: &str,
    mut edit: impl FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut copied = 0;
    for span in container_members(xml, container) {
        if let Some(replacement) = edit(&xml[span.clone()]) {
            out.push_str(&xml[copied..span.start]);
            out.push_str(&replacement);
            copied = span.end;
        }
    }
    out.push_str(&xml[copied..]);
    out
}

/// The text of the first `<tag>` element.
pub fn element_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

/// Sets (or with `None` removes) the first `<tag>` element; a missing one is inserted right
/// after the `</after>` element.
fn set_element(xml: &str, tag: &str, value: Option<&str>, after: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    if let Some(start) = xml.find(&open) {
        if let Some(end) = xml[start..].find(&close).map(|at| start + at + close.len()) {
            let replacement = value.map_or(String::new(), |value| format!("{open}{value}{close}"));
            return format!("{}{}{}", &xml[..start], replacement, &xml[end..]);
        }
    }
    let (Some(value), Some(at)) = (value, xml.find(&format!("</{after}>"))) else {
        return xml.to_string();
    };
    let at = at + after.len() + 3;
    format!("{}{open}{value}{close}{}", &xml[..at], &xml[at..])
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_members_of_the_named_stack_change() {
        let xml = "<R><Stacks><member><StackName>a</StackName><StackStatus>CREATE_COMPLETE</StackStatus>\
                   <Tags><member><Key>k</Key></member></Tags></member><member><StackName>b</StackName>\
                   <StackStatus>CREATE_COMPLETE</StackStatus></member></Stacks></R>";
        let mode = FailMode::CreateFailed {
            resource: "Asg".into(),
            reason: "no <capacity>".into(),
        };
        let mut faults = HashMap::from([("a".to_string(), StackFault::new(mode))]);
        let out = rewrite_stack_list(xml, "Stacks", &mut faults);
        assert_eq!(
            out,
            "<R><Stacks><member><StackName>a</StackName><StackStatus>CREATE_FAILED</StackStatus>\
             <StackStatusReason>The following resource(s) failed to create: [Asg]. </StackStatusReason>\
             <Tags><member><Key>k</Key></member></Tags></member><member><StackName>b</StackName>\
             <StackStatus>CREATE_COMPLETE</StackStatus></member></Stacks></R>"
        );
    }

    #[test]
    fn stack_names_come_out_of_arns() {
        assert_eq!(
            stack_name_of("arn:aws:cloudformation:us-east-1:1:stack/web-r1/abc"),
            "web-r1"
        );
        assert_eq!(stack_name_of("web-r1"), "web-r1");
    }
}
