//! EC2 machine images (DescribeImages), for `latest_ami` parameter sources.

use aws_sdk_ec2::types::Filter;

use super::{classify, AwsContext, AwsError};
use crate::release::params::{ImageCatalog, ImageFacts};
use crate::spec::AmiQuery;

/// EC2 images through the SDK.
#[derive(Debug, Clone)]
pub struct Ec2Images {
    client: aws_sdk_ec2::Client,
}

impl Ec2Images {
    pub fn new(context: &AwsContext) -> Ec2Images {
        Ec2Images {
            client: context.ec2(),
        }
    }
}

/// The filters sent for a query: name, architecture, the user's own, and `state = available`
/// unless the user asked for a state (a pending image cannot be launched yet).
fn filters(query: &AmiQuery) -> Vec<Filter> {
    let filter = |name: &str, values: &[String]| {
        Filter::builder()
            .name(name)
            .set_values(Some(values.to_vec()))
            .build()
    };
    let mut filters = vec![filter("name", std::slice::from_ref(&query.name))];
    if let Some(architecture) = &query.architecture {
        filters.push(filter("architecture", std::slice::from_ref(architecture)));
    }
    for (name, values) in &query.filters {
        filters.push(filter(name, values));
    }
    if !query.filters.contains_key("state") {
        filters.push(filter("state", &["available".to_string()]));
    }
    filters
}

impl ImageCatalog for Ec2Images {
    async fn find_images(&self, query: &AmiQuery) -> Result<Vec<ImageFacts>, AwsError> {
        let action = || format!("describe images named {:?}", query.name);
        let mut pages = self
            .client
            .describe_images()
            .set_owners(Some(query.owners.clone()))
            .set_filters(Some(filters(query)))
            .into_paginator()
            .send();
        let mut images = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| classify(action(), error))?;
            images.extend(
                page.images
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|image| {
                        Some(ImageFacts {
                            id: image.image_id?,
                            name: image.name,
                            creation_date: image.creation_date,
                        })
                    }),
            );
        }
        tracing::debug!(query = ?query.name, found = images.len(), "images found");
        Ok(images)
    }
}
