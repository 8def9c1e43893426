//! EC2 Elastic IPs behind [`AddressApi`]: where an address points and moving it (the EIP router).

use std::future::Future;

use super::{classify, AwsContext, AwsError};

/// One Elastic IP as DescribeAddresses reports it. DescribeAddresses, not DescribeInstances, is
/// the authority on the association: an instance can keep reporting an address after it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFacts {
    pub allocation_id: String,
    pub public_ip: Option<String>,
    /// The instance the address is associated with, if any.
    pub instance_id: Option<String>,
    /// The network interface it is associated with (also set, with the instance, when it is on
    /// an instance's interface).
    pub network_interface_id: Option<String>,
}

/// The EC2 address calls the EIP router makes.
pub trait AddressApi: Sync {
    /// `None` when no address has this allocation id.
    fn describe_address(
        &self,
        allocation_id: &str,
    ) -> impl Future<Output = Result<Option<AddressFacts>, AwsError>> + Send;

    /// Associates the address with the instance, taking it from whatever instance holds it.
    fn associate_address(
        &self,
        allocation_id: &str,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`AddressApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct Ec2Addresses {
    client: aws_sdk_ec2::Client,
}

impl Ec2Addresses {
    pub fn new(context: &AwsContext) -> Ec2Addresses {
        Ec2Addresses {
            client: context.ec2(),
        }
    }
}

impl AddressApi for Ec2Addresses {
    async fn describe_address(
        &self,
        allocation_id: &str,
    ) -> Result<Option<AddressFacts>, AwsError> {
        let result = self
            .client
            .describe_addresses()
            .allocation_ids(allocation_id)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                let error = classify(format!("describe Elastic IP {allocation_id}"), error);
                return if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                };
            }
        };
        Ok(output
            .addresses()
            .iter()
            .find(|address| address.allocation_id() == Some(allocation_id))
            .map(|address| AddressFacts {
                allocation_id: allocation_id.to_string(),
                public_ip: address.public_ip().map(str::to_string),
                instance_id: address
                    .instance_id()
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
                network_interface_id: address
                    .network_interface_id()
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
            }))
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError> {
        self.client
            .associate_address()
            .allocation_id(allocation_id)
            .instance_id(instance_id)
            .allow_reassociation(true)
            .send()
            .await
            .map_err(|error| {
                classify(
                    format!("associate Elastic IP {allocation_id} with instance {instance_id}"),
                    error,
                )
            })?;
        Ok(())
    }
}
