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
    client: aws_sdk_sns::Client,
}

impl Sns {
    pub fn new(context: &AwsContext) -> Sns {
        Sns {
            client: context.sns(),
        }
    }
}

impl TopicApi for Sns {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.client
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
