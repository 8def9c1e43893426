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

/// Makes the app's secrets known to the output masking ([`crate::output::secrets`]) for a
/// command that resolves no parameters itself (rollback): its NoEcho parameters' values and its
/// secret sources, resolved as a deploy would. Best effort: what cannot be resolved is not
/// reported here (it would be a deploy's error), only left unregistered.
pub async fn register_app_secrets(ctx: &AwsContext, spec: &crate::spec::AppSpec) {
    let Ok(template) = crate::template::load_file(&spec.template) else {
        return;
    };
    if let Err(error) = AwsSources::new(ctx)
        .sources()
        .resolve_parameters(spec, &template)
        .await
    {
        tracing::debug!("the app's secrets could not all be resolved: {error}");
    }
}
