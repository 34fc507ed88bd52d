//! Which field each position of a text line holds: learned from the header line, given with
//! `--fields`, or the default v2 format.

use crate::schema::{DEFAULT_V2, F};

/// One position of a line: a documented field, or an unknown (future) one kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Known(F),
    Unknown(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub slots: Vec<Slot>,
}

impl Layout {
    pub fn default_v2() -> Self {
        Layout {
            slots: DEFAULT_V2.iter().map(|&f| Slot::Known(f)).collect(),
        }
    }

    /// Builds a layout from field names. A name repeated within one header keeps its first
    /// position as the field and the later ones as unknown fields, so no value is lost.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut seen = [false; crate::schema::NUM_FIELDS];
        let slots = names
            .into_iter()
            .map(|n| match F::lookup(n) {
                Some(f) if !seen[f.index()] => {
                    seen[f.index()] = true;
                    Slot::Known(f)
                }
                _ => Slot::Unknown(String::from_utf8_lossy(n).into_owned().into_boxed_str()),
            })
            .collect();
        Layout { slots }
    }

    /// Parses a `--fields` value: names separated by spaces or commas, with or without `${}`.
    pub fn parse_spec(spec: &str) -> Result<Self, String> {
        let names: Vec<&[u8]> = spec
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::as_bytes)
            .collect();
        if names.is_empty() {
            return Err("--fields names no field".into());
        }
        let layout = Layout::from_names(names);
        if let Some(Slot::Unknown(n)) = layout.slots.iter().find(|s| matches!(s, Slot::Unknown(_)))
        {
            return Err(format!(
                "--fields: `{n}` is not a documented flow-log field (or is repeated)"
            ));
        }
        Ok(layout)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn has(&self, f: F) -> bool {
        self.slots.contains(&Slot::Known(f))
    }

    pub fn has_unknown(&self) -> bool {
        self.slots.iter().any(|s| matches!(s, Slot::Unknown(_)))
    }
}

/// A header line is made of field-name-shaped tokens, at least one of them a documented field.
/// Data values never qualify: they contain digits-only numbers, `-`, addresses, upper-case
/// keywords or ids that are not field names.
pub fn is_header<'a>(tokens: impl Iterator<Item = &'a [u8]> + Clone) -> bool {
    let name_shaped = |t: &[u8]| {
        let t = t
            .strip_prefix(b"${")
            .and_then(|n| n.strip_suffix(b"}"))
            .unwrap_or(t);
        matches!(t.first(), Some(b'a'..=b'z'))
            && t.iter()
                .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
    };
    let mut any_known = false;
    for t in tokens {
        if !name_shaped(t) {
            return false;
        }
        any_known |= F::lookup(t).is_some();
    }
    any_known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> impl Iterator<Item = &[u8]> + Clone {
        s.split_ascii_whitespace().map(str::as_bytes)
    }

    #[test]
    fn header_detection() {
        assert!(is_header(toks("version account-id interface-id srcaddr")));
        assert!(is_header(toks(
            "flow-direction traffic-path srcaddr some-future-field"
        )));
        assert!(!is_header(toks("bogus line")));
        assert!(!is_header(toks(
            "2 123456789010 eni-1 - - - - - - - 1 2 - NODATA"
        )));
        assert!(!is_header(toks(
            "ingress - 10.0.133.8 10.0.128.55 43236 80 1"
        )));
        assert!(!is_header(toks("egress us-east-1")));
    }

    #[test]
    fn unknown_and_repeated_fields_are_kept() {
        let l = Layout::from_names(toks("srcaddr future-x srcaddr"));
        assert_eq!(l.slots[0], Slot::Known(F::SrcAddr));
        assert_eq!(l.slots[1], Slot::Unknown("future-x".into()));
        assert_eq!(l.slots[2], Slot::Unknown("srcaddr".into()));
    }

    #[test]
    fn fields_spec() {
        let l = Layout::parse_spec("${version} ${srcaddr},dstaddr").unwrap();
        assert_eq!(l.len(), 3);
        assert!(Layout::parse_spec("version nope").is_err());
        assert!(Layout::parse_spec("  ").is_err());
    }
}
