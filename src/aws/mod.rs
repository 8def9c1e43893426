//! The only module that talks to AWS: thin adapters over aws_sdk_* behind traits, errors classified at the boundary.
