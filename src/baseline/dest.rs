//! Destination classes: what a profile's egress is compared by. Never single addresses of
//! services that rotate them (S3, CDNs): S3 is one class per path, AWS services are keyed by
//! name, the internet by /24 (IPv4) or /48 (IPv6); hosts inside the VPC or across a peering
//! are kept by address and port.

use serde::{Deserialize, Serialize};

use crate::enrich::model::{Model, NO_SYM};
use crate::enrich::{DstClass, Path};
use crate::net::ip::{self, IpKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum DestKind {
    /// S3 of the VPC's region through a gateway endpoint.
    S3Gateway = 0,
    /// S3 through a NAT or internet gateway (any region).
    S3Nat,
    /// Another AWS service, by name (`sym`).
    AwsService,
    /// An interface endpoint (PrivateLink), by its address.
    InterfaceEndpoint,
    /// A host:port inside the VPC.
    VpcHost,
    /// A private address outside the VPC (peering, transit, on-premises), host:port.
    Peering,
    /// The internet, by /24 or /48.
    Internet,
    /// A DNS resolver: the VPC's (address 0) or another one.
    Dns,
}

impl DestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DestKind::S3Gateway => "s3-gateway",
            DestKind::S3Nat => "s3-nat",
            DestKind::AwsService => "aws-service",
            DestKind::InterfaceEndpoint => "interface-endpoint",
            DestKind::VpcHost => "vpc-host",
            DestKind::Peering => "peering",
            DestKind::Internet => "internet",
            DestKind::Dns => "dns",
        }
    }

    /// Whether single callbacks to it can be told apart (beaconing is scored for these).
    pub fn beacon_candidate(self) -> bool {
        matches!(
            self,
            DestKind::Internet | DestKind::Peering | DestKind::Dns | DestKind::VpcHost
        )
    }
}

/// A destination class instance. Fixed size: the worker's aggregation key embeds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dest {
    pub kind: DestKind,
    /// Service symbol (AWS services), else `NO_SYM`.
    pub sym: u16,
    /// Host (VPC, peering, endpoint, resolver) or prefix (internet); 0 for S3 and services.
    pub addr: IpKey,
    /// Destination port for host classes, 0 otherwise.
    pub port: u16,
}

/// /24 for IPv4, /48 for IPv6.
pub fn internet_prefix(a: IpKey) -> IpKey {
    if ip::is_v4(a) {
        a & !0xff
    } else {
        a & !((1u128 << 80) - 1)
    }
}

/// The class of one enriched egress record, or `None` when it is not baselined (traffic to the
/// resource's own peers, or a destination the enricher could not place).
#[allow(clippy::too_many_arguments)]
pub fn classify(
    model: &Model,
    class: u8,
    path: u8,
    svc: u16,
    dst: IpKey,
    dport: Option<u16>,
) -> Option<Dest> {
    let class = DstClass::from_u8(class);
    let port = dport.unwrap_or(0);
    let d = |kind, sym, addr, port| {
        Some(Dest {
            kind,
            sym,
            addr,
            port,
        })
    };
    if class == DstClass::VpcResolver {
        return d(DestKind::Dns, NO_SYM, 0, 0);
    }
    if matches!(port, 53 | 853) && !matches!(class, DstClass::OwnPeer | DstClass::Unknown) {
        return d(DestKind::Dns, NO_SYM, dst, port);
    }
    match class {
        DstClass::Unknown | DstClass::OwnPeer | DstClass::VpcResolver => None,
        DstClass::Vpc => d(DestKind::VpcHost, NO_SYM, dst, port),
        DstClass::InterfaceEndpoint => d(DestKind::InterfaceEndpoint, NO_SYM, dst, 0),
        DstClass::Private => d(DestKind::Peering, NO_SYM, dst, port),
        DstClass::AwsService | DstClass::Internet => {
            if svc != NO_SYM && svc == model.gateway_services[0] {
                if Path::from_u8(path) == Path::GatewayEndpoint {
                    d(DestKind::S3Gateway, NO_SYM, 0, 0)
                } else {
                    d(DestKind::S3Nat, NO_SYM, 0, 0)
                }
            } else if class == DstClass::AwsService {
                d(DestKind::AwsService, svc, 0, 0)
            } else {
                d(DestKind::Internet, NO_SYM, internet_prefix(dst), 0)
            }
        }
    }
}

impl Dest {
    /// The volume group: what `volume-spike` and `sustained-egress` total over (a class, with
    /// services by name; hosts and prefixes of one class together).
    pub fn group(&self, model: &Model) -> String {
        match self.kind {
            DestKind::AwsService => format!(
                "aws-service:{}",
                model.services.name(self.sym).unwrap_or("unknown")
            ),
            k => k.as_str().to_string(),
        }
    }

    /// The identity `new-destination` remembers: `internet:203.0.113.0/24`,
    /// `vpc-host:10.0.1.5:5432`, `aws-service:KINESIS`, `s3-gateway`.
    pub fn key(&self, model: &Model) -> String {
        let host = || ip::to_std(self.addr).to_string();
        match self.kind {
            DestKind::S3Gateway | DestKind::S3Nat => self.kind.as_str().to_string(),
            DestKind::AwsService => self.group(model),
            DestKind::InterfaceEndpoint => format!("interface-endpoint:{}", host()),
            DestKind::VpcHost | DestKind::Peering => {
                format!("{}:{}:{}", self.kind.as_str(), host(), self.port)
            }
            DestKind::Internet => format!(
                "internet:{}/{}",
                host(),
                if ip::is_v4(self.addr) { 24 } else { 48 }
            ),
            DestKind::Dns if self.addr == 0 => "dns:vpc-resolver".to_string(),
            DestKind::Dns => format!("dns:{}:{}", host(), self.port),
        }
    }
}

/// A group's words in a title: "S3", "the internet", "AWS service KINESIS".
pub fn group_words(group: &str) -> String {
    match group {
        "s3-gateway" => "S3 (gateway endpoint)".into(),
        "s3-nat" => "S3 through NAT".into(),
        "interface-endpoint" => "interface endpoints".into(),
        "vpc-host" => "hosts in the VPC".into(),
        "peering" => "private networks outside the VPC".into(),
        "internet" => "the internet".into(),
        "dns" => "DNS resolvers".into(),
        g => match g.strip_prefix("aws-service:") {
            Some(s) => format!("AWS service {s}"),
            None => g.to_string(),
        },
    }
}
