//! The app's announcer: a [`Notifier`] built from the spec's `[notify]` table, with the app's
//! account and region filled in, and one method per event the commands announce.

use std::collections::BTreeMap;

use super::{EventKind, Notification, Notifier, NotifyTargets, Webhook};
use crate::aws::sns::Sns;
use crate::aws::AwsContext;
use crate::release::aws_sources::AwsSources;
use crate::router::Weights;
use crate::spec::AppSpec;

/// Announces one app's events; sends nothing when the spec has no `[notify]`.
#[derive(Debug)]
pub struct Announcer {
    notifier: Notifier,
    app: String,
    account: Option<String>,
    region: Option<String>,
}

impl Announcer {
    /// Nothing is sent (tests, commands without a spec).
    pub fn disabled(app: &str) -> Announcer {
        Announcer {
            notifier: Notifier::disabled(),
            app: app.to_string(),
            account: None,
            region: None,
        }
    }

    /// From the spec's `[notify]`: its SNS topic resolved (a `{ stack_output = … }` is read), its
    /// webhook with the token header. `secrets` are never sent (NoEcho values); the webhook
    /// token is added by the notifier. A topic that cannot be resolved is a warning: announcing
    /// never stops a command.
    pub async fn for_app(ctx: &AwsContext, spec: &AppSpec, secrets: Vec<String>) -> Announcer {
        let notify = &spec.notify;
        if notify.sns_topic.is_none() && notify.webhook.is_none() {
            return Announcer::disabled(&spec.name);
        }
        let sns_topic_arn = match &notify.sns_topic {
            None => None,
            Some(source) => {
                let aws = AwsSources::new(ctx);
                match aws
                    .sources()
                    .resolve_value("notify.sns_topic", source, &spec.path)
                    .await
                {
                    Ok(value) => Some(value.expose().to_string()),
                    Err(error) => {
                        tracing::warn!(
                            "notifications of app {} will not go to SNS: {}",
                            spec.name,
                            crate::release::retire::error_line(&error)
                        );
                        None
                    }
                }
            }
        };
        let sns = sns_topic_arn.is_some().then(|| Sns::new(ctx));
        let targets = NotifyTargets {
            sns_topic_arn,
            webhook: notify.webhook.as_ref().and_then(|webhook| {
                let header = match &webhook.header {
                    None => None,
                    Some((name, var)) => match std::env::var(var) {
                        Ok(value) if !value.is_empty() => {
                            crate::output::secrets::register([value.clone()]);
                            Some((name.clone(), value))
                        }
                        _ => {
                            tracing::warn!(
                                "notifications of app {} will not go to the webhook: the environment variable {var} (its {name} header) is not set or empty",
                                spec.name
                            );
                            return None;
                        }
                    },
                };
                Some(Webhook {
                    url: webhook.url.clone(),
                    header,
                })
            }),
        };
        Announcer {
            notifier: Notifier::new(targets, sns, secrets),
            app: spec.name.clone(),
            account: ctx.account().await,
            region: ctx.region().map(str::to_string),
        }
    }

    /// The same channels, announcing for several apps at once (a rotate summary of the apps
    /// that share them): the notification's `app` is their names, comma-separated.
    pub fn for_apps<'a>(mut self, apps: impl IntoIterator<Item = &'a str>) -> Announcer {
        self.app = apps.into_iter().collect::<Vec<_>>().join(", ");
        self
    }

    fn event(&self, event: EventKind) -> Notification {
        Notification::new(event, &self.app).target(self.account.clone(), self.region.clone())
    }

    /// The stack and its release id: the stack name after `<app>-` (release ids may hold
    /// hyphens: `web-shop-v1-2` of app `web-shop` is release `v1-2`).
    fn with_release(&self, notification: Notification, stack: &str) -> Notification {
        let notification = notification.stack(stack);
        match stack.strip_prefix(&format!("{}-", self.app)) {
            Some(release) if !release.is_empty() => notification.release(release),
            _ => notification,
        }
    }

    pub fn queue(&self, notification: Notification) {
        self.notifier.queue(notification);
    }

    pub fn deploy_started(&self, stack: &str, weights: Option<&Weights>) {
        let mut notification = self.with_release(self.event(EventKind::DeployStarted), stack);
        if let Some(weights) = weights {
            notification = notification.weights(percentages(weights));
        }
        self.queue(notification);
    }

    pub fn traffic_step(&self, stack: &str, weights: &Weights) {
        self.queue(
            self.with_release(self.event(EventKind::TrafficStep), stack)
                .weights(percentages(weights)),
        );
    }

    pub fn deploy_succeeded(&self, stack: &str, weights: &Weights) {
        self.queue(
            self.with_release(self.event(EventKind::DeploySucceeded), stack)
                .weights(percentages(weights)),
        );
    }

    /// `to` is where the traffic went back to.
    pub fn shifted_back(&self, candidate: &str, to: &str, weights: &Weights, reason: &str) {
        let notification = self
            .event(EventKind::ShiftedBack)
            .stack(to)
            .weights(percentages(weights))
            .reason(format!("{candidate}: {reason}"));
        self.queue(match candidate.rsplit_once('-') {
            Some((_, release)) => notification.release(release),
            None => notification,
        });
    }

    pub fn deploy_failed(&self, stack: &str, reason: &str) {
        self.queue(
            self.with_release(self.event(EventKind::DeployFailed), stack)
                .reason(reason),
        );
    }

    pub fn rollback_done(&self, to: &str, weights: &Weights) {
        self.queue(
            self.with_release(self.event(EventKind::RollbackDone), to)
                .weights(percentages(weights)),
        );
    }

    pub fn release_retired(&self, stack: &str, left: &[String]) {
        let mut notification = self.with_release(self.event(EventKind::ReleaseRetired), stack);
        if !left.is_empty() {
            notification = notification.reason(format!("left in the account: {}", left.join("; ")));
        }
        self.queue(notification);
    }

    pub fn retirement_failed(&self, stack: &str, reason: &str) {
        self.queue(
            self.with_release(self.event(EventKind::RetirementFailed), stack)
                .reason(reason),
        );
    }

    /// `stack` waits on its test route; `how` says which requests reach it.
    pub fn release_held(&self, stack: &str, how: &str) {
        self.queue(
            self.with_release(self.event(EventKind::ReleaseHeld), stack)
                .reason(how),
        );
    }

    pub fn release_aborted(&self, stack: &str) {
        self.queue(
            self.with_release(self.event(EventKind::ReleaseAborted), stack)
                .reason("given up before taking production traffic"),
        );
    }

    /// A rollback to `to` that did not complete, and why; `weights` as the router now says.
    pub fn rollback_failed(&self, to: &str, weights: &Weights, reason: &str) {
        self.queue(
            self.with_release(self.event(EventKind::RollbackFailed), to)
                .weights(percentages(weights))
                .reason(reason),
        );
    }

    pub fn rotate_summary(&self, summary: &str) {
        self.queue(self.event(EventKind::RotateSummary).reason(summary));
    }

    /// Waits (bounded) for the deliveries still under way; call once at the end of a command.
    pub async fn finish(&self) {
        self.notifier.finish().await;
    }
}

fn percentages(weights: &Weights) -> BTreeMap<String, u8> {
    weights
        .iter()
        .map(|(stack, weight)| (stack.to_string(), weight))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_is_what_follows_the_app_in_the_stack_name() {
        let announcer = Announcer::disabled("web-shop");
        let release = |stack: &str| {
            announcer
                .with_release(announcer.event(EventKind::DeployStarted), stack)
                .release
        };
        assert_eq!(release("web-shop-v1-2").as_deref(), Some("v1-2"));
        assert_eq!(
            release("web-shop-r20261130-120129").as_deref(),
            Some("r20261130-120129")
        );
        assert_eq!(release("other-r1"), None);
    }
}
