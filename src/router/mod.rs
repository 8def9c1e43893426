//! Traffic routers: ALB weighted target groups, Route 53 weighted records, Elastic IP.
