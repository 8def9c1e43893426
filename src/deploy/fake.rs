//! An in-memory CloudFormation for the deploy logic's tests: stacks follow a script of status
//! changes and resource events on tokio's (virtual) clock, and any call can be made to fail.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::aws::cloudformation::{
    CreateStackRequest, StackApi, StackEvent, StackFacts, StackResourceFacts, TemplateSource,
};
use crate::aws::{AwsError, AwsErrorKind};

/// One scripted change, applied once its time (from the call that started it) has come.
#[derive(Debug, Clone)]
pub enum Change {
    /// The stack's status (also logged as a stack-level event).
    Status(&'static str, Option<&'static str>),
    /// A resource event: logical id, type, status, reason.
    Resource(
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    ),
}

pub fn at(seconds: u64, change: Change) -> (Duration, Change) {
    (Duration::from_secs(seconds), change)
}

type FaultRule = Box<dyn Fn(usize, &str) -> Option<AwsErrorKind> + Send>;

struct FakeStack {
    facts: StackFacts,
    template: String,
    events: Vec<StackEvent>,
    pending: Vec<(Instant, Change)>,
    request: CreateStackRequest,
}

#[derive(Default)]
struct State {
    stacks: Vec<FakeStack>,
    calls: Vec<String>,
    event_counter: usize,
    create_script: Option<Vec<(Duration, Change)>>,
    delete_script: Option<Vec<(Duration, Change)>>,
    fault: Option<FaultRule>,
}

#[derive(Default)]
pub struct FakeStackApi {
    state: Mutex<State>,
}

impl FakeStackApi {
    pub fn new() -> FakeStackApi {
        FakeStackApi::default()
    }

    /// What the next created stack goes through (default: complete after 3 s with one resource).
    pub fn script_create(&self, script: Vec<(Duration, Change)>) {
        self.state.lock().unwrap().create_script = Some(script);
    }

    /// What a deleted stack goes through (default: DELETE_COMPLETE after 2 s).
    pub fn script_delete(&self, script: Vec<(Duration, Change)>) {
        self.state.lock().unwrap().delete_script = Some(script);
    }

    /// `rule(call_number, operation)` decides which calls fail and how.
    pub fn fail_calls(&self, rule: impl Fn(usize, &str) -> Option<AwsErrorKind> + Send + 'static) {
        self.state.lock().unwrap().fault = Some(Box::new(rule));
    }

    /// Operation names in call order, e.g. `["create_stack web-r1", "describe_stack ..."]`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn created_requests(&self) -> Vec<CreateStackRequest> {
        let state = self.state.lock().unwrap();
        state
            .stacks
            .iter()
            .map(|stack| stack.request.clone())
            .collect()
    }

    /// A stack that exists already, complete, with this template, tags and parameters.
    pub fn add_existing(
        &self,
        name: &str,
        template: &str,
        tags: &[(&str, &str)],
        parameters: &[(&str, &str)],
        created: SystemTime,
    ) {
        let mut state = self.state.lock().unwrap();
        let id = stack_id(name, state.stacks.len());
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect()
        };
        state.stacks.push(FakeStack {
            facts: StackFacts {
                name: name.into(),
                id,
                status: "CREATE_COMPLETE".into(),
                status_reason: None,
                created: Some(created),
                tags: pairs(tags),
                parameters: pairs(parameters),
                outputs: Vec::new(),
                termination_protection: false,
                exports: Vec::new(),
            },
            template: template.into(),
            events: Vec::new(),
            pending: Vec::new(),
            request: CreateStackRequest {
                name: name.into(),
                template: TemplateSource::Body(template.into()),
                parameters: pairs(parameters),
                tags: pairs(tags),
                capabilities: Vec::new(),
                termination_protection: false,
                rollback_alarm_arns: Vec::new(),
                rollback_monitoring_minutes: None,
                client_request_token: String::new(),
                timeout_minutes: None,
            },
        });
    }

    /// Records the call, applies due changes, and fails it when the fault rule says so.
    fn enter(
        &self,
        operation: &str,
        target: &str,
    ) -> Result<std::sync::MutexGuard<'_, State>, AwsError> {
        let mut state = self.state.lock().unwrap();
        let number = state.calls.len();
        state.calls.push(format!("{operation} {target}"));
        let now = Instant::now();
        let mut counter = state.event_counter;
        for stack in &mut state.stacks {
            apply_due(stack, now, &mut counter);
        }
        state.event_counter = counter;
        if let Some(kind) = state
            .fault
            .as_ref()
            .and_then(|rule| rule(number, operation))
        {
            return Err(AwsError::new(format!("{operation} {target}"), kind));
        }
        Ok(state)
    }
}

fn stack_id(name: &str, index: usize) -> String {
    format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/id-{index}")
}

fn apply_due(stack: &mut FakeStack, now: Instant, counter: &mut usize) {
    let (due, later): (Vec<_>, Vec<_>) =
        stack.pending.drain(..).partition(|(when, _)| *when <= now);
    stack.pending = later;
    for (_, change) in due {
        *counter += 1;
        let timestamp =
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + *counter as u64));
        let event = match change {
            Change::Status(status, reason) => {
                stack.facts.status = status.into();
                stack.facts.status_reason = reason.map(str::to_string);
                StackEvent {
                    id: format!("event-{counter}"),
                    timestamp,
                    logical_id: stack.facts.name.clone(),
                    physical_id: Some(stack.facts.id.clone()),
                    resource_type: "AWS::CloudFormation::Stack".into(),
                    status: status.into(),
                    reason: reason.map(str::to_string),
                }
            }
            Change::Resource(logical, kind, status, reason) => StackEvent {
                id: format!("event-{counter}"),
                timestamp,
                logical_id: logical.into(),
                physical_id: None,
                resource_type: kind.into(),
                status: status.into(),
                reason: reason.map(str::to_string),
            },
        };
        stack.events.push(event);
    }
}

fn schedule(stack: &mut FakeStack, script: Vec<(Duration, Change)>) {
    let now = Instant::now();
    stack.pending = script
        .into_iter()
        .map(|(after, change)| (now + after, change))
        .collect();
}

fn default_create() -> Vec<(Duration, Change)> {
    vec![
        at(
            0,
            Change::Status("CREATE_IN_PROGRESS", Some("User Initiated")),
        ),
        at(
            1,
            Change::Resource(
                "WebSg",
                "AWS::EC2::SecurityGroup",
                "CREATE_IN_PROGRESS",
                None,
            ),
        ),
        at(
            2,
            Change::Resource("WebSg", "AWS::EC2::SecurityGroup", "CREATE_COMPLETE", None),
        ),
        at(3, Change::Status("CREATE_COMPLETE", None)),
    ]
}

fn default_delete() -> Vec<(Duration, Change)> {
    vec![
        at(
            0,
            Change::Status("DELETE_IN_PROGRESS", Some("User Initiated")),
        ),
        at(2, Change::Status("DELETE_COMPLETE", None)),
    ]
}

fn find<'a>(state: &'a mut State, name_or_id: &str) -> Option<&'a mut FakeStack> {
    // By id: any stack, deleted ones too. By name: the newest that is not deleted.
    if let Some(index) = state
        .stacks
        .iter()
        .position(|stack| stack.facts.id == name_or_id)
    {
        return state.stacks.get_mut(index);
    }
    state
        .stacks
        .iter_mut()
        .rev()
        .find(|stack| stack.facts.name == name_or_id && stack.facts.status != "DELETE_COMPLETE")
}

fn not_found(action: String, name: &str) -> AwsError {
    AwsError::new(
        action,
        AwsErrorKind::NotFound {
            message: format!("Stack with id {name} does not exist"),
        },
    )
}

impl StackApi for FakeStackApi {
    async fn create_stack(&self, request: &CreateStackRequest) -> Result<String, AwsError> {
        let mut state = self.enter("create_stack", &request.name)?;
        if let Some(existing) = find(&mut state, &request.name) {
            if existing.request.client_request_token == request.client_request_token {
                return Ok(existing.facts.id.clone());
            }
            return Err(AwsError::new(
                format!("create stack {}", request.name),
                AwsErrorKind::Rejected {
                    code: "AlreadyExistsException".into(),
                    message: format!("Stack [{}] already exists", request.name),
                },
            ));
        }
        let id = stack_id(&request.name, state.stacks.len());
        let template = match &request.template {
            TemplateSource::Body(body) => body.clone(),
            TemplateSource::Url(url) => format!("(from {url})"),
        };
        let mut stack = FakeStack {
            facts: StackFacts {
                name: request.name.clone(),
                id: id.clone(),
                status: "CREATE_IN_PROGRESS".into(),
                status_reason: None,
                created: Some(SystemTime::now()),
                tags: request.tags.clone(),
                parameters: request.parameters.clone(),
                outputs: vec![("Url".into(), format!("http://{}.example", request.name))],
                termination_protection: request.termination_protection,
                exports: Vec::new(),
            },
            template,
            events: Vec::new(),
            pending: Vec::new(),
            request: request.clone(),
        };
        let script = state.create_script.clone().unwrap_or_else(default_create);
        schedule(&mut stack, script);
        let mut counter = state.event_counter;
        apply_due(&mut stack, Instant::now(), &mut counter);
        state.event_counter = counter;
        state.stacks.push(stack);
        Ok(id)
    }

    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackFacts>, AwsError> {
        let mut state = self.enter("describe_stack", name_or_id)?;
        Ok(find(&mut state, name_or_id).map(|stack| stack.facts.clone()))
    }

    async fn list_stacks_tagged(&self, key: &str) -> Result<Vec<StackFacts>, AwsError> {
        let state = self.enter("list_stacks_tagged", key)?;
        Ok(state
            .stacks
            .iter()
            .filter(|stack| {
                stack.facts.status != "DELETE_COMPLETE" && stack.facts.tag(key).is_some()
            })
            .map(|stack| stack.facts.clone())
            .collect())
    }

    async fn stack_events(
        &self,
        name_or_id: &str,
        until_event_id: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let mut state = self.enter("stack_events", name_or_id)?;
        let stack = find(&mut state, name_or_id).ok_or_else(|| {
            not_found(format!("read the events of stack {name_or_id}"), name_or_id)
        })?;
        Ok(stack
            .events
            .iter()
            .rev()
            .take_while(|event| Some(event.id.as_str()) != until_event_id)
            .cloned()
            .collect())
    }

    async fn template_body(&self, name_or_id: &str) -> Result<String, AwsError> {
        let mut state = self.enter("template_body", name_or_id)?;
        find(&mut state, name_or_id)
            .map(|stack| stack.template.clone())
            .ok_or_else(|| {
                not_found(
                    format!("read the template of stack {name_or_id}"),
                    name_or_id,
                )
            })
    }

    async fn delete_stack(&self, name_or_id: &str) -> Result<(), AwsError> {
        let mut state = self.enter("delete_stack", name_or_id)?;
        let script = state.delete_script.clone().unwrap_or_else(default_delete);
        let mut counter = state.event_counter;
        if let Some(stack) = find(&mut state, name_or_id) {
            schedule(stack, script);
            apply_due(stack, Instant::now(), &mut counter);
        }
        state.event_counter = counter;
        Ok(())
    }

    async fn set_termination_protection(
        &self,
        name_or_id: &str,
        enabled: bool,
    ) -> Result<(), AwsError> {
        let mut state = self.enter("set_termination_protection", name_or_id)?;
        if let Some(stack) = find(&mut state, name_or_id) {
            stack.facts.termination_protection = enabled;
        }
        Ok(())
    }

    async fn stack_resources(&self, name_or_id: &str) -> Result<Vec<StackResourceFacts>, AwsError> {
        let _state = self.enter("stack_resources", name_or_id)?;
        Ok(Vec::new())
    }

    async fn list_imports(&self, export_name: &str) -> Result<Vec<String>, AwsError> {
        let _state = self.enter("list_imports", export_name)?;
        Ok(Vec::new())
    }
}
