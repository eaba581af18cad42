//! Access rules referenced from EF.ARR (ETSI TS 102 221 §9.2.7 and §9.5, ISO 7816-4 §9.3).
//!
//! An EF.ARR record is a list of access rules, each an AM_DO followed by one or more SC_DOs
//! (several SC_DOs = OR). AM_DO `80` carries an access mode byte; for EFs b1 = READ/SEARCH,
//! b2 = UPDATE, b4 = DEACTIVATE, b5 = ACTIVATE. SC_DOs: `90 00` always, `97 00` never,
//! `A4 {83 key-ref, 95 usage}` user verification with a PIN, `A0` OR template, `AF` AND template.
//! Records are padded with FF; parsing stops there. An operation no rule covers is denied.

use rsp::tlv::TlvIter;

use super::fs::{FileSystem, NodeId, NodeKind};

/// Access mode bits for EFs (ISO 7816-4 Table 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read = 0x01,
    Update = 0x02,
    Deactivate = 0x08,
    Activate = 0x10,
}

/// A security condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Always,
    Never,
    /// User verification with this key reference.
    Pin(u8),
    Or(Vec<Condition>),
    And(Vec<Condition>),
}

impl Condition {
    /// Evaluates with `pin_ok(key_ref)` deciding PIN conditions (bounded recursion by data size).
    pub fn holds(&self, pin_ok: &dyn Fn(u8) -> bool) -> bool {
        match self {
            Condition::Always => true,
            Condition::Never => false,
            Condition::Pin(k) => pin_ok(*k),
            Condition::Or(v) => v.iter().any(|c| c.holds(pin_ok)),
            Condition::And(v) => !v.is_empty() && v.iter().all(|c| c.holds(pin_ok)),
        }
    }
}

const MAX_SC_DEPTH: usize = 4;

fn parse_sc(tag: u32, value: &[u8], depth: usize) -> Condition {
    match tag {
        0x90 => Condition::Always,
        0x97 => Condition::Never,
        0xA4 => {
            let key = TlvIter::new(value)
                .filter_map(Result::ok)
                .find(|t| t.tag.0 == 0x83)
                .and_then(|t| t.value.first().copied());
            key.map_or(Condition::Never, Condition::Pin)
        }
        0xA0 | 0xAF if depth < MAX_SC_DEPTH => {
            let inner: Vec<Condition> = TlvIter::new(value)
                .map_while(Result::ok)
                .map(|t| parse_sc(t.tag.0, t.value, depth + 1))
                .collect();
            if tag == 0xA0 {
                Condition::Or(inner)
            } else {
                Condition::And(inner)
            }
        }
        // Security condition byte (9E) and anything else: not supported → deny.
        _ => Condition::Never,
    }
}

/// The condition an ARR record sets for `op` (`Never` when no rule covers it).
pub fn rule_for(record: &[u8], op: Op) -> Condition {
    let mut applies = false;
    let mut found: Vec<Condition> = Vec::new();
    let mut it = TlvIter::new(record);
    loop {
        if it
            .remaining()
            .first()
            .is_none_or(|b| *b == 0xFF || *b == 0x00)
        {
            break;
        }
        let Some(Ok(t)) = it.next() else { break };
        match t.tag.0 {
            0x80 => {
                if !found.is_empty() {
                    break;
                }
                applies = t.value.last().is_some_and(|m| m & op as u8 != 0);
            }
            0x81..=0x8F => {
                if !found.is_empty() {
                    break;
                }
                // Command-header based AM_DOs (e.g. 84 = INS): not READ/UPDATE by mode byte.
                applies = false;
            }
            tag if applies => found.push(parse_sc(tag, t.value, 0)),
            _ => {}
        }
    }
    match found.len() {
        0 => Condition::Never,
        1 => found.pop().unwrap_or(Condition::Never),
        _ => Condition::Or(found),
    }
}

/// The EF.ARR record that governs `id` (links: the link's own reference), or `None` when it
/// cannot be found.
pub fn arr_record(fs: &FileSystem, id: NodeId) -> Option<Vec<u8>> {
    let node = fs.node(id)?;
    let r = node.arr?;
    let parent = node.parent;
    let arr_fid = r.arr_fid.unwrap_or_else(|| {
        let top = node.is_adf() || id == NodeId::MF || parent == Some(NodeId::MF);
        if top {
            0x2F06
        } else {
            0x6F06
        }
    });
    let start = if id == NodeId::MF { id } else { parent? };
    for dir in fs.ancestors(start) {
        let Some(ef) = fs.child_by_fid(dir, arr_fid, false) else {
            continue;
        };
        if let Some(n) = fs.node(ef) {
            if matches!(n.kind, NodeKind::Ef { .. } | NodeKind::Link { .. }) {
                let (structure, _, content) = fs.ef(ef)?;
                let rl = structure.record_len()?;
                let idx = usize::from(r.record.checked_sub(1)?);
                return content.chunks(rl).nth(idx).map(<[u8]>::to_vec);
            }
        }
    }
    None
}

/// Convenience for tests: the condition for `op` on `id`.
pub fn condition(fs: &FileSystem, id: NodeId, op: Op) -> Condition {
    match arr_record(fs, id) {
        Some(rec) => rule_for(&rec, op),
        None => Condition::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn usim_imsi_rule_reads_with_pin1_updates_with_adm1() {
        // TS.48 ADF.USIM EF.ARR record 10.
        let rec = h("800101A40683010195010880011AA40683010A950108FFFFFFFF");
        assert_eq!(rule_for(&rec, Op::Read), Condition::Pin(0x01));
        assert_eq!(rule_for(&rec, Op::Update), Condition::Pin(0x0A));
        assert_eq!(rule_for(&rec, Op::Activate), Condition::Pin(0x0A));
    }

    #[test]
    fn always_never_and_templates() {
        let rec = h("80010190008001029700");
        assert_eq!(rule_for(&rec, Op::Read), Condition::Always);
        assert_eq!(rule_for(&rec, Op::Update), Condition::Never);
        assert_eq!(rule_for(&rec, Op::Deactivate), Condition::Never);
        // OR of PIN1 and ADM1; AND of both.
        let or = h("800101A010A406830101950108A40683010A950108");
        let c = rule_for(&or, Op::Read);
        assert!(c.holds(&|k| k == 0x0A));
        let and = h("800101AF10A406830101950108A40683010A950108");
        let c = rule_for(&and, Op::Read);
        assert!(!c.holds(&|k| k == 0x0A));
        assert!(c.holds(&|_| true));
        // Command-header AM_DO does not grant READ.
        assert_eq!(
            rule_for(&h("8401D4A40683010A950108"), Op::Read),
            Condition::Never
        );
        // Garbage never panics and denies.
        assert_eq!(rule_for(&h("80"), Op::Read), Condition::Never);
    }
}
