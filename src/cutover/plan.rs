//! The traffic plan: the weights a candidate goes through and how long each is held.

use std::time::Duration;

use serde::Serialize;

use super::{serde_secs, CutoverError};

/// How the candidate takes traffic, as plain values (the spec converts to this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    AllAtOnce,
    /// `percent` for `bake`, then everything.
    Canary {
        percent: u8,
        bake: Duration,
    },
    /// `step` more percent every `interval` until 100.
    Linear {
        step: u8,
        interval: Duration,
    },
    /// Each weight in turn, held for `pause`; 100 is appended when missing.
    Steps {
        weights: Vec<u8>,
        pause: Duration,
    },
}

/// One weight the candidate is set to, and how long it is held with gates watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrafficStep {
    /// The candidate's share in percent.
    pub weight: u8,
    #[serde(rename = "bake_secs", with = "serde_secs")]
    pub bake: Duration,
}

/// The candidate's weights in order; the last step is always 100 held for the final bake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    steps: Vec<TrafficStep>,
    /// How often gates are checked during a bake, and how often a stack still in progress is
    /// polled.
    #[serde(rename = "gate_interval_secs", with = "serde_secs")]
    gate_interval: Duration,
    /// How long a candidate without traffic may fail its gates before that counts: new targets
    /// and instances need a while to pass health checks. Zero: the first failure counts.
    #[serde(rename = "warmup_secs", with = "serde_secs")]
    warmup: Duration,
    /// Stop once the gates pass with no production traffic moved (`deploy --hold`): the
    /// candidate is proven through its test route and left for `promote` or `abort`.
    hold_before_traffic: bool,
}

impl Plan {
    /// Builds the plan; refuses weights that do not climb strictly from 1 to 100 and a zero
    /// gate interval (it would check gates in a busy loop).
    pub fn from_strategy(
        strategy: &Strategy,
        final_bake: Duration,
        gate_interval: Duration,
    ) -> Result<Self, CutoverError> {
        if gate_interval.is_zero() {
            return Err(invalid("the gate interval must be longer than 0s"));
        }
        let mut steps = match strategy {
            Strategy::AllAtOnce => Vec::new(),
            Strategy::Canary { percent, bake } => {
                if !(1..=99).contains(percent) {
                    return Err(invalid(format!(
                        "canary percent must be between 1 and 99, not {percent}"
                    )));
                }
                vec![step(*percent, *bake)]
            }
            Strategy::Linear {
                step: increment,
                interval,
            } => {
                if !(1..=100).contains(increment) {
                    return Err(invalid(format!(
                        "linear step must be between 1 and 100, not {increment}"
                    )));
                }
                (1..)
                    .map(|n| u32::from(*increment) * n)
                    .take_while(|&weight| weight < 100)
                    .map(|weight| step(weight as u8, *interval))
                    .collect()
            }
            Strategy::Steps { weights, pause } => {
                if weights.is_empty() {
                    return Err(invalid("steps needs at least one weight"));
                }
                let mut last = 0;
                for &weight in weights {
                    if weight <= last || weight > 100 {
                        return Err(invalid(format!(
                            "step weights must climb strictly between 1 and 100: {weights:?}"
                        )));
                    }
                    last = weight;
                }
                weights
                    .iter()
                    .filter(|&&weight| weight < 100)
                    .map(|&weight| step(weight, *pause))
                    .collect()
            }
        };
        steps.push(step(100, final_bake));
        Ok(Self {
            steps,
            gate_interval,
            warmup: Duration::ZERO,
            hold_before_traffic: false,
        })
    }

    /// The same plan, stopping before the first production step (see
    /// [`Plan::holds_before_traffic`]).
    pub fn holding_before_traffic(mut self) -> Self {
        self.hold_before_traffic = true;
        self
    }

    /// Whether the cutover stops once the gates pass with no production traffic moved.
    pub fn holds_before_traffic(&self) -> bool {
        self.hold_before_traffic
    }

    /// The same plan with a warm-up before the first step (see [`Plan::warmup`]).
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// The same plan with every step before 100 % held at least `hold` (ALB target group
    /// stickiness: a client stays on the group it was sent to for that long, whatever the
    /// weights, so a shorter step would judge the candidate on fewer clients than its weight
    /// says). The final bake is the spec's.
    pub fn with_step_bakes_at_least(mut self, hold: Duration) -> Self {
        let last = self.steps.len() - 1;
        for step in &mut self.steps[..last] {
            step.bake = step.bake.max(hold);
        }
        self
    }

    /// A first deploy has nothing to share traffic with: the candidate goes to 100 after its
    /// gates pass, then holds the final bake.
    pub fn first_deploy(&self) -> Self {
        Self {
            steps: vec![*self.steps.last().expect("a plan always ends at 100")],
            gate_interval: self.gate_interval,
            warmup: self.warmup,
            hold_before_traffic: self.hold_before_traffic,
        }
    }

    pub fn steps(&self) -> &[TrafficStep] {
        &self.steps
    }

    pub fn gate_interval(&self) -> Duration {
        self.gate_interval
    }

    /// How long gates may fail before the candidate has any traffic without turning it back.
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// The candidate weights in order, e.g. `[10, 100]` for a canary.
    pub fn weights(&self) -> Vec<u8> {
        self.steps.iter().map(|step| step.weight).collect()
    }

    /// Whether the plan needs a router that splits traffic (more than the final 100 step).
    pub fn is_gradual(&self) -> bool {
        self.steps.len() > 1
    }
}

fn step(weight: u8, bake: Duration) -> TrafficStep {
    TrafficStep { weight, bake }
}

fn invalid(reason: impl Into<String>) -> CutoverError {
    CutoverError::InvalidStrategy {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const TICK: Duration = Duration::from_secs(10);

    fn plan(strategy: Strategy) -> Plan {
        Plan::from_strategy(&strategy, 10 * MIN, TICK).unwrap()
    }

    fn steps(plan: &Plan) -> Vec<(u8, u64)> {
        plan.steps()
            .iter()
            .map(|step| (step.weight, step.bake.as_secs()))
            .collect()
    }

    #[test]
    fn all_at_once_is_the_final_step_only() {
        assert_eq!(steps(&plan(Strategy::AllAtOnce)), [(100, 600)]);
        assert!(!plan(Strategy::AllAtOnce).is_gradual());
    }

    #[test]
    fn canary_bakes_its_percent_then_takes_the_rest() {
        let plan = plan(Strategy::Canary {
            percent: 10,
            bake: 5 * MIN,
        });
        assert_eq!(steps(&plan), [(10, 300), (100, 600)]);
        assert!(plan.is_gradual());
    }

    #[test]
    fn linear_climbs_by_step_and_ends_at_100() {
        let linear = |step| {
            steps(&plan(Strategy::Linear {
                step,
                interval: 2 * MIN,
            }))
        };
        assert_eq!(linear(25), [(25, 120), (50, 120), (75, 120), (100, 600)]);
        assert_eq!(linear(30), [(30, 120), (60, 120), (90, 120), (100, 600)]);
        assert_eq!(linear(100), [(100, 600)]);
    }

    #[test]
    fn steps_append_100_when_missing_and_use_final_bake_for_it() {
        let with_100 = plan(Strategy::Steps {
            weights: vec![5, 25, 50, 100],
            pause: MIN,
        });
        let without_100 = plan(Strategy::Steps {
            weights: vec![5, 25, 50],
            pause: MIN,
        });
        assert_eq!(steps(&with_100), [(5, 60), (25, 60), (50, 60), (100, 600)]);
        assert_eq!(with_100, without_100);
    }

    #[test]
    fn first_deploy_keeps_only_the_final_step() {
        let canary = plan(Strategy::Canary {
            percent: 10,
            bake: MIN,
        });
        assert_eq!(steps(&canary.first_deploy()), [(100, 600)]);
    }

    #[test]
    fn stickiness_raises_the_steps_before_100_only() {
        let linear = plan(Strategy::Linear {
            step: 50,
            interval: MIN,
        });
        assert_eq!(
            steps(&linear.with_step_bakes_at_least(5 * MIN)),
            [(50, 300), (100, 600)]
        );
        let long = plan(Strategy::Canary {
            percent: 10,
            bake: 30 * MIN,
        });
        assert_eq!(
            steps(&long.with_step_bakes_at_least(5 * MIN)),
            [(10, 1800), (100, 600)]
        );
    }

    #[test]
    fn refuses_weights_that_do_not_climb() {
        let refused = [
            Strategy::Canary {
                percent: 0,
                bake: MIN,
            },
            Strategy::Canary {
                percent: 100,
                bake: MIN,
            },
            Strategy::Linear {
                step: 0,
                interval: MIN,
            },
            Strategy::Steps {
                weights: vec![],
                pause: MIN,
            },
            Strategy::Steps {
                weights: vec![50, 25],
                pause: MIN,
            },
            Strategy::Steps {
                weights: vec![10, 10],
                pause: MIN,
            },
            Strategy::Steps {
                weights: vec![0, 50],
                pause: MIN,
            },
            Strategy::Steps {
                weights: vec![50, 101],
                pause: MIN,
            },
        ];
        for strategy in refused {
            let error = Plan::from_strategy(&strategy, MIN, TICK).unwrap_err();
            assert!(
                matches!(error, CutoverError::InvalidStrategy { .. }),
                "{strategy:?} gave {error}"
            );
        }
        assert!(Plan::from_strategy(&Strategy::AllAtOnce, MIN, Duration::ZERO).is_err());
    }
}
