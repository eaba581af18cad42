//! ISD-R: ES10a/b/c functions (SGP.22 §5.7) over reassembled STORE DATA commands.
//!
//! [`handle`] parses the whole command into a typed request (rsp::es10, rasn) before acting,
//! runs it against the [`EuiccState`], and encodes the typed response in DER. Errors map to
//! status words in exactly one place ([`IsdrError::sw`]); function-level failures are reported
//! as SGP.22 result codes inside a `9000` response, as the specification requires.

pub mod authz;
pub mod download;
pub mod notify;
pub mod storedata;
pub mod vendor;

use crate::apdu::{Response, Sw};
use crate::euicc::records::{Event, ProfileClass, ProfileRecord, ProfileState};
use crate::euicc::ProfileId;
use crate::euicc::{EuiccState, LifecycleError};
use rsp::es10::{self, *};
use rsp::pki;
use storedata::StoreDataError;
use tracing::{debug, warn};

/// Errors that end an ES10 command with a status word instead of a response.
#[derive(Debug, thiserror::Error)]
pub enum IsdrError {
    #[error("malformed ES10 command: {0}")]
    Malformed(#[from] es10::Es10Error),
    #[error("ES10 function {0:X} is not supported")]
    Unsupported(u32),
    #[error("the eUICC could not persist the change: {0}")]
    Storage(String),
    #[error("no download session can take this segment")]
    NoSession,
    #[error("internal error: {0}")]
    Internal(String),
}

impl IsdrError {
    /// The one mapping from ISD-R errors to status words.
    pub fn sw(&self) -> Sw {
        match self {
            // GP: incorrect values in the command data.
            IsdrError::Malformed(_) => Sw::WRONG_DATA,
            // Referenced data not found: pySim relies on this to tell SGP.22 from SGP.32.
            IsdrError::Unsupported(_) => Sw::REFERENCE_NOT_FOUND,
            IsdrError::Storage(_) => Sw::MEMORY_PROBLEM,
            IsdrError::NoSession => Sw::CONDITIONS_NOT_SATISFIED,
            IsdrError::Internal(_) => Sw::NO_PRECISE_DIAGNOSIS,
        }
    }
}

/// Status word for a refused STORE DATA block.
pub fn store_data_sw(e: &StoreDataError) -> Sw {
    match e {
        StoreDataError::BadP1(_) | StoreDataError::OutOfOrder { .. } => Sw::INCORRECT_P1P2,
        StoreDataError::TooLarge => Sw::NOT_ENOUGH_MEMORY,
        StoreDataError::Empty => Sw::WRONG_LENGTH,
    }
}

/// Processes one reassembled ES10 command.
pub fn handle(state: &mut EuiccState, command: &[u8]) -> Response {
    match dispatch(state, command) {
        Ok(data) => Response::ok(data),
        Err(e) => {
            debug!(error = %e, "ES10 command refused");
            Response::sw(e.sw())
        }
    }
}

fn dispatch(state: &mut EuiccState, command: &[u8]) -> Result<Vec<u8>, IsdrError> {
    // Vendor extensions (private-class tags FF2x, docs/veuicc.md "Vendor ES10 extensions").
    if vendor::is_vendor_command(command) {
        return vendor::handle(state, command);
    }
    // Admin-operation authorisation (isdr::authz): the vendor functions FF22…FF26.
    if let Some(data) = authz::vendor(state, command)? {
        return Ok(data);
    }
    // LoadBoundProfilePackage segments after the first (A0…A3 sections or headers, 86/87/88)
    // are not ES10 functions: they belong to the download session while one is loading (or
    // has just closed, to refuse them).
    if let Some(tag) = es10::bpp_segment_tag(command) {
        if tag != tags::BOUND_PROFILE_PACKAGE && state.download().routes_segments() {
            return download::load_segment(state, command);
        }
    }
    let req = es10::decode_request(command)?;
    debug!(function = format_args!("{:X}", req.tag()), "ES10");
    // The authorisation gate in front of the admin functions (refusal: nothing changes).
    if let Some(refusal) = authz::gate(state, &req)? {
        return Ok(refusal);
    }
    Ok(match req {
        Es10Request::GetEid(_) => es10::encode(&GetEuiccDataResponse {
            eid_value: state.identity().eid.to_vec().into(),
        }),
        Es10Request::GetEuiccInfo1 => es10::encode(&euicc_info1(state)),
        Es10Request::GetEuiccInfo2 => es10::encode(&euicc_info2(state)),
        Es10Request::GetEuiccChallenge => es10::encode(&GetEuiccChallengeResponse {
            euicc_challenge: state.new_challenge().to_vec().into(),
        }),
        Es10Request::GetProfilesInfo(r) => es10::encode(&profiles_info(state, &r)),
        Es10Request::Enable(r) => {
            let id = profile_id(&r.profile_identifier);
            let result = lifecycle_code(state.enable(&id), Op::Enable)?;
            es10::encode(&EnableProfileResponse {
                enable_result: result,
            })
        }
        Es10Request::Disable(r) => {
            let id = profile_id(&r.profile_identifier);
            let result = lifecycle_code(state.disable(&id), Op::Disable)?;
            es10::encode(&DisableProfileResponse {
                disable_result: result,
            })
        }
        Es10Request::Delete(r) => {
            let id = profile_id(&r.profile_identifier());
            let result = lifecycle_code(state.delete(&id), Op::Delete)?;
            es10::encode(&DeleteProfileResponse {
                delete_result: result,
            })
        }
        Es10Request::SetNickname(r) => {
            let result = lifecycle_code(
                state.set_nickname(&r.iccid, &r.profile_nickname),
                Op::Nickname,
            )?;
            es10::encode(&SetNicknameResponse {
                set_nickname_result: result,
            })
        }
        Es10Request::GetConfiguredAddresses => {
            let c = state.config();
            es10::encode(&EuiccConfiguredAddressesResponse {
                default_dp_address: c.default_dp_address.clone(),
                root_ds_address: c.root_ds_address.clone(),
            })
        }
        Es10Request::SetDefaultDpAddress(r) => {
            let result =
                lifecycle_code(state.set_default_dp(&r.default_dp_address), Op::DefaultDp)?;
            es10::encode(&SetDefaultDpAddressResponse {
                set_default_dp_address_result: result,
            })
        }
        Es10Request::MemoryReset(r) => {
            let o = &r.reset_options;
            let result = lifecycle_code(
                state.memory_reset(
                    o.is_set(reset_options::DELETE_OPERATIONAL_PROFILES),
                    o.is_set(reset_options::DELETE_FIELD_LOADED_TEST_PROFILES),
                    o.is_set(reset_options::RESET_DEFAULT_SMDP_ADDRESS),
                ),
                Op::MemoryReset,
            )?;
            es10::encode(&EuiccMemoryResetResponse {
                reset_result: result,
            })
        }
        Es10Request::ListNotification(r) => {
            let list = state
                .notifications()
                .filter(|n| event_matches(n.event, r.profile_management_operation.as_ref()))
                .filter_map(|n| es10::decode::<NotificationMetadata>(&n.metadata).ok())
                .collect();
            es10::encode(&ListNotificationResponse::NotificationMetadataList(list))
        }
        Es10Request::RetrieveNotifications(r) => {
            let list: Vec<PendingNotification> = state
                .notifications()
                .filter(|n| match &r.search_criteria {
                    None => true,
                    Some(NotificationSearchCriteria::SeqNumber(s)) => i64::from(n.seq) == *s,
                    Some(NotificationSearchCriteria::ProfileManagementOperation(ev)) => {
                        event_matches(n.event, Some(ev))
                    }
                })
                .filter_map(|n| es10::decode::<PendingNotification>(&n.pending).ok())
                .collect();
            // SGP.22 §5.7.10: a search by sequence number that finds nothing is an error (1).
            if list.is_empty()
                && matches!(
                    r.search_criteria,
                    Some(NotificationSearchCriteria::SeqNumber(_))
                )
            {
                es10::encode(
                    &RetrieveNotificationsListResponse::NotificationsListResultError(
                        retrieve_notifications_list_error::NO_RESULT_AVAILABLE,
                    ),
                )
            } else {
                es10::encode(&RetrieveNotificationsListResponse::NotificationList(list))
            }
        }
        Es10Request::RemoveNotification(r) => {
            let status = match u32::try_from(r.seq_number) {
                Ok(seq) => lifecycle_code(state.remove_notification(seq), Op::RemoveNotification)?,
                Err(_) => delete_notification_status::NOTHING_TO_DELETE,
            };
            es10::encode(&NotificationSentResponse {
                delete_notification_status: status,
            })
        }
        // SGP.22 v2.2 §5.7.22: the Rules Authorisation Table. This eUICC enforces PPR1 and PPR2
        // for any operator, with no end-user consent required.
        Es10Request::GetRat => es10::encode(&GetRatResponse {
            rat: vec![ProfilePolicyAuthorisationRule {
                ppr_ids: NamedBits::from_bits(&[ppr_ids::PPR1, ppr_ids::PPR2]),
                allowed_operators: vec![OperatorId {
                    mcc_mnc: vec![0xEE, 0xEE, 0xEE].into(),
                    gid1: None,
                    gid2: None,
                }],
                ppr_flags: NamedBits::new(),
            }],
        }),
        // Profile download (SGP.22 §3.1.3): see `download`.
        Es10Request::AuthenticateServer(r) => download::authenticate_server(state, &r)?,
        Es10Request::PrepareDownload(r) => download::prepare_download(state, &r)?,
        Es10Request::LoadBoundProfilePackage(segment) => download::load_segment(state, &segment)?,
        Es10Request::CancelSession(r) => download::cancel_session(state, &r)?,
        Es10Request::Unknown(tag) => return Err(IsdrError::Unsupported(tag)),
    })
}

fn event_matches(event: Event, filter: Option<&NotificationEvent>) -> bool {
    filter.is_none_or(|f| f.is_set(event.bit() as usize))
}

fn profile_id(p: &ProfileIdentifier) -> ProfileId {
    match p {
        ProfileIdentifier::Iccid(i) => ProfileId::Iccid(i.to_vec()),
        ProfileIdentifier::IsdpAid(a) => ProfileId::Aid(a.to_vec()),
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Enable,
    Disable,
    Delete,
    Nickname,
    DefaultDp,
    MemoryReset,
    RemoveNotification,
}

/// Maps a lifecycle outcome to the function's SGP.22 result code. Storage failures are not a
/// result code: the card answers `6581` and nothing has changed.
fn lifecycle_code(r: Result<(), LifecycleError>, op: Op) -> Result<i64, IsdrError> {
    use LifecycleError as E;
    let e = match r {
        Ok(()) => return Ok(0),
        Err(e) => e,
    };
    debug!(?op, error = %e, "ES10 function result");
    Ok(match (&e, op) {
        (E::Store(s), _) => return Err(IsdrError::Storage(s.to_string())),
        (E::NotFound, Op::Enable) => enable_result::ICCID_OR_AID_NOT_FOUND,
        (E::NotFound, Op::Disable) => disable_result::ICCID_OR_AID_NOT_FOUND,
        (E::NotFound, Op::Delete) => delete_result::ICCID_OR_AID_NOT_FOUND,
        (E::NotFound, Op::Nickname) => set_nickname_result::ICCID_NOT_FOUND,
        (E::WrongState, Op::Enable) => enable_result::PROFILE_NOT_IN_DISABLED_STATE,
        (E::WrongState, Op::Disable) => disable_result::PROFILE_NOT_IN_ENABLED_STATE,
        (E::WrongState, Op::Delete) => delete_result::PROFILE_NOT_IN_DISABLED_STATE,
        (E::Policy, Op::Enable) => enable_result::DISALLOWED_BY_POLICY,
        (E::Policy, Op::Disable) => disable_result::DISALLOWED_BY_POLICY,
        (E::Policy, Op::Delete) => delete_result::DISALLOWED_BY_POLICY,
        (E::NothingToDelete, Op::MemoryReset) => reset_result::NOTHING_TO_DELETE,
        (E::NothingToDelete, Op::RemoveNotification) => {
            delete_notification_status::NOTHING_TO_DELETE
        }
        _ => {
            warn!(?op, error = %e, "ES10 function failed");
            127
        }
    })
}

/// SKIs of the CIs this eUICC trusts: the CI its own certificate chains to.
fn ci_pkids(state: &EuiccState) -> Vec<SubjectKeyIdentifier> {
    // The SKI of the CI certificate, from the copy the state keeps parsed (the identity's DER
    // is parsed again only when that copy has none).
    let ski = match state.ci().and_then(|c| c.ski()) {
        Some(ski) => ski.to_vec(),
        None => state.identity().ci_ski(),
    };
    vec![ski.into()]
}

fn euicc_info1(state: &EuiccState) -> EuiccInfo1 {
    let pkids = ci_pkids(state);
    EuiccInfo1 {
        svn: SVN.to_vec().into(),
        euicc_ci_pkid_list_for_verification: pkids.clone(),
        euicc_ci_pkid_list_for_signing: pkids,
    }
}

/// SGP.22 version this eUICC implements (v2.2.2).
pub const SVN: [u8; 3] = [2, 2, 2];

fn euicc_info2(state: &EuiccState) -> EuiccInfo2 {
    let installed = state.profiles().count().min(255) as u8;
    let pkids = ci_pkids(state);
    // extCardResource (SGP.22 §5.7.8, TLVs of ETSI TS 102 226): number of installed
    // applications (81), free non-volatile memory (82), free volatile memory (83).
    let ext = [
        0x81, 0x01, installed, 0x82, 0x03, 0x10, 0x00, 0x00, 0x83, 0x02, 0x40, 0x00,
    ];
    let uicc_capability = NamedBits::from_bits(&[
        uicc_capability::USIM_SUPPORT,
        uicc_capability::ISIM_SUPPORT,
        uicc_capability::CSIM_SUPPORT,
        uicc_capability::AKA_MILENAGE,
        uicc_capability::MULTIPLE_USIM_SUPPORT,
    ]);
    EuiccInfo2 {
        profile_version: vec![2, 3, 1].into(),
        svn: SVN.to_vec().into(),
        euicc_firmware_ver: vec![0, 1, 0].into(),
        ext_card_resource: ext.to_vec().into(),
        uicc_capability,
        ts102241_version: None,
        globalplatform_version: Some(vec![2, 3, 0].into()),
        rsp_capability: NamedBits::from_bits(&[
            rsp_capability::ADDITIONAL_PROFILE,
            rsp_capability::TEST_PROFILE_SUPPORT,
        ]),
        euicc_ci_pkid_list_for_verification: pkids.clone(),
        euicc_ci_pkid_list_for_signing: pkids,
        euicc_category: Some(EuiccCategory::OTHER),
        forbidden_profile_policy_rules: None,
        pp_version: vec![0, 0, 1].into(),
        sas_acreditation_number: "VEUICC-TEST-0001".to_string(),
        certification_data_object: None,
    }
}

/// GetProfilesInfo (SGP.22 §5.7.15): filter by search criteria; the tag list selects fields
/// (absent: all the eUICC has).
fn profiles_info(state: &EuiccState, r: &ProfileInfoListRequest) -> ProfileInfoListResponse {
    let wanted = |tag: u32| -> bool {
        match &r.tag_list {
            None => true,
            Some(list) => tag_list_contains(list, tag),
        }
    };
    let list = state
        .profiles()
        .filter(|p| match &r.search_criteria {
            None => true,
            Some(SearchCriteria::Iccid(i)) => p.iccid == i.as_ref(),
            Some(SearchCriteria::IsdpAid(a)) => p.isdp_aid == a.as_ref(),
            Some(SearchCriteria::ProfileClass(c)) => i64::from(p.class.code()) == c.0,
        })
        .map(|p| profile_info(p, &wanted))
        .collect();
    ProfileInfoListResponse::ProfileInfoListOk(list)
}

/// Whether a tag list (concatenated tags, `5C`) names `tag`.
fn tag_list_contains(list: &[u8], tag: u32) -> bool {
    let mut rest = list;
    while !rest.is_empty() {
        match rsp::tlv::read_tag(rest) {
            Ok((t, n)) => {
                if t.0 == tag {
                    return true;
                }
                rest = &rest[n..];
            }
            Err(_) => return false,
        }
    }
    false
}

fn profile_info(p: &ProfileRecord, wanted: &dyn Fn(u32) -> bool) -> ProfileInfo {
    let class = match p.class {
        ProfileClass::Test => es10::ProfileClass::TEST,
        ProfileClass::Provisioning => es10::ProfileClass::PROVISIONING,
        ProfileClass::Operational => es10::ProfileClass::OPERATIONAL,
    };
    let state = match p.state {
        ProfileState::Enabled => es10::ProfileState::ENABLED,
        ProfileState::Disabled => es10::ProfileState::DISABLED,
    };
    let ppr = if p.ppr1 || p.ppr2 {
        let mut bits = NamedBits::new();
        bits.set(ppr_ids::PPR1, p.ppr1);
        bits.set(ppr_ids::PPR2, p.ppr2);
        Some(bits)
    } else {
        None
    };
    ProfileInfo {
        iccid: wanted(0x5A).then(|| p.iccid.clone().into()),
        isdp_aid: wanted(0x4F).then(|| p.isdp_aid.clone().into()),
        profile_state: wanted(0x9F70).then_some(state),
        profile_nickname: p.nickname.clone().filter(|_| wanted(0x90)),
        service_provider_name: wanted(0x91).then(|| p.service_provider_name.clone()),
        profile_name: wanted(0x92).then(|| p.profile_name.clone()),
        icon_type: None,
        icon: None,
        profile_class: wanted(0x95).then_some(class),
        notification_configuration_info: wanted(0xB6).then(|| {
            p.notifications
                .iter()
                .map(|c| NotificationConfigurationInformation {
                    profile_management_operation: NamedBits::from_bits(
                        &c.events
                            .iter()
                            .map(|e| e.bit() as usize)
                            .collect::<Vec<_>>(),
                    ),
                    notification_address: c.address.clone(),
                })
                .collect()
        }),
        profile_owner: p
            .owner
            .as_ref()
            .filter(|_| wanted(0xB7))
            .map(|o| OperatorId {
                mcc_mnc: o.mcc_mnc.clone().into(),
                gid1: (!o.gid1.is_empty()).then(|| o.gid1.clone().into()),
                gid2: (!o.gid2.is_empty()).then(|| o.gid2.clone().into()),
            }),
        dp_proprietary_data: None,
        profile_policy_rules: ppr.filter(|_| wanted(0x99)),
    }
}

/// The EID as shown to people (32 decimal digits).
pub fn eid_string(state: &EuiccState) -> String {
    pki::eid_to_string(&state.identity().eid)
}
