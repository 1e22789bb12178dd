//! Facts about AWS that the planner (which slices integrations into jobs) and the AWS connector
//! (which collects them) must agree on, kept in one place.

/// The regions AWS enables in every account without opting in (launched before March 2019).
pub const DEFAULT_REGIONS: [&str; 17] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];
