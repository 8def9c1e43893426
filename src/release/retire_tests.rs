use super::*;
use crate::release::retention::RetirementPlan;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn report_exit_is_1_when_something_was_not_retired() {
    let mut report = RetirementReport {
        app: "web".into(),
        dry_run: false,
        rollback_target: None,
        plan: RetirementPlan::default(),
        outcomes: vec![RetireOutcome::Deleted {
            stack: "web-r1".into(),
            unrouted: true,
            retained: Vec::new(),
        }],
        warnings: Vec::new(),
    };
    assert_eq!(report.exit(), Exit::Success);
    report.outcomes.push(RetireOutcome::DeleteFailed {
        stack: "web-r2".into(),
        status: "DELETE_FAILED".into(),
        reason: "Bucket (AWS::S3::Bucket) DELETE_FAILED: not empty".into(),
        resources: vec!["Bucket (AWS::S3::Bucket): not empty".into()],
        attention_mark_error: None,
    });
    assert_eq!(report.exit(), Exit::Changes);
    let text = report.render_text();
    assert!(text.contains("retired web-r1: taken out of the router, stack deleted"));
    assert!(text.contains("could not retire web-r2: DELETE_FAILED"));
    assert!(text.contains("    Bucket (AWS::S3::Bucket): not empty"));
    assert!(text.contains("marked for an operator's attention"));
}

mod steps {
    //! The retirement steps against in-memory fakes of CloudFormation and the router, on
    //! virtual time (the deletion wait polls with tokio's clock).

    use std::sync::{Arc, Mutex};

    use super::super::*;
    use super::pairs;
    use crate::aws::cloudformation::{CreateStackRequest, StackResourceFacts};
    use crate::aws::AwsErrorKind;
    use crate::deploy::wait::WaitDisplay;
    use crate::release::discovery::releases_of;
    use crate::release::live::derive_roles;

    type Log = Arc<Mutex<Vec<String>>>;

    struct FakeStacks {
        stacks: Mutex<Vec<StackFacts>>,
        /// Stacks whose deletion fails, with the resource and reason.
        fails: Vec<(String, String, String)>,
        /// Stack id → template body (default: one topic).
        templates: Vec<(String, String)>,
        /// Export name → the stack importing it.
        imports: Vec<(String, String)>,
        log: Log,
    }

    impl StackApi for FakeStacks {
        async fn create_stack(&self, _: &CreateStackRequest) -> Result<String, AwsError> {
            unreachable!("retirement creates nothing")
        }

        async fn describe_stack(&self, id: &str) -> Result<Option<StackFacts>, AwsError> {
            let stacks = self.stacks.lock().unwrap();
            Ok(stacks.iter().find(|stack| stack.id == id).cloned())
        }

        async fn list_stacks_tagged(&self, _: &str) -> Result<Vec<StackFacts>, AwsError> {
            unreachable!("the caller passes the observed releases")
        }

        async fn stack_events(
            &self,
            id: &str,
            _: Option<&str>,
        ) -> Result<Vec<StackEvent>, AwsError> {
            let stacks = self.stacks.lock().unwrap();
            let stack = stacks.iter().find(|stack| stack.id == id).unwrap();
            Ok(self
                .fails
                .iter()
                .filter(|(name, ..)| *name == stack.name && stack.status == "DELETE_FAILED")
                .map(|(_, resource, reason)| StackEvent {
                    id: format!("{resource}-failed"),
                    timestamp: Some(SystemTime::now()),
                    logical_id: resource.clone(),
                    physical_id: Some(format!("{resource}-physical")),
                    resource_type: "AWS::S3::Bucket".into(),
                    status: "DELETE_FAILED".into(),
                    reason: Some(reason.clone()),
                })
                .collect())
        }

        async fn template_body(&self, id: &str) -> Result<String, AwsError> {
            Ok(self
                .templates
                .iter()
                .find(|(stack, _)| stack == id)
                .map(|(_, body)| body.clone())
                .unwrap_or_else(|| "Resources:\n  Topic: {Type: AWS::SNS::Topic}\n".into()))
        }

        async fn list_imports(&self, export: &str) -> Result<Vec<String>, AwsError> {
            Ok(self
                .imports
                .iter()
                .filter(|(name, _)| name == export)
                .map(|(_, importer)| importer.clone())
                .collect())
        }

        async fn delete_stack(&self, id: &str) -> Result<(), AwsError> {
            let mut stacks = self.stacks.lock().unwrap();
            let stack = stacks.iter_mut().find(|stack| stack.id == id).unwrap();
            self.log
                .lock()
                .unwrap()
                .push(format!("delete {}", stack.name));
            let fails = self.fails.iter().any(|(name, ..)| *name == stack.name);
            stack.status = if fails {
                "DELETE_FAILED"
            } else {
                "DELETE_COMPLETE"
            }
            .into();
            Ok(())
        }

        async fn set_termination_protection(&self, id: &str, _: bool) -> Result<(), AwsError> {
            self.log.lock().unwrap().push(format!("unprotect {id}"));
            Err(AwsError::new(
                format!("lift the termination protection of stack {id}"),
                AwsErrorKind::Other {
                    message: "error parsing XML: no root element".into(),
                },
            ))
        }

        async fn stack_resources(&self, _: &str) -> Result<Vec<StackResourceFacts>, AwsError> {
            let mut resources: Vec<StackResourceFacts> = self
                .fails
                .iter()
                .map(|(_, resource, reason)| StackResourceFacts {
                    logical_id: resource.clone(),
                    physical_id: None,
                    resource_type: "AWS::S3::Bucket".into(),
                    status: "DELETE_FAILED".into(),
                    reason: Some(reason.clone()),
                })
                .collect();
            resources.push(StackResourceFacts {
                logical_id: "Archive".into(),
                physical_id: Some("web-archive-4f2a".into()),
                resource_type: "AWS::S3::Bucket".into(),
                status: "CREATE_COMPLETE".into(),
                reason: None,
            });
            Ok(resources)
        }
    }

    /// Marks as the log sees them: `mark <stack> attention=<reason>` for each attention mark,
    /// `mark <stack> retired` for each retirement.
    struct FakeMarks {
        log: Log,
    }

    impl MarkStore for FakeMarks {
        async fn read_marks(&self, _: &str) -> Result<Vec<(String, String)>, AwsError> {
            Ok(Vec::new())
        }

        async fn read_mark(&self, _: &str, _: &str) -> Result<Option<String>, AwsError> {
            Ok(None)
        }

        async fn write_mark(&self, _: &str, stack: &str, json: &str) -> Result<(), AwsError> {
            let mark: crate::release::marks::Mark = serde_json::from_str(json).unwrap();
            let line = match (&mark.attention, &mark.retired_at) {
                (Some(attention), _) => format!("mark {stack} attention={attention}"),
                (None, Some(_)) => format!("mark {stack} retired"),
                (None, None) => format!("mark {stack}"),
            };
            self.log.lock().unwrap().push(line);
            Ok(())
        }
    }

    struct FakeRouter {
        weights: Mutex<Weights>,
        refuse_writes: bool,
        log: Log,
    }

    impl TrafficRouter for FakeRouter {
        async fn read_weights(&self) -> Result<Weights, RouterError> {
            Ok(self.weights.lock().unwrap().clone())
        }

        async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
            self.log.lock().unwrap().push(format!("route {weights}"));
            if self.refuse_writes {
                return Err(RouterError::Rejected {
                    action: format!("set weights {weights}"),
                    source: None,
                });
            }
            *self.weights.lock().unwrap() = weights.clone();
            Ok(())
        }

        fn supports_gradual(&self) -> bool {
            true
        }
    }

    /// Rules of other routes that forward to a release, by stack name.
    #[derive(Default)]
    struct FakeOtherRoutes(Vec<(String, String)>);

    impl OtherRoutes for FakeOtherRoutes {
        async fn routes_to(&self, release: &StackFacts) -> Result<Vec<String>, AwsError> {
            Ok(self
                .0
                .iter()
                .filter(|(stack, _)| *stack == release.name)
                .map(|(_, rule)| rule.clone())
                .collect())
        }
    }

    #[derive(Default)]
    struct FakeBaselines(Mutex<Option<String>>);

    impl BaselineStore for FakeBaselines {
        async fn read_baseline(&self, _: &str) -> Result<Option<String>, AwsError> {
            Ok(self.0.lock().unwrap().clone())
        }

        async fn list_baselines(&self, _: &str) -> Result<Vec<(String, String)>, AwsError> {
            unreachable!("retirement writes the baseline it was given")
        }

        async fn write_baseline(&self, _: &str, value: &str) -> Result<(), AwsError> {
            *self.0.lock().unwrap() = Some(value.to_string());
            Ok(())
        }
    }

    struct Quiet;

    impl WaitDisplay for Quiet {
        fn event(&mut self, _: &str, _: &StackEvent) {}
        fn status(&mut self, _: &str, _: &str) {}
        fn finish(&mut self) {}
    }

    fn stack(name: &str, hour: u64, protected: bool) -> StackFacts {
        let created = humantime::format_rfc3339_seconds(
            SystemTime::UNIX_EPOCH + Duration::from_secs(hour * 3600),
        )
        .to_string();
        StackFacts {
            name: name.into(),
            id: format!("id/{name}"),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
            created: None,
            tags: pairs(&[
                ("cutover:app", "web"),
                ("cutover:release", name.trim_start_matches("web-")),
                ("cutover:created", &created),
                ("cutover:template-sha256", "00"),
            ]),
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: protected,
            exports: Vec::new(),
        }
    }

    fn spec() -> AppSpec {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("app.yaml");
        std::fs::write(&template, "Resources: {}\n").unwrap();
        crate::spec::parse(
            "web".into(),
            &dir.path().join("web.toml"),
            "template = \"app.yaml\"\n[router]\nkind = \"alb\"\nlistener = \"arn:listener\"\ntarget_group_output = \"Group\"\n",
        )
        .unwrap()
    }

    struct World {
        stacks: FakeStacks,
        marks: FakeMarks,
        router: FakeRouter,
        other_routes: FakeOtherRoutes,
        baselines: FakeBaselines,
        app: AppReleases,
        log: Log,
    }

    fn world(weights: &[(&str, u8)], fails: &[&str], refuse_writes: bool) -> World {
        let log: Log = Arc::default();
        let facts = vec![
            stack("web-r1", 1, true),
            stack("web-r2", 2, false),
            stack("web-r3", 3, false),
        ];
        let weights: Weights = weights.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let app = AppReleases {
            app: "web".into(),
            releases: derive_roles(
                releases_of("web", facts.clone()),
                Some(&weights),
                SystemTime::now(),
            ),
            weights: Some(weights.clone()),
            router: None,
            router_error: None,
            baseline: None,
            other_apps: Vec::new(),
            other_baselines: Vec::new(),
            stickiness: None,
            marks: Default::default(),
        };
        World {
            stacks: FakeStacks {
                stacks: Mutex::new(facts),
                fails: fails
                    .iter()
                    .map(|name| {
                        (
                            name.to_string(),
                            "Logs".to_string(),
                            "The bucket you tried to delete is not empty".to_string(),
                        )
                    })
                    .collect(),
                templates: Vec::new(),
                imports: Vec::new(),
                log: log.clone(),
            },
            marks: FakeMarks { log: log.clone() },
            router: FakeRouter {
                weights: Mutex::new(weights),
                refuse_writes,
                log: log.clone(),
            },
            other_routes: FakeOtherRoutes::default(),
            baselines: FakeBaselines::default(),
            app,
            log,
        }
    }

    async fn retire(world: &World, stacks: &[&str]) -> (Vec<RetireOutcome>, Vec<String>) {
        let spec = spec();
        let retirement = Retirement {
            stacks: &world.stacks,
            marks: &world.marks,
            router: &world.router,
            spec: &spec,
            other_routes: &world.other_routes,
            baselines: &world.baselines,
        };
        let names: Vec<String> = stacks.iter().map(|s| s.to_string()).collect();
        let (cleared, mut outcomes) = retirement
            .take_out_of_router(&world.app, &names, None)
            .await;
        let mut warnings = Vec::new();
        for (cleared, unrouted) in cleared {
            outcomes.push(match cleared {
                Cleared::Baseline => retirement.release_baseline(&world.app, unrouted).await,
                Cleared::Stack(stack) => {
                    retirement
                        .delete(&stack, unrouted, &mut Quiet, &mut warnings)
                        .await
                }
            });
        }
        (outcomes, warnings)
    }

    #[tokio::test(start_paused = true)]
    async fn a_release_another_rule_still_forwards_to_is_kept_and_the_rule_named() {
        let mut world = world(&[("web-r3", 100), ("web-r1", 0)], &[], false);
        world.other_routes = FakeOtherRoutes(vec![(
            "web-r1".into(),
            "rule arn:rule/api (priority 20)".into(),
        )]);
        let (outcomes, _) = retire(&world, &["web-r1", "web-r2"]).await;
        assert_eq!(
            outcomes[0],
            RetireOutcome::Refused {
                stack: "web-r1".into(),
                reason: "another route still forwards to its target group: rule arn:rule/api (priority 20)".into()
            }
        );
        assert_eq!(
            outcomes[1],
            RetireOutcome::Deleted {
                stack: "web-r2".into(),
                unrouted: false,
                retained: Vec::new(),
            }
        );
        let log = world.log.lock().unwrap();
        assert!(!log.iter().any(|line| line.contains("web-r1")), "{log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_release_whose_export_another_stack_imports_is_kept_at_once_and_marked() {
        let mut world = world(&[("web-r3", 100), ("web-r1", 0)], &[], false);
        world.stacks.stacks.lock().unwrap()[0].exports = vec!["web-r1-queue".into()];
        world.app.releases[0].stack.exports = vec!["web-r1-queue".into()];
        world.stacks.imports = vec![("web-r1-queue".into(), "billing".into())];
        let (outcomes, _) = retire(&world, &["web-r1"]).await;
        assert_eq!(
            outcomes,
            [RetireOutcome::Refused {
                stack: "web-r1".into(),
                reason: "other stacks import its exports (web-r1-queue by billing); CloudFormation cannot delete it until they stop".into()
            }]
        );
        let log = world.log.lock().unwrap();
        assert!(
            !log.iter().any(|line| line.starts_with("delete")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|line| line.starts_with("mark web-r1 attention=other stacks import")),
            "{log:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dry_run_says_what_would_be_kept_and_left_behind_by_reads_alone() {
        let mut world = world(&[("web-r3", 100), ("web-r1", 0)], &[], false);
        world.stacks.stacks.lock().unwrap()[0].exports = vec!["web-r1-queue".into()];
        world.app.releases[0].stack.exports = vec!["web-r1-queue".into()];
        world.stacks.imports = vec![("web-r1-queue".into(), "billing".into())];
        world.stacks.templates = vec![(
            "id/web-r2".into(),
            "Resources:\n  Archive:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n"
                .into(),
        )];
        let spec = spec();
        let retirement = Retirement {
            stacks: &world.stacks,
            marks: &world.marks,
            router: &world.router,
            spec: &spec,
            other_routes: &world.other_routes,
            baselines: &world.baselines,
        };
        let mut warnings = Vec::new();
        let outcomes = retirement
            .preview(
                &world.app,
                &["web-r1".to_string(), "web-r2".to_string()],
                &mut warnings,
            )
            .await;
        assert_eq!(
            outcomes,
            [
                RetireOutcome::WouldKeep {
                    stack: "web-r1".into(),
                    reason: "other stacks import its exports (web-r1-queue by billing); CloudFormation cannot delete it until they stop".into()
                },
                RetireOutcome::WouldRetire {
                    stack: "web-r2".into(),
                    retained: vec!["Archive (AWS::S3::Bucket) web-archive-4f2a".into()],
                }
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let log = world.log.lock().unwrap();
        assert!(
            !log.iter().any(|line| line.starts_with("delete")
                || line.starts_with("mark")
                || line.starts_with("set")),
            "a dry run only reads: {log:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn what_a_deletion_keeps_is_listed_with_physical_ids() {
        let mut world = world(&[("web-r3", 100)], &[], false);
        world.stacks.templates = vec![(
            "id/web-r2".into(),
            "Resources:\n  Archive:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n  Topic: {Type: AWS::SNS::Topic}\n".into(),
        )];
        let (outcomes, _) = retire(&world, &["web-r2"]).await;
        assert_eq!(
            outcomes,
            [RetireOutcome::Deleted {
                stack: "web-r2".into(),
                unrouted: false,
                retained: vec!["Archive (AWS::S3::Bucket) web-archive-4f2a".into()],
            }]
        );
        assert!(outcomes[0]
            .describe()
            .contains("left in the account by its DeletionPolicy"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_baseline_is_let_go_out_of_the_route_never_deleted() {
        let mut world = world(&[("web-r3", 100), (BASELINE, 0)], &[], false);
        let record = Baseline::new(
            "listener arn:listener".into(),
            crate::route::BaselineTarget::TargetGroup {
                arn: "arn:tg/legacy".into(),
            },
            SystemTime::UNIX_EPOCH,
            "ops".into(),
        );
        world.app.baseline = Some(crate::release::live::ObservedBaseline {
            record,
            weight: Some(0),
            routed: true,
        });
        let (outcomes, _) = retire(&world, &[BASELINE]).await;
        assert_eq!(
            outcomes,
            [RetireOutcome::Released {
                stack: BASELINE.into(),
                target: "target group arn:tg/legacy".into(),
                unrouted: true
            }]
        );
        assert_eq!(*world.log.lock().unwrap(), ["route web-r3 100%"]);
        let stored: Baseline =
            serde_json::from_str(world.baselines.0.lock().unwrap().as_deref().unwrap()).unwrap();
        assert!(stored.is_released());
        assert!(outcomes[0].describe().contains("it was not deleted"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_routed_release_leaves_the_router_before_its_stack_is_deleted() {
        let world = world(&[("web-r3", 100), ("web-r2", 0), ("web-r1", 0)], &[], false);
        let (outcomes, warnings) = retire(&world, &["web-r1"]).await;
        assert_eq!(
            outcomes,
            [RetireOutcome::Deleted {
                stack: "web-r1".into(),
                unrouted: true,
                retained: Vec::new(),
            }]
        );
        assert_eq!(
            *world.log.lock().unwrap(),
            [
                "route web-r2 0%, web-r3 100%",
                "unprotect id/web-r1",
                "delete web-r1",
                // Remembered for `history` after the stack is gone.
                "mark web-r1 retired"
            ]
        );
        // Termination protection that cannot be lifted is a warning, not a failure.
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("deleting stack web-r1 anyway"));
    }

    #[tokio::test(start_paused = true)]
    async fn releases_with_traffic_or_live_are_refused_and_untouched() {
        let world = world(&[("web-r3", 90), ("web-r2", 10)], &[], false);
        let (outcomes, _) = retire(&world, &["web-r2", "web-r3"]).await;
        assert_eq!(
            outcomes,
            [
                RetireOutcome::Refused {
                    stack: "web-r2".into(),
                    reason: "it carries 10% of the traffic now".into()
                },
                RetireOutcome::Refused {
                    stack: "web-r3".into(),
                    reason: "it carries 90% of the traffic now".into()
                }
            ]
        );
        assert!(world.log.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_router_that_refuses_the_write_keeps_the_routed_release() {
        let world = world(&[("web-r3", 100), ("web-r1", 0)], &[], true);
        let (outcomes, _) = retire(&world, &["web-r1", "web-r2"]).await;
        // web-r2 was never routed: safe to delete whatever the router did.
        assert!(matches!(
            &outcomes[0],
            RetireOutcome::Error { stack, reason }
                if stack == "web-r1" && reason.contains("could not take it out of the router")
        ));
        assert_eq!(
            outcomes[1],
            RetireOutcome::Deleted {
                stack: "web-r2".into(),
                unrouted: false,
                retained: Vec::new(),
            }
        );
        assert!(!world
            .log
            .lock()
            .unwrap()
            .contains(&"delete web-r1".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn delete_failed_is_explained_and_marked_for_attention() {
        let world = world(&[("web-r3", 100)], &["web-r2"], false);
        let (outcomes, _) = retire(&world, &["web-r2"]).await;
        let RetireOutcome::DeleteFailed {
            stack,
            status,
            reason,
            resources,
            attention_mark_error,
        } = &outcomes[0]
        else {
            panic!("expected DeleteFailed: {outcomes:?}");
        };
        assert_eq!(stack, "web-r2");
        assert_eq!(status, "DELETE_FAILED");
        assert_eq!(
            reason,
            "Logs (AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty"
        );
        assert_eq!(
            resources,
            &["Logs (AWS::S3::Bucket): The bucket you tried to delete is not empty"]
        );
        assert_eq!(attention_mark_error, &None);
        let log = world.log.lock().unwrap();
        assert_eq!(log[0], "delete web-r2");
        assert!(log[1].starts_with("mark web-r2 attention=Logs (AWS::S3::Bucket) DELETE_FAILED"));
    }
}
