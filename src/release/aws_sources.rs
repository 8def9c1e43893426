//! The parameter sources over AWS, owned in one place, for every caller that resolves values
//! for real (deploy, rotate, rollback --rebuild, router settings).

use super::params::{process_env, Sources};
use crate::aws::cloudformation::CloudFormation;
use crate::aws::images::Ec2Images;
use crate::aws::ssm::Ssm;
use crate::aws::AwsContext;

pub struct AwsSources {
    parameters: Ssm,
    images: Ec2Images,
    stacks: CloudFormation,
}

impl AwsSources {
    pub fn new(ctx: &AwsContext) -> AwsSources {
        AwsSources {
            parameters: Ssm::new(ctx),
            images: Ec2Images::new(ctx),
            stacks: CloudFormation::new(ctx),
        }
    }

    /// SSM, EC2 images, other stacks' outputs and this process's environment.
    pub fn sources(&self) -> Sources<'_, Ssm, Ec2Images, CloudFormation> {
        Sources {
            parameters: &self.parameters,
            images: &self.images,
            stacks: &self.stacks,
            env: &process_env,
        }
    }
}
