//! The canonical flow-log schema: every documented field (v2 through v11), the Arrow type each one
//! decodes into, and the small integer codes used for enumerated fields.
//!
//! Text and Parquet decoders both produce record batches of exactly this schema, so every later
//! stage reads one shape whatever the input format, version or field order was. Fields absent from
//! a file are all-null columns.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef};

/// How a field's text is parsed and which Arrow type holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text, kept as dictionary-encoded UTF-8 (`-` is null): flow-log strings are
    /// identifiers repeated across many records.
    Str,
    /// IPv4 or IPv6 address, stored as 16 bytes (IPv4 as `::ffff:a.b.c.d`).
    Ip,
    /// Unsigned integer that must fit in the given number of bits.
    U8,
    U16,
    /// Signed 32-bit integer (`version`).
    I32,
    /// Signed 64-bit integer (counters and timestamps).
    I64,
    /// `ACCEPT` / `REJECT`, stored as [`ACTION_ACCEPT`] / [`ACTION_REJECT`].
    Action,
    /// `OK` / `NODATA` / `SKIPDATA`, stored as [`STATUS_OK`] / [`STATUS_NODATA`] / [`STATUS_SKIPDATA`].
    LogStatus,
    /// `ingress` / `egress`, stored as [`DIR_INGRESS`] / [`DIR_EGRESS`].
    Direction,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Str => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::Ip => DataType::FixedSizeBinary(16),
            Kind::U8 | Kind::Action | Kind::LogStatus | Kind::Direction => DataType::UInt8,
            Kind::U16 => DataType::UInt16,
            Kind::I32 => DataType::Int32,
            Kind::I64 => DataType::Int64,
        }
    }
}

pub const ACTION_ACCEPT: u8 = 1;
pub const ACTION_REJECT: u8 = 2;
pub const STATUS_OK: u8 = 0;
pub const STATUS_NODATA: u8 = 1;
pub const STATUS_SKIPDATA: u8 = 2;
pub const DIR_INGRESS: u8 = 1;
pub const DIR_EGRESS: u8 = 2;

/// One documented flow-log field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Name as it appears in a text header (`pkt-srcaddr`).
    pub name: &'static str,
    /// Column name in the canonical schema and in AWS Parquet (`pkt_srcaddr`).
    pub column: &'static str,
    /// Flow-log version that introduced the field.
    pub version: u8,
    pub kind: Kind,
}

macro_rules! fields {
    ($( $id:ident = ($name:literal, $col:literal, $ver:literal, $kind:ident) ),* $(,)?) => {
        /// Index of each field in [`FIELDS`] and in the canonical schema.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum F { $( $id ),* }

        pub const FIELDS: &[FieldDef] = &[
            $( FieldDef { name: $name, column: $col, version: $ver, kind: Kind::$kind } ),*
        ];
    };
}

fields! {
    Version = ("version", "version", 2, I32),
    AccountId = ("account-id", "account_id", 2, Str),
    InterfaceId = ("interface-id", "interface_id", 2, Str),
    SrcAddr = ("srcaddr", "srcaddr", 2, Ip),
    DstAddr = ("dstaddr", "dstaddr", 2, Ip),
    SrcPort = ("srcport", "srcport", 2, U16),
    DstPort = ("dstport", "dstport", 2, U16),
    Protocol = ("protocol", "protocol", 2, U8),
    Packets = ("packets", "packets", 2, I64),
    Bytes = ("bytes", "bytes", 2, I64),
    Start = ("start", "start", 2, I64),
    End = ("end", "end", 2, I64),
    Action = ("action", "action", 2, Action),
    LogStatus = ("log-status", "log_status", 2, LogStatus),
    VpcId = ("vpc-id", "vpc_id", 3, Str),
    SubnetId = ("subnet-id", "subnet_id", 3, Str),
    InstanceId = ("instance-id", "instance_id", 3, Str),
    TcpFlags = ("tcp-flags", "tcp_flags", 3, U16),
    Type = ("type", "type", 3, Str),
    PktSrcAddr = ("pkt-srcaddr", "pkt_srcaddr", 3, Ip),
    PktDstAddr = ("pkt-dstaddr", "pkt_dstaddr", 3, Ip),
    Region = ("region", "region", 4, Str),
    AzId = ("az-id", "az_id", 4, Str),
    SublocationType = ("sublocation-type", "sublocation_type", 4, Str),
    SublocationId = ("sublocation-id", "sublocation_id", 4, Str),
    PktSrcAwsService = ("pkt-src-aws-service", "pkt_src_aws_service", 5, Str),
    PktDstAwsService = ("pkt-dst-aws-service", "pkt_dst_aws_service", 5, Str),
    FlowDirection = ("flow-direction", "flow_direction", 5, Direction),
    TrafficPath = ("traffic-path", "traffic_path", 5, U8),
    EcsClusterArn = ("ecs-cluster-arn", "ecs_cluster_arn", 7, Str),
    EcsClusterName = ("ecs-cluster-name", "ecs_cluster_name", 7, Str),
    EcsContainerInstanceArn = ("ecs-container-instance-arn", "ecs_container_instance_arn", 7, Str),
    EcsContainerInstanceId = ("ecs-container-instance-id", "ecs_container_instance_id", 7, Str),
    EcsContainerId = ("ecs-container-id", "ecs_container_id", 7, Str),
    EcsSecondContainerId = ("ecs-second-container-id", "ecs_second_container_id", 7, Str),
    EcsServiceName = ("ecs-service-name", "ecs_service_name", 7, Str),
    EcsTaskDefinitionArn = ("ecs-task-definition-arn", "ecs_task_definition_arn", 7, Str),
    EcsTaskArn = ("ecs-task-arn", "ecs_task_arn", 7, Str),
    EcsTaskId = ("ecs-task-id", "ecs_task_id", 7, Str),
    RejectReason = ("reject-reason", "reject_reason", 8, Str),
    ResourceId = ("resource-id", "resource_id", 9, Str),
    EncryptionStatus = ("encryption-status", "encryption_status", 10, U8),
    InstanceTag = ("instance-tag", "instance_tag", 11, Str),
    InstanceTag2 = ("instance-tag-2", "instance_tag_2", 11, Str),
    InterfaceTag = ("interface-tag", "interface_tag", 11, Str),
    InterfaceTag2 = ("interface-tag-2", "interface_tag_2", 11, Str),
    AsgTag = ("asg-tag", "asg_tag", 11, Str),
    AsgTag2 = ("asg-tag-2", "asg_tag_2", 11, Str),
    InterfaceType = ("interface-type", "interface_type", 11, Str),
    NextHopInterfaceId = ("next-hop-interface-id", "next_hop_interface_id", 11, Str),
    NextHopSubnetId = ("next-hop-subnet-id", "next_hop_subnet_id", 11, Str),
    NextHopAzId = ("next-hop-az-id", "next_hop_az_id", 11, Str),
    NextHopVpcId = ("next-hop-vpc-id", "next_hop_vpc_id", 11, Str),
    NextHopInterfaceType = ("next-hop-interface-type", "next_hop_interface_type", 11, Str),
}

/// Number of documented fields; the canonical schema has these plus [`COL_EXTRA`] and [`COL_LINE`].
pub const NUM_FIELDS: usize = FIELDS.len();
/// Column holding unknown (future) fields as `name=value` pairs separated by single spaces.
pub const COL_EXTRA: usize = NUM_FIELDS;
/// Column holding the 1-based line (text) or row (Parquet) number the record came from.
pub const COL_LINE: usize = NUM_FIELDS + 1;

/// The default format: every v2 field in table order.
pub const DEFAULT_V2: &[F] = &[
    F::Version,
    F::AccountId,
    F::InterfaceId,
    F::SrcAddr,
    F::DstAddr,
    F::SrcPort,
    F::DstPort,
    F::Protocol,
    F::Packets,
    F::Bytes,
    F::Start,
    F::End,
    F::Action,
    F::LogStatus,
];

impl F {
    pub fn def(self) -> &'static FieldDef {
        &FIELDS[self as usize]
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Looks a field up by its header name or Parquet column name (`-` and `_` are equivalent;
    /// a `${...}` wrapper, as in a CreateFlowLogs LogFormat string, is accepted).
    pub fn lookup(name: &[u8]) -> Option<F> {
        let name = name
            .strip_prefix(b"${")
            .and_then(|n| n.strip_suffix(b"}"))
            .unwrap_or(name);
        FIELDS
            .iter()
            .position(|f| {
                f.name.len() == name.len()
                    && f.name
                        .bytes()
                        .zip(name.iter())
                        .all(|(a, &b)| a == b || (a == b'-' && b == b'_'))
            })
            .map(|i| ALL[i])
    }
}

/// Every field id in schema order (turns a column index back into an [`F`]).
pub const ALL: [F; NUM_FIELDS] = [
    F::Version,
    F::AccountId,
    F::InterfaceId,
    F::SrcAddr,
    F::DstAddr,
    F::SrcPort,
    F::DstPort,
    F::Protocol,
    F::Packets,
    F::Bytes,
    F::Start,
    F::End,
    F::Action,
    F::LogStatus,
    F::VpcId,
    F::SubnetId,
    F::InstanceId,
    F::TcpFlags,
    F::Type,
    F::PktSrcAddr,
    F::PktDstAddr,
    F::Region,
    F::AzId,
    F::SublocationType,
    F::SublocationId,
    F::PktSrcAwsService,
    F::PktDstAwsService,
    F::FlowDirection,
    F::TrafficPath,
    F::EcsClusterArn,
    F::EcsClusterName,
    F::EcsContainerInstanceArn,
    F::EcsContainerInstanceId,
    F::EcsContainerId,
    F::EcsSecondContainerId,
    F::EcsServiceName,
    F::EcsTaskDefinitionArn,
    F::EcsTaskArn,
    F::EcsTaskId,
    F::RejectReason,
    F::ResourceId,
    F::EncryptionStatus,
    F::InstanceTag,
    F::InstanceTag2,
    F::InterfaceTag,
    F::InterfaceTag2,
    F::AsgTag,
    F::AsgTag2,
    F::InterfaceType,
    F::NextHopInterfaceId,
    F::NextHopSubnetId,
    F::NextHopAzId,
    F::NextHopVpcId,
    F::NextHopInterfaceType,
];

/// The canonical Arrow schema shared by every decoder.
pub fn canonical() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields: Vec<Field> = FIELDS
                .iter()
                .map(|f| Field::new(f.column, f.kind.data_type(), true))
                .collect();
            fields.push(Field::new("extra", DataType::Utf8, true));
            fields.push(Field::new("line", DataType::UInt64, false));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_table_matches_enum_order() {
        for (i, f) in ALL.iter().enumerate() {
            assert_eq!(f.index(), i, "{:?}", f);
        }
        assert_eq!(canonical().fields().len(), NUM_FIELDS + 2);
    }

    #[test]
    fn lookup_accepts_hyphen_underscore_and_dollar_forms() {
        assert_eq!(F::lookup(b"pkt-srcaddr"), Some(F::PktSrcAddr));
        assert_eq!(F::lookup(b"pkt_srcaddr"), Some(F::PktSrcAddr));
        assert_eq!(F::lookup(b"${log-status}"), Some(F::LogStatus));
        assert_eq!(
            F::lookup(b"next-hop-interface-type"),
            Some(F::NextHopInterfaceType)
        );
        assert_eq!(F::lookup(b"pkt-srcaddrx"), None);
        assert_eq!(F::lookup(b"bogus"), None);
    }
}
