//! The Elastic IP router: one address, associated with the instance of one release stack.

use std::collections::BTreeMap;

use super::service_error::router_error;
use super::{RouterError, TrafficRouter, Weights};
use crate::aws::addresses::{AddressApi, Ec2Addresses};

/// Moves an Elastic IP between the release stacks' instances: all traffic at once.
#[derive(Debug, Clone)]
pub struct EipRouter<A = Ec2Addresses> {
    api: A,
    allocation_id: String,
    /// Release stack name (or [`super::BASELINE`]) → its instance id.
    instances: BTreeMap<String, String>,
    /// Release stacks that cannot be routed to, with the reason (an output missing).
    unroutable: BTreeMap<String, String>,
}

impl<A: AddressApi> EipRouter<A> {
    pub fn new(
        api: A,
        allocation_id: impl Into<String>,
        instances: impl IntoIterator<Item = (String, String)>,
        unroutable: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        EipRouter {
            api,
            allocation_id: allocation_id.into(),
            instances: instances.into_iter().collect(),
            unroutable: unroutable.into_iter().collect(),
        }
    }

    pub fn allocation_id(&self) -> &str {
        &self.allocation_id
    }

    /// The instance that gets the address for `weights`, checked before any call.
    fn instance_for(&self, weights: &Weights) -> Result<&str, RouterError> {
        let invalid = |reason: String| RouterError::InvalidWeights {
            weights: weights.clone(),
            reason,
        };
        let stack =
            match weights.holder_of_all() {
                Some(stack) if weights.get(stack) == 100 => stack,
                _ => return Err(invalid(
                    "an Elastic IP moves all traffic at once: exactly one stack must be at 100%"
                        .into(),
                )),
            };
        if let Some(instance) = self.instances.get(stack) {
            return Ok(instance);
        }
        Err(invalid(match self.unroutable.get(stack) {
            Some(reason) => format!("{stack} cannot take traffic: {reason}"),
            None => format!("{stack} is not a release stack of this app"),
        }))
    }
}

impl<A: AddressApi + Send> TrafficRouter for EipRouter<A> {
    async fn read_weights(&self) -> Result<Weights, RouterError> {
        let action = || format!("read where Elastic IP {} points", self.allocation_id);
        let missing = format!("Elastic IP {}", self.allocation_id);
        let address = self
            .api
            .describe_address(&self.allocation_id)
            .await
            .map_err(|error| router_error(action(), &missing, error))?
            .ok_or_else(|| RouterError::NotFound {
                action: action(),
                missing: missing.clone(),
            })?;
        let Some(instance) = address.instance_id else {
            // Associated with a network interface of no instance (a NAT, an endpoint): traffic
            // goes there, and an Elastic IP router cannot take it over unasked.
            return Ok(match address.network_interface_id {
                Some(interface) => Weights::all_on(&format!("network interface {interface}")),
                None => Weights::new(),
            });
        };
        // An instance of no known release is reported by its id, so the controller sees it.
        let holder = self
            .instances
            .iter()
            .find(|(_, id)| **id == instance)
            .map_or(instance.clone(), |(stack, _)| stack.clone());
        Ok(Weights::all_on(&holder))
    }

    async fn set_weights(&self, weights: &Weights) -> Result<(), RouterError> {
        let instance = self.instance_for(weights)?;
        self.api
            .associate_address(&self.allocation_id, instance)
            .await
            .map_err(|error| {
                router_error(
                    format!(
                        "set weights {weights} by moving Elastic IP {}",
                        self.allocation_id
                    ),
                    &format!("Elastic IP {} or instance {instance}", self.allocation_id),
                    error,
                )
            })
    }

    fn supports_gradual(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::addresses::AddressFacts;
    use crate::aws::AwsError;

    #[derive(Default)]
    struct FakeAddress {
        instance: Mutex<Option<String>>,
        interface: Mutex<Option<String>>,
        moves: Mutex<u32>,
    }

    impl AddressApi for &FakeAddress {
        async fn describe_address(&self, id: &str) -> Result<Option<AddressFacts>, AwsError> {
            Ok(Some(AddressFacts {
                allocation_id: id.to_string(),
                public_ip: Some("198.51.100.7".into()),
                instance_id: self.instance.lock().unwrap().clone(),
                network_interface_id: self.interface.lock().unwrap().clone(),
            }))
        }

        async fn associate_address(&self, _: &str, instance: &str) -> Result<(), AwsError> {
            *self.moves.lock().unwrap() += 1;
            *self.instance.lock().unwrap() = Some(instance.to_string());
            Ok(())
        }
    }

    fn router(address: &FakeAddress) -> EipRouter<&FakeAddress> {
        EipRouter::new(
            address,
            "eipalloc-1",
            [
                ("web-r1".to_string(), "i-1".to_string()),
                ("web-r2".to_string(), "i-2".to_string()),
            ],
            [],
        )
    }

    #[tokio::test]
    async fn moves_the_address_and_reads_the_holder() {
        let address = FakeAddress::default();
        let router = router(&address);
        assert_eq!(router.read_weights().await.unwrap(), Weights::new());
        router
            .set_weights(&Weights::all_on("web-r1"))
            .await
            .unwrap();
        // The previous release at 0 is allowed: the controller keeps it listed for rollback.
        router
            .set_weights(&Weights::split("web-r2", Some("web-r1"), 100))
            .await
            .unwrap();
        assert_eq!(
            router.read_weights().await.unwrap(),
            Weights::all_on("web-r2")
        );
        *address.instance.lock().unwrap() = Some("i-9".into());
        assert_eq!(router.read_weights().await.unwrap(), Weights::all_on("i-9"));
        // On an interface of no instance, the traffic goes somewhere all the same.
        *address.instance.lock().unwrap() = None;
        *address.interface.lock().unwrap() = Some("eni-1".into());
        assert_eq!(
            router.read_weights().await.unwrap(),
            Weights::all_on("network interface eni-1")
        );
    }

    #[tokio::test]
    async fn a_split_is_refused_before_any_call() {
        let address = FakeAddress::default();
        let error = router(&address)
            .set_weights(&Weights::split("web-r2", Some("web-r1"), 10))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("all traffic at once"), "{error}");
        assert_eq!(*address.moves.lock().unwrap(), 0);
        assert!(!router(&address).supports_gradual());
    }
}
