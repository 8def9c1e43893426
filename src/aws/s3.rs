//! S3: where templates over CloudFormation's inline limit are put before CreateStack reads them
//! by URL.

use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;

use super::{classify, AwsContext, AwsError};

/// The S3 calls a deploy makes: one upload, and the URL CloudFormation reads it back from.
pub trait TemplateStore: Sync {
    /// Writes `body` at `bucket`/`key`, replacing what is there (the key names the content, so a
    /// second upload of the same release writes the same bytes). A missing bucket is `NotFound`.
    fn put_template(
        &self,
        bucket: &str,
        key: &str,
        body: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The `TemplateURL` under which CloudFormation finds the object.
    fn template_url(&self, bucket: &str, key: &str) -> String;
}

/// S3 through the SDK.
#[derive(Debug, Clone)]
pub struct S3 {
    client: aws_sdk_s3::Client,
    region: String,
    custom_endpoint: bool,
}

impl S3 {
    pub fn new(context: &AwsContext) -> S3 {
        S3 {
            client: context.s3(),
            region: context.region().unwrap_or("us-east-1").to_string(),
            custom_endpoint: context.endpoint_url().is_some(),
        }
    }
}

impl TemplateStore for S3 {
    async fn put_template(&self, bucket: &str, key: &str, body: &str) -> Result<(), AwsError> {
        let content_type = if key.ends_with(".json") {
            "application/json"
        } else {
            "application/yaml"
        };
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| classify(format!("upload the template to s3://{bucket}/{key}"), error))
    }

    fn template_url(&self, bucket: &str, key: &str) -> String {
        template_url(&self.region, self.custom_endpoint, bucket, key)
    }
}

/// AWS: the bucket's regional virtual-hosted URL. A custom endpoint (moto, LocalStack) does not
/// fetch the URL but looks the object up in its own S3 by parsing it, and moto 5.2.5 reads a
/// bucket from the path only when the host is `s3.*.amazonaws.com` (or `localhost`): with
/// `http://127.0.0.1:PORT/bucket/key` it would take "127" for the bucket. So there the regional
/// path-style URL, which also keeps dotted bucket names whole.
fn template_url(region: &str, custom_endpoint: bool, bucket: &str, key: &str) -> String {
    if custom_endpoint {
        format!("https://s3.{region}.amazonaws.com/{bucket}/{key}")
    } else {
        format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::template_url;

    #[test]
    fn aws_gets_the_regional_virtual_hosted_url() {
        assert_eq!(
            template_url("eu-west-1", false, "tpl", "cutover/web/web-r1-0123.yaml"),
            "https://tpl.s3.eu-west-1.amazonaws.com/cutover/web/web-r1-0123.yaml"
        );
    }

    #[test]
    fn a_custom_endpoint_gets_the_path_style_url() {
        assert_eq!(
            template_url("us-east-1", true, "my.tpl", "cutover/web/web-r1-0123.json"),
            "https://s3.us-east-1.amazonaws.com/my.tpl/cutover/web/web-r1-0123.json"
        );
    }
}
