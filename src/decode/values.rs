//! Parsing one text token into a typed value, without allocating.

use crate::net::ip;
use crate::schema::{self, Kind};

/// A parsed token. Strings are kept as byte offsets into the line so the row buffer can be reused
/// across lines without borrowing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Ip(ip::IpKey),
    Str(u32, u32),
}

/// Why a token was refused; the decoder turns this into a counted, logged skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadValue {
    Integer,
    OutOfRange,
    Address,
    Action,
    LogStatus,
    Direction,
}

impl BadValue {
    pub fn describe(self) -> &'static str {
        match self {
            BadValue::Integer => "not an integer",
            BadValue::OutOfRange => "integer out of range",
            BadValue::Address => "not an IPv4 or IPv6 address",
            BadValue::Action => "action is not ACCEPT or REJECT",
            BadValue::LogStatus => "log-status is not OK, NODATA or SKIPDATA",
            BadValue::Direction => "flow-direction is not ingress or egress",
        }
    }
}

#[inline]
pub fn parse_int(tok: &[u8]) -> Result<i64, BadValue> {
    let (neg, digits) = match tok.split_first() {
        Some((b'-', rest)) if !rest.is_empty() => (true, rest),
        _ => (false, tok),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(
            if digits.len() > 19 && digits.iter().all(u8::is_ascii_digit) {
                BadValue::OutOfRange
            } else {
                BadValue::Integer
            },
        );
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(BadValue::Integer);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as i64))
            .ok_or(BadValue::OutOfRange)?;
    }
    Ok(if neg { -v } else { v })
}

fn ranged(v: i64, max: i64) -> Result<Val, BadValue> {
    if (0..=max).contains(&v) {
        Ok(Val::Int(v))
    } else {
        Err(BadValue::OutOfRange)
    }
}

/// Parses `tok` (which starts at `offset` in its line) as a value of `kind`. `-` is null for
/// every kind.
#[inline]
pub fn parse(kind: Kind, tok: &[u8], offset: u32) -> Result<Val, BadValue> {
    if tok == b"-" {
        return Ok(Val::Null);
    }
    match kind {
        Kind::Str => Ok(Val::Str(offset, offset + tok.len() as u32)),
        Kind::Ip => ip::parse(tok).map(Val::Ip).ok_or(BadValue::Address),
        Kind::U8 => ranged(parse_int(tok)?, u8::MAX as i64),
        Kind::U16 => ranged(parse_int(tok)?, u16::MAX as i64),
        Kind::I32 => {
            let v = parse_int(tok)?;
            i32::try_from(v)
                .map(|_| Val::Int(v))
                .map_err(|_| BadValue::OutOfRange)
        }
        Kind::I64 => parse_int(tok).map(Val::Int),
        Kind::Action => match tok {
            b"ACCEPT" => Ok(Val::Int(schema::ACTION_ACCEPT as i64)),
            b"REJECT" => Ok(Val::Int(schema::ACTION_REJECT as i64)),
            _ => Err(BadValue::Action),
        },
        Kind::LogStatus => match tok {
            b"OK" => Ok(Val::Int(schema::STATUS_OK as i64)),
            b"NODATA" => Ok(Val::Int(schema::STATUS_NODATA as i64)),
            b"SKIPDATA" => Ok(Val::Int(schema::STATUS_SKIPDATA as i64)),
            _ => Err(BadValue::LogStatus),
        },
        Kind::Direction => match tok {
            b"ingress" => Ok(Val::Int(schema::DIR_INGRESS as i64)),
            b"egress" => Ok(Val::Int(schema::DIR_EGRESS as i64)),
            _ => Err(BadValue::Direction),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"0"), Ok(0));
        assert_eq!(parse_int(b"1418530070"), Ok(1418530070));
        assert_eq!(parse_int(b"-5"), Ok(-5));
        assert_eq!(parse_int(b"12a"), Err(BadValue::Integer));
        assert_eq!(parse_int(b""), Err(BadValue::Integer));
        assert_eq!(
            parse_int(b"99999999999999999999"),
            Err(BadValue::OutOfRange)
        );
        assert_eq!(parse(Kind::U16, b"65536", 0), Err(BadValue::OutOfRange));
        assert_eq!(parse(Kind::U8, b"-1", 0), Err(BadValue::OutOfRange));
        assert_eq!(parse(Kind::U16, b"-", 0), Ok(Val::Null));
    }

    #[test]
    fn enums_and_strings() {
        assert_eq!(parse(Kind::Action, b"ACCEPT", 0), Ok(Val::Int(1)));
        assert_eq!(parse(Kind::Action, b"accept", 0), Err(BadValue::Action));
        assert_eq!(parse(Kind::LogStatus, b"SKIPDATA", 0), Ok(Val::Int(2)));
        assert_eq!(parse(Kind::Direction, b"egress", 0), Ok(Val::Int(2)));
        assert_eq!(parse(Kind::Str, b"unknown", 7), Ok(Val::Str(7, 14)));
    }
}
