//! The small enumerations the enricher computes per record and rules match on. Each is stored
//! as a `u8` column; names are the kebab-case strings used in rule files and findings.

use serde::Deserialize;

macro_rules! class_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $v:ident = $s:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
        #[repr(u8)]
        pub enum $name { $( $(#[$vm])* #[serde(rename = $s)] $v ),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$( $name::$v ),*];

            pub fn as_str(self) -> &'static str {
                match self { $( $name::$v => $s ),* }
            }

            pub fn from_u8(v: u8) -> $name {
                Self::ALL.get(v as usize).copied().unwrap_or(Self::ALL[0])
            }

            pub fn bit(self) -> u32 {
                1 << (self as u8)
            }
        }
    };
}

class_enum! {
    /// Direction of a record with respect to the SageMaker workload.
    Dir {
        Unknown = "unknown",
        Egress = "egress",
        Ingress = "ingress",
        /// Outbound packets answering a connection the remote side opened.
        Return = "return",
    }
}

class_enum! {
    /// The way egress traffic left the source subnet.
    Path {
        Unknown = "unknown",
        Local = "local",
        InterfaceEndpoint = "interface-endpoint",
        GatewayEndpoint = "gateway-endpoint",
        NatGateway = "nat-gateway",
        InternetGateway = "internet-gateway",
        Peering = "peering",
        TransitGateway = "transit-gateway",
        Vpn = "vpn",
        LocalGateway = "local-gateway",
    }
}

class_enum! {
    /// What the destination address is.
    DstClass {
        Unknown = "unknown",
        /// Inside the source VPC's CIDRs.
        Vpc = "vpc",
        /// The VPC's Amazon DNS server (base+2 or 169.254.169.253).
        VpcResolver = "vpc-resolver",
        /// Another ENI of the same SageMaker resource (distributed training peers).
        OwnPeer = "own-peer",
        /// An interface VPC endpoint (PrivateLink) ENI.
        InterfaceEndpoint = "interface-endpoint",
        /// Private address outside the VPC (peered, on-premises).
        Private = "private",
        /// A public address in an AWS service range (not EC2 or other customer-content ranges).
        AwsService = "aws-service",
        /// A public address that is not an AWS service endpoint.
        Internet = "internet",
    }
}

class_enum! {
    /// Destination region relative to the source VPC's region.
    RegionRel {
        Unknown = "unknown",
        Same = "same",
        Other = "other",
    }
}
