#![allow(clippy::unwrap_used)]
//! The IMEI binding engine alone (sans-IO): lifecycle changes in, bindings and effects out.
//! Rules as in `vmodem::device::binding` and docs/vmodem.md "IMEI binding".

use vmodem::device::binding::{
    BindingEvent, BindingPolicy, BindingRecord, Engine, ExclusiveScope, Settings, Status,
    MAX_HISTORY,
};
use vmodem::device::imei::Imei;
use vmodem::device::state::StateStore;

const A: &str = "8949449999999990023";
const B: &str = "8949449999999990031";
const C: &str = "8949449999999990049";
const D: &str = "8949449999999990007";
const P: &str = "8949449999999990015"; // a pSIM

fn imei(body14: &str) -> Imei {
    Imei::parse(body14).unwrap()
}

fn i1() -> Imei {
    imei("35209900176148")
}
fn i2() -> Imei {
    imei("35209900176149")
}
fn i3() -> Imei {
    imei("35999999000001")
}

fn engine(settings: Settings, can_assign: bool) -> Engine {
    Engine::new(
        settings,
        vec![i1(), i2()],
        BindingRecord::new("dev-1"),
        can_assign,
    )
}

fn exclusive() -> Settings {
    Settings {
        default_policy: Some(BindingPolicy::Exclusive),
        ..Settings::default()
    }
}

fn bound(e: &Engine, iccid: &str) -> Option<Imei> {
    e.record().profiles.get(iccid).and_then(|b| b.imei.clone())
}

/// Install and enable on `slot`, as an eUICC reports it (disable of the previous profile first).
fn switch(e: &mut Engine, slot: u8, from: Option<&str>, to: &str, now: u64) {
    if let Some(f) = from {
        e.disabled(slot, f, now);
    }
    if !e.record().profiles.get(to).is_some_and(|b| b.installed) {
        e.installed(slot, to, None, None, now);
    }
    e.enabled(slot, to, None, now);
}

#[test]
fn first_enable_binds_the_slots_own_imei() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 100);
    assert_eq!(bound(&e, A), Some(i2()), "slot 2's own IMEI is IMEI2");
    assert_eq!(e.reported(2), Some(&i2()));
    assert_eq!(e.reported(1), None);
    assert_eq!(e.status(A), Some(Status::Bound));
    let h: Vec<(BindingEvent, u64)> = e.record().profiles[A]
        .history
        .iter()
        .map(|x| (x.event, x.time))
        .collect();
    assert_eq!(
        h,
        vec![(BindingEvent::Installed, 100), (BindingEvent::Enabled, 100)]
    );
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 1, None, A, 100);
    assert_eq!(bound(&e, A), Some(i1()), "slot 1's own IMEI is IMEI1");
}

#[test]
fn reenabled_profile_gets_its_previous_imei_back() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    assert_eq!(
        bound(&e, B),
        Some(i1()),
        "a never-bound profile takes the unused IMEI"
    );
    assert_eq!(e.reported(2), Some(&i1()));
    switch(&mut e, 2, Some(B), A, 3);
    assert_eq!(e.reported(2), Some(&i2()), "A has its IMEI back");
    switch(&mut e, 2, Some(A), B, 4);
    assert_eq!(e.reported(2), Some(&i1()));
    let events: Vec<BindingEvent> = e.record().profiles[A]
        .history
        .iter()
        .map(|x| x.event)
        .collect();
    assert_eq!(
        events,
        vec![
            BindingEvent::Installed,
            BindingEvent::Enabled,
            BindingEvent::Disabled,
            BindingEvent::Enabled,
            BindingEvent::Disabled
        ]
    );
}

#[test]
fn shareable_profiles_share_once_the_pool_is_used() {
    let mut e = engine(Settings::default(), true);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    let fx = {
        e.disabled(2, B, 3);
        e.installed(2, C, None, None, 3)
    };
    assert!(fx.assign.is_empty(), "shareable: no server needed");
    assert_eq!(bound(&e, C), Some(i2()), "shares slot 2's own IMEI with A");
}

#[test]
fn exclusive_profiles_never_share_an_installed_profiles_imei() {
    let mut e = engine(exclusive(), false);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    e.disabled(2, B, 3);
    let fx = e.installed(2, C, None, None, 3);
    assert!(fx.assign.is_empty());
    assert_eq!(
        e.status(C),
        Some(Status::Unbound),
        "pool exhausted, no server"
    );
    let fx = e.enabled(2, C, None, 4);
    assert_eq!(e.status(C), Some(Status::Unbound));
    assert_eq!(
        e.reported(2),
        None,
        "the modem falls back to the slot's IMEI"
    );
    assert_eq!(fx.notices.len(), 1, "the condition is announced");
    assert_eq!(fx.notices[0].iccid, C);
}

#[test]
fn exclusive_scope_active_lets_profiles_take_turns() {
    let mut e = engine(
        Settings {
            scope: ExclusiveScope::Active,
            ..exclusive()
        },
        false,
    );
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    switch(&mut e, 2, Some(B), C, 3);
    assert_eq!(e.status(C), Some(Status::Bound));
    assert_eq!(
        bound(&e, C),
        Some(i2()),
        "A is not active: its IMEI is free"
    );
    // …but never at the same time: a pSIM in slot 1 holding IMEI1 exclusively is active.
    switch(&mut e, 1, None, P, 4);
    assert_eq!(bound(&e, P), Some(i1()));
    switch(&mut e, 2, Some(C), D, 5);
    assert_eq!(bound(&e, D), Some(i2()));
    assert_ne!(bound(&e, D), bound(&e, P));
}

#[test]
fn pool_exhaustion_asks_the_assignment_server() {
    let mut e = engine(exclusive(), true);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    e.disabled(2, B, 3);
    let fx = e.installed(2, C, None, None, 3);
    assert_eq!(fx.assign, vec![C.to_string()]);
    assert_eq!(e.status(C), Some(Status::Pending));
    // Enabling while pending asks no second time.
    let fx = e.enabled(2, C, None, 4);
    assert!(fx.assign.is_empty());
    assert_eq!(e.status(C), Some(Status::Pending));
    let fx = e.assignment(C, Ok(i3()), 5);
    assert!(fx.persist());
    assert_eq!(fx.notices.len(), 1, "the resolution is announced");
    assert_eq!(e.reported(2), Some(&i3()));
    assert!(e.pool().contains(&i3()), "the assigned IMEI joins the pool");
    assert_eq!(
        e.record().profiles[C].history.last().map(|h| h.event),
        Some(BindingEvent::Assigned)
    );
    // D: the pool has no free IMEI again.
    switch(&mut e, 2, Some(C), D, 6);
    assert_eq!(e.status(D), Some(Status::Pending));
    let fx = e.assignment(D, Err("HTTP 503".into()), 7);
    assert_eq!(
        e.status(D),
        Some(Status::Unbound),
        "a failed assignment: unbound"
    );
    assert_eq!(fx.notices.len(), 1);
}

#[test]
fn an_assignment_for_a_profile_deleted_meanwhile_only_grows_the_pool() {
    let mut e = engine(exclusive(), true);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    switch(&mut e, 2, Some(B), C, 3);
    assert_eq!(e.status(C), Some(Status::Pending));
    e.disabled(2, C, 4);
    e.deleted(C, 4);
    e.assignment(C, Ok(i3()), 5);
    assert_eq!(bound(&e, C), None);
    assert!(e.pool().contains(&i3()));
    switch(&mut e, 2, Some(B), D, 6);
    assert_eq!(
        bound(&e, D),
        Some(i3()),
        "the spare IMEI serves the next profile"
    );
}

#[test]
fn delete_releases_the_binding_and_reinstall_recalls_it() {
    let mut e = engine(exclusive(), false);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    assert_eq!(bound(&e, B), Some(i1()));
    e.disabled(2, B, 3);
    e.deleted(B, 3);
    assert_eq!(e.status(B), Some(Status::Released));
    assert_eq!(bound(&e, B), None);
    assert_eq!(
        e.record().profiles[B]
            .history
            .last()
            .map(|h| (h.event, h.imei.clone())),
        Some((BindingEvent::Deleted, i1()))
    );
    // IMEI1 is free again: an exclusive newcomer may take it…
    switch(&mut e, 2, Some(A), C, 4);
    assert_eq!(bound(&e, C), Some(i1()));
    e.disabled(2, C, 5);
    e.deleted(C, 5);
    // …and B, reinstalled, gets its previous IMEI back.
    e.installed(2, B, None, None, 6);
    e.enabled(2, B, None, 6);
    assert_eq!(bound(&e, B), Some(i1()));
}

#[test]
fn install_prefers_the_download_imei_when_the_policies_allow() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 1);
    // The LPA read IMEI2 (A's, shareable) and sent it in DeviceInfo: B is bound to it.
    e.installed(2, B, None, Some(&i2()), 2);
    assert_eq!(bound(&e, B), Some(i2()));
    // An IMEI that is not the device's is ignored.
    e.installed(2, C, None, Some(&i3()), 3);
    assert_eq!(bound(&e, C), Some(i1()));
    // Exclusive: the download IMEI is A's, so D gets another one (here: none left).
    let mut e = engine(exclusive(), false);
    switch(&mut e, 2, None, A, 1);
    e.installed(2, D, None, Some(&i2()), 2);
    assert_eq!(bound(&e, D), Some(i1()));
}

#[test]
fn policy_sources_have_a_precedence() {
    let mut s = Settings {
        default_policy: Some(BindingPolicy::Shareable),
        ..Settings::default()
    };
    s.spn_policies
        .insert("Exclusive Operator".into(), BindingPolicy::Exclusive);
    s.policies.insert(B.into(), BindingPolicy::Shareable);
    let mut e = engine(s, false);
    e.installed(2, A, Some("Exclusive Operator"), None, 1);
    e.installed(2, B, Some("Exclusive Operator"), None, 1);
    e.installed(2, C, Some("Other"), None, 1);
    assert_eq!(e.policy_of(A), BindingPolicy::Exclusive, "by SPN");
    assert_eq!(
        e.policy_of(B),
        BindingPolicy::Shareable,
        "by ICCID over SPN"
    );
    assert_eq!(e.policy_of(C), BindingPolicy::Shareable, "default");
    e.set_policy(C, Some(BindingPolicy::Exclusive), 2);
    assert_eq!(
        e.policy_of(C),
        BindingPolicy::Exclusive,
        "control plane first"
    );
    e.set_policy(C, None, 3);
    assert_eq!(e.policy_of(C), BindingPolicy::Shareable);
}

#[test]
fn a_policy_change_rebinds_a_profile_that_now_conflicts() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    e.disabled(2, B, 3);
    e.installed(2, C, None, None, 3);
    assert_eq!(bound(&e, C), Some(i2()), "sharing A's IMEI");
    let fx = e.set_policy(C, Some(BindingPolicy::Exclusive), 4);
    assert!(fx.changed.contains(C));
    assert_eq!(
        e.status(C),
        Some(Status::Unbound),
        "no IMEI left for it alone"
    );
    let mut e2 = engine(Settings::default(), true);
    switch(&mut e2, 2, None, A, 1);
    switch(&mut e2, 2, Some(A), B, 2);
    e2.disabled(2, B, 3);
    e2.installed(2, C, None, None, 3);
    let fx = e2.set_policy(C, Some(BindingPolicy::Exclusive), 4);
    assert_eq!(fx.assign, vec![C.to_string()], "asks the server instead");
}

#[test]
fn an_imei_write_moves_the_bindings() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 1);
    let new = imei("49015420323751");
    e.set_base(vec![i1(), new.clone()]);
    let fx = e.replace_imei(&i2(), &new, 2);
    assert!(fx.changed.contains(A));
    assert_eq!(e.reported(2), Some(&new));
    assert_eq!(
        e.record().profiles[A].history.last().map(|h| h.event),
        Some(BindingEvent::Assigned)
    );
}

#[test]
fn restore_adds_nothing_for_a_settled_profile() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 1);
    let record = e.record().clone();
    let mut e2 = Engine::new(Settings::default(), vec![i1(), i2()], record.clone(), false);
    let fx = e2.restore(2, A, None, 9);
    assert!(!fx.persist());
    assert_eq!(e2.record(), &record);
    assert_eq!(e2.reported(2), Some(&i2()));
    // A profile seen for the first time (a pSIM at start) is installed and enabled.
    let fx = e2.restore(1, P, None, 9);
    assert!(fx.changed.contains(P));
    assert_eq!(e2.reported(1), Some(&i1()));
}

#[test]
fn history_keeps_the_newest_entries() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 0);
    for t in 1..100 {
        e.disabled(2, A, t);
        e.enabled(2, A, None, t);
    }
    let h = &e.record().profiles[A].history;
    assert_eq!(h.len(), MAX_HISTORY);
    assert_eq!(h.last().map(|x| x.time), Some(99));
}

#[test]
fn the_record_survives_a_reopen_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = engine(exclusive(), true);
    switch(&mut e, 2, None, A, 1);
    switch(&mut e, 2, Some(A), B, 2);
    e.set_policy(A, Some(BindingPolicy::Shareable), 3);
    switch(&mut e, 2, Some(B), C, 4);
    e.assignment(C, Ok(i3()), 5);
    {
        let s = StateStore::open(dir.path()).unwrap();
        s.save_binding(e.record()).unwrap();
    }
    let s = StateStore::open(dir.path()).unwrap();
    let back = s.load_binding().unwrap().unwrap();
    assert_eq!(&back, e.record());
    let mut e2 = Engine::new(exclusive(), vec![i1(), i2()], back, true);
    e2.restore(2, C, None, 6);
    assert_eq!(e2.reported(2), Some(&i3()));
    assert_eq!(e2.policy_of(A), BindingPolicy::Shareable);
    switch(&mut e2, 2, Some(C), B, 7);
    assert_eq!(e2.reported(2), Some(&i1()));
}

#[test]
fn refuses_binding_records_of_another_format_version_or_corrupt() {
    let s = StateStore::memory();
    s.save_binding_raw(br#"{"version":2,"device_id":"x"}"#)
        .unwrap();
    let e = s.load_binding().unwrap_err();
    assert!(e.to_string().contains("version 2"), "{e}");
    s.save_binding_raw(b"{not json").unwrap();
    assert!(s.load_binding().is_err());
    s.save_binding_raw(br#"{"version":1,"device_id":"x","profiles":{"1":{"imei":"123","installed":true,"slot":1,"history":[]}},"assigned":[],"policies":{}}"#)
        .unwrap();
    assert!(
        s.load_binding().is_err(),
        "an IMEI without a check digit is refused"
    );
}

#[test]
fn unknown_profiles_disabled_or_deleted_change_nothing() {
    let mut e = engine(Settings::default(), false);
    let fx = e.disabled(2, A, 1);
    assert!(!fx.persist());
    let fx = e.deleted(A, 1);
    assert!(!fx.persist());
    assert!(e.record().profiles.is_empty());
    let fx = e.assignment(A, Ok(i3()), 1);
    assert!(e.record().profiles.is_empty());
    assert!(fx.dirty, "the IMEI is the device's now");
}

#[test]
fn card_record_matches_the_vendor_layout() {
    let mut e = engine(Settings::default(), false);
    switch(&mut e, 2, None, A, 7);
    let r = e.card_record(A).unwrap();
    assert_eq!(hex::encode_upper(&r.iccid), "989444999999990920F3");
    assert_eq!(r.imei.as_deref(), Some(i2().as_str()));
    assert_eq!(r.history.len(), 2);
    let der = r.encode().unwrap();
    let back =
        veuicc::isdr::vendor::ImeiBindingRecord::decode(&rsp::tlv::parse_exact(&der).unwrap())
            .unwrap();
    assert_eq!(back, r);
    e.disabled(2, A, 8);
    e.deleted(A, 8);
    assert!(
        e.card_record(A).is_none(),
        "a deleted profile has no card record"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use vmodem::device::binding::snoop::Snoop;

    const ICCIDS: [&str; 5] = [A, B, C, D, P];

    #[derive(Debug, Clone)]
    enum Op {
        Install(u8, usize, bool),
        Enable(u8, usize),
        Disable(u8, usize),
        Delete(usize),
        Policy(usize, Option<bool>),
        Assign(usize, bool),
        Restore(u8, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let slot = 1u8..=2;
        let p = 0usize..ICCIDS.len();
        prop_oneof![
            (slot.clone(), p.clone(), any::<bool>()).prop_map(|(s, i, h)| Op::Install(s, i, h)),
            (slot.clone(), p.clone()).prop_map(|(s, i)| Op::Enable(s, i)),
            (slot.clone(), p.clone()).prop_map(|(s, i)| Op::Disable(s, i)),
            p.clone().prop_map(Op::Delete),
            (p.clone(), proptest::option::of(any::<bool>())).prop_map(|(i, x)| Op::Policy(i, x)),
            (p.clone(), any::<bool>()).prop_map(|(i, ok)| Op::Assign(i, ok)),
            (slot, p).prop_map(|(s, i)| Op::Restore(s, i)),
        ]
    }

    /// No two profiles in scope share an IMEI when either is exclusive; every binding is a
    /// pool IMEI; the reported IMEI of a slot is its active profile's binding.
    fn check(e: &Engine, scope: ExclusiveScope) {
        let profiles = &e.record().profiles;
        let pool = e.pool();
        for (p, bp) in profiles {
            let Some(x) = bp.imei.as_ref() else { continue };
            assert!(bp.installed, "{p}: a deleted profile keeps no binding");
            assert!(pool.contains(x), "{p}: {x} is not in the pool");
            for (q, bq) in profiles {
                if q <= p || bq.imei.as_ref() != Some(x) || !bq.installed {
                    continue;
                }
                let excl = e.policy_of(p) == BindingPolicy::Exclusive
                    || e.policy_of(q) == BindingPolicy::Exclusive;
                let counted = match scope {
                    ExclusiveScope::Installed => true,
                    ExclusiveScope::Active => e.is_active(p) && e.is_active(q),
                };
                assert!(!(excl && counted), "{p} and {q} share {x}");
            }
        }
        for (slot, iccid) in e.active() {
            assert_eq!(e.reported(*slot), profiles[iccid].imei.as_ref());
        }
    }

    proptest! {
        #[test]
        fn exclusive_bindings_are_never_shared(
            ops in proptest::collection::vec(op(), 1..60),
            active_scope in any::<bool>(),
            exclusive_default in any::<bool>(),
        ) {
            let scope = if active_scope { ExclusiveScope::Active } else { ExclusiveScope::Installed };
            let settings = Settings {
                scope,
                default_policy: Some(if exclusive_default {
                    BindingPolicy::Exclusive
                } else {
                    BindingPolicy::Shareable
                }),
                ..Settings::default()
            };
            let mut e = Engine::new(settings, vec![i1(), i2()], BindingRecord::new("d"), true);
            let mut serial = 0u32;
            for (t, op) in ops.into_iter().enumerate() {
                let now = t as u64;
                match op {
                    Op::Install(s, i, hint) => {
                        let h = hint.then(i1);
                        e.installed(s, ICCIDS[i], None, h.as_ref(), now);
                    }
                    Op::Enable(s, i) => {
                        e.enabled(s, ICCIDS[i], None, now);
                    }
                    Op::Disable(s, i) => {
                        e.disabled(s, ICCIDS[i], now);
                    }
                    Op::Delete(i) => {
                        e.deleted(ICCIDS[i], now);
                    }
                    Op::Policy(i, x) => {
                        let p = x.map(|x| if x { BindingPolicy::Exclusive } else { BindingPolicy::Shareable });
                        e.set_policy(ICCIDS[i], p, now);
                    }
                    Op::Assign(i, ok) => {
                        serial += 1;
                        let r = if ok {
                            Ok(imei(&format!("359999990{serial:05}")))
                        } else {
                            Err("refused".into())
                        };
                        e.assignment(ICCIDS[i], r, now);
                    }
                    Op::Restore(s, i) => {
                        e.restore(s, ICCIDS[i], None, now);
                    }
                }
                check(&e, scope);
            }
        }

        #[test]
        fn snoop_never_panics_on_arbitrary_apdus(
            apdus in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)
        ) {
            let mut s = Snoop::default();
            for a in apdus {
                let _ = s.see(&a);
            }
        }
    }
}
