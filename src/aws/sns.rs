//! SNS topics behind [`TopicApi`]: where `cutover` publishes its notifications.

use std::future::Future;

use super::{classify, AwsContext, AwsError};

pub trait TopicApi: Sync {
    /// Publishes `message` (any text up to 256 KiB; the notifier sends one JSON object) to the
    /// topic `topic_arn`, with `subject` as the e-mail subject line: no line breaks or control
    /// characters, fewer than 100 characters (SNS rejects the call otherwise).
    ///
    /// Errors: the topic does not exist (`NotFound`), the caller may not publish to it
    /// (`Rejected`), or the endpoint could not be reached.
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`TopicApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Sns {
    context: AwsContext,
}

impl Sns {
    pub fn new(context: &AwsContext) -> Sns {
        Sns {
            context: context.clone(),
        }
    }

    /// A topic is published to in its own region (the fourth field of its ARN), which need not
    /// be the app's: SNS answers `NotFound` for a topic of another region.
    fn client_for(&self, topic_arn: &str) -> aws_sdk_sns::Client {
        let topic_region = topic_arn
            .split(':')
            .nth(3)
            .filter(|region| !region.is_empty());
        match topic_region {
            Some(region) if Some(region) != self.context.region() => {
                let config = aws_sdk_sns::config::Builder::from(&self.context.sdk)
                    .region(aws_sdk_sns::config::Region::new(region.to_string()))
                    .build();
                aws_sdk_sns::Client::from_conf(config)
            }
            _ => self.context.sns(),
        }
    }
}

impl TopicApi for Sns {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.client_for(topic_arn)
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| classify(format!("publish to SNS topic {topic_arn}"), error))
    }
}
