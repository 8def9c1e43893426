//! SSM Parameter Store: parameter values for specs (decrypted), the app lock's record and the
//! app's baseline record.

use aws_sdk_ssm::types::ParameterType;

use super::{classify, AwsContext, AwsError};
use crate::release::lock::{LockStore, StoredLock};
use crate::release::params::{ParameterStore, StoredParameter};
use crate::route::BaselineStore;

/// SSM through the SDK.
#[derive(Debug, Clone)]
pub struct Ssm {
    client: aws_sdk_ssm::Client,
}

impl Ssm {
    pub fn new(context: &AwsContext) -> Ssm {
        Ssm {
            client: context.ssm(),
        }
    }

    async fn get(&self, name: &str) -> Result<Option<aws_sdk_ssm::types::Parameter>, AwsError> {
        let reply = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        match reply {
            Ok(reply) => Ok(reply.parameter),
            Err(error) => {
                let error = classify(format!("get SSM parameter {name}"), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }
}

impl ParameterStore for Ssm {
    async fn get_parameter(&self, name: &str) -> Result<Option<StoredParameter>, AwsError> {
        Ok(self.get(name).await?.map(|parameter| StoredParameter {
            secure: parameter.r#type() == Some(&ParameterType::SecureString),
            value: parameter.value.unwrap_or_default(),
        }))
    }
}

impl LockStore for Ssm {
    async fn create(&self, name: &str, value: &str) -> Result<bool, AwsError> {
        let reply = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .description("cutover app lock: who runs a change on this app, until when")
            .overwrite(false)
            .send()
            .await;
        match reply {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_parameter_already_exists()) =>
            {
                Ok(false)
            }
            Err(error) => Err(classify(format!("create SSM parameter {name}"), error)),
        }
    }

    async fn read(&self, name: &str) -> Result<Option<StoredLock>, AwsError> {
        Ok(self.get(name).await?.map(|parameter| StoredLock {
            version: parameter.version(),
            value: parameter.value.unwrap_or_default(),
        }))
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| classify(format!("overwrite SSM parameter {name}"), error))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<bool, AwsError> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(error) => {
                let error = classify(format!("delete SSM parameter {name}"), error);
                if error.is_not_found() {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }
}

impl BaselineStore for Ssm {
    async fn read_baseline(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .get(name)
            .await?
            .map(|parameter| parameter.value.unwrap_or_default()))
    }

    async fn list_baselines(&self, path: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(path)
            .recursive(false)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| classify(format!("list SSM parameters under {path}"), error))?;
            for parameter in page.parameters() {
                if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                    found.push((name.to_string(), value.to_string()));
                }
            }
        }
        Ok(found)
    }

    async fn write_baseline(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| classify(format!("write SSM parameter {name}"), error))?;
        Ok(())
    }
}

impl crate::route::hold::HoldStore for Ssm {
    async fn read_hold(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .get(name)
            .await?
            .map(|parameter| parameter.value.unwrap_or_default()))
    }

    async fn write_hold(&self, name: &str, value: &str) -> Result<(), AwsError> {
        crate::route::BaselineStore::write_baseline(self, name, value).await
    }

    async fn delete_hold(&self, name: &str) -> Result<(), AwsError> {
        crate::release::lock::LockStore::delete(self, name)
            .await
            .map(|_| ())
    }
}

impl crate::release::marks::MarkStore for Ssm {
    async fn read_marks(&self, app: &str) -> Result<Vec<(String, String)>, AwsError> {
        let path = crate::release::marks::app_path(app);
        let listed = crate::route::BaselineStore::list_baselines(self, &path).await?;
        Ok(listed
            .into_iter()
            .filter_map(|(name, value)| {
                name.strip_prefix(&path)
                    .map(|stack| (stack.to_string(), value))
            })
            .collect())
    }

    async fn read_mark(&self, app: &str, stack: &str) -> Result<Option<String>, AwsError> {
        let name = crate::release::marks::parameter_name(app, stack);
        Ok(self
            .get(&name)
            .await?
            .map(|parameter| parameter.value.unwrap_or_default()))
    }

    async fn write_mark(&self, app: &str, stack: &str, json: &str) -> Result<(), AwsError> {
        let name = crate::release::marks::parameter_name(app, stack);
        crate::route::BaselineStore::write_baseline(self, &name, json).await
    }
}
