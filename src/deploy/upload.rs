//! Templates over CloudFormation's inline limit: uploaded to the app's bucket under a key that
//! names the content, then passed to CreateStack as a URL.

use super::plan::{Candidate, Delivery};
use super::DeployError;
use crate::aws::cloudformation::TemplateSource;
use crate::aws::s3::TemplateStore;
use crate::template::Format;

/// Hex digits of the template's SHA-256 in the key: enough to tell releases' bodies apart.
const DIGEST_PREFIX: usize = 16;

/// `cutover/<app>/<stack>-<sha256 prefix>.<json|yaml>`: the same release and body always land on
/// the same key, so a rerun overwrites the object with the same bytes.
pub fn object_key(candidate: &Candidate) -> String {
    let extension = match candidate.template.format {
        Format::Json => "json",
        Format::Yaml => "yaml",
    };
    format!(
        "cutover/{}/{}-{}.{extension}",
        candidate.app,
        candidate.stack_name,
        &candidate.template.sha256_hex()[..DIGEST_PREFIX]
    )
}

/// How CreateStack gets the candidate's template: inline, or uploaded first and then by URL.
pub async fn template_source(
    store: &impl TemplateStore,
    candidate: &Candidate,
) -> Result<TemplateSource, DeployError> {
    let bucket = match &candidate.delivery {
        Delivery::Inline => return Ok(TemplateSource::Body(candidate.template.body.clone())),
        Delivery::Bucket(bucket) => bucket,
    };
    let key = object_key(candidate);
    match store
        .put_template(bucket, &key, &candidate.template.body)
        .await
    {
        Ok(()) => {
            tracing::debug!(bucket = %bucket, key = %key, "template uploaded");
            Ok(TemplateSource::Url(store.template_url(bucket, &key)))
        }
        Err(error) if error.is_not_found() => Err(DeployError::TemplateBucketMissing {
            template: candidate.template.origin.clone(),
            bucket: bucket.clone(),
        }),
        Err(source) => Err(DeployError::Upload {
            template: candidate.template.origin.clone(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::aws::{AwsError, AwsErrorKind};
    use crate::release::ReleaseId;

    /// Buckets that exist and the objects put into them.
    #[derive(Default)]
    struct MemoryStore {
        buckets: BTreeSet<String>,
        objects: Mutex<BTreeMap<(String, String), String>>,
        failure: Option<AwsErrorKind>,
    }

    impl TemplateStore for MemoryStore {
        async fn put_template(&self, bucket: &str, key: &str, body: &str) -> Result<(), AwsError> {
            if let Some(kind) = &self.failure {
                return Err(AwsError::new("upload", kind.clone()));
            }
            if !self.buckets.contains(bucket) {
                return Err(AwsError::new(
                    "upload",
                    AwsErrorKind::NotFound {
                        message: "The specified bucket does not exist".into(),
                    },
                ));
            }
            self.objects
                .lock()
                .unwrap()
                .insert((bucket.into(), key.into()), body.into());
            Ok(())
        }

        fn template_url(&self, bucket: &str, key: &str) -> String {
            format!("s3-url://{bucket}/{key}")
        }
    }

    fn candidate(body: &str, delivery: Delivery) -> Candidate {
        let template = crate::template::parse(body, "templates/web.yaml").unwrap();
        Candidate {
            app: "web".into(),
            release: ReleaseId::new("r7").unwrap(),
            stack_name: "web-r7".into(),
            no_echo: template.no_echo_parameters(),
            template,
            delivery,
            created: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            tags: vec![],
            timeout: Duration::from_secs(60),
        }
    }

    const YAML: &str = "Resources:\n  Topic: {Type: AWS::SNS::Topic}\n";

    #[test]
    fn the_key_names_app_stack_digest_and_format() {
        let yaml = candidate(YAML, Delivery::Inline);
        let digest = &yaml.template.sha256_hex()[..16];
        assert_eq!(
            object_key(&yaml),
            format!("cutover/web/web-r7-{digest}.yaml")
        );
        let json = candidate(
            r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#,
            Delivery::Inline,
        );
        assert!(
            object_key(&json).ends_with(".json"),
            "{}",
            object_key(&json)
        );
        assert_ne!(object_key(&json), object_key(&yaml));
    }

    #[tokio::test]
    async fn inline_templates_are_not_uploaded() {
        let store = MemoryStore::default();
        let source = template_source(&store, &candidate(YAML, Delivery::Inline))
            .await
            .unwrap();
        assert_eq!(source, TemplateSource::Body(YAML.into()));
        assert!(store.objects.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_exact_body_is_uploaded_and_passed_by_url() {
        let store = MemoryStore {
            buckets: BTreeSet::from(["tpl".to_string()]),
            ..Default::default()
        };
        let candidate = candidate(YAML, Delivery::Bucket("tpl".into()));
        let key = object_key(&candidate);
        let source = template_source(&store, &candidate).await.unwrap();
        assert_eq!(source, TemplateSource::Url(format!("s3-url://tpl/{key}")));
        assert_eq!(
            *store.objects.lock().unwrap(),
            BTreeMap::from([(("tpl".to_string(), key), YAML.to_string())])
        );
    }

    #[tokio::test]
    async fn a_missing_bucket_is_named_and_is_exit_2() {
        use crate::error::{Diagnostic, Exit};
        let store = MemoryStore::default();
        let error = template_source(&store, &candidate(YAML, Delivery::Bucket("nope".into())))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, DeployError::TemplateBucketMissing { bucket, .. } if bucket == "nope"),
            "{error:?}"
        );
        assert!(error.to_string().contains("S3 bucket nope"), "{error}");
        assert_eq!(error.exit(), Exit::Error);
        assert!(error.hint().unwrap().contains("--template-bucket"));
    }

    #[tokio::test]
    async fn other_upload_failures_keep_their_kind() {
        let store = MemoryStore {
            buckets: BTreeSet::from(["tpl".to_string()]),
            failure: Some(AwsErrorKind::Rejected {
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
            }),
            ..Default::default()
        };
        let error = template_source(&store, &candidate(YAML, Delivery::Bucket("tpl".into())))
            .await
            .unwrap_err();
        match error {
            DeployError::Upload { source, .. } => {
                assert!(matches!(source.kind, AwsErrorKind::Rejected { .. }))
            }
            other => panic!("{other:?}"),
        }
    }
}
