//! ES2+: downloadOrder, confirmOrder, cancelOrder, releaseProfile.

use rsp::es9::ResponseHeader;

use super::{normalise_eid, normalise_iccid, reject, unix_secs, Smdp, SmdpError};
use crate::es2::{
    final_profile_status, status_codes as c, CancelOrderRequest, CancelOrderResponse,
    ConfirmOrderRequest, ConfirmOrderResponse, DownloadOrderRequest, DownloadOrderResponse,
    ReleaseProfileRequest, ReleaseProfileResponse,
};
use crate::store::{Order, ProfileRecord, ProfileState};

/// Characters of generated matching IDs (no 0/O, 1/I ambiguity).
const MATCHING_ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

fn valid_matching_id(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 255
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Smdp {
    fn es2_profile(&self, iccid: &str) -> Result<ProfileRecord, SmdpError> {
        let digits = normalise_iccid(iccid)
            .ok_or_else(|| reject(c::ICCID_INVALID, format!("{iccid:?} is not an ICCID")))?;
        self.store
            .profile(&digits)?
            .ok_or_else(|| reject(c::ICCID_UNKNOWN, format!("ICCID {digits}")))
    }

    fn es2_eid(eid: &Option<String>) -> Result<Option<String>, SmdpError> {
        eid.as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                normalise_eid(e)
                    .ok_or_else(|| reject(c::EID_INVALID, format!("{e:?} is not a 32-digit EID")))
            })
            .transpose()
    }

    fn generate_matching_id(&self) -> Result<String, SmdpError> {
        for _ in 0..16 {
            let random: [u8; 20] = self.random()?;
            let mut id = String::with_capacity(23);
            for (i, b) in random.iter().enumerate() {
                if i > 0 && i % 5 == 0 {
                    id.push('-');
                }
                let index = usize::from(*b) % MATCHING_ID_ALPHABET.len();
                id.push(char::from(MATCHING_ID_ALPHABET[index]));
            }
            if self.store.matching(&id)?.is_none() {
                return Ok(id);
            }
        }
        Err(super::internal("could not generate a unique matching ID"))
    }

    // --- downloadOrder ------------------------------------------------------------------------

    /// ES2+.DownloadOrder (SGP.22 §5.3.1): reserves a profile by ICCID or profile type.
    pub fn download_order(&self, r: &DownloadOrderRequest) -> DownloadOrderResponse {
        let span = tracing::info_span!("es2.downloadOrder", iccid = tracing::field::Empty);
        let _enter = span.enter();
        match self.download_order_inner(r) {
            Ok(iccid) => {
                span.record("iccid", iccid.as_str());
                tracing::info!("profile reserved");
                DownloadOrderResponse {
                    header: ResponseHeader::success(),
                    iccid: Some(iccid),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                DownloadOrderResponse {
                    header: e.header(),
                    iccid: None,
                }
            }
        }
    }

    fn download_order_inner(&self, r: &DownloadOrderRequest) -> Result<String, SmdpError> {
        let eid = Self::es2_eid(&r.eid)?;
        let profile_type = r.profile_type.as_deref().filter(|t| !t.is_empty());
        let guard = self.guard();
        let mut record = match (&r.iccid, profile_type) {
            (Some(iccid), _) if !iccid.trim().is_empty() => {
                let rec = self.es2_profile(iccid)?;
                if let Some(t) = profile_type {
                    if rec.meta.profile_type != t {
                        return Err(reject(
                            c::PROFILE_TYPE_MISMATCH,
                            format!(
                                "profile {} is of type {:?}",
                                rec.iccid, rec.meta.profile_type
                            ),
                        ));
                    }
                }
                if rec.state != ProfileState::Available {
                    return Err(reject(
                        c::ICCID_NOT_AVAILABLE,
                        format!("profile {} is {:?}", rec.iccid, rec.state),
                    ));
                }
                rec
            }
            (_, Some(t)) => {
                let of_type: Vec<ProfileRecord> = self
                    .store
                    .profiles()?
                    .into_iter()
                    .filter(|p| p.meta.profile_type == t)
                    .collect();
                if of_type.is_empty() {
                    return Err(reject(
                        c::PROFILE_TYPE_UNKNOWN,
                        format!("profile type {t:?}"),
                    ));
                }
                of_type
                    .into_iter()
                    .find(|p| p.state == ProfileState::Available)
                    .ok_or_else(|| {
                        reject(c::PROFILE_TYPE_EXHAUSTED, format!("profile type {t:?}"))
                    })?
            }
            _ => {
                return Err(reject(
                    c::PROFILE_TYPE_MISSING,
                    "give an iccid or a profileType",
                ))
            }
        };
        let now = unix_secs(self.now());
        let ttl = self.config.order_ttl.as_secs();
        record.state = if eid.is_some() {
            ProfileState::Linked
        } else {
            ProfileState::Allocated
        };
        record.order = Some(Order {
            eid,
            bound_eid: None,
            matching_id: None,
            cc_hash: None,
            cc_attempts: 0,
            download_attempts: 0,
            created: now,
            expires: now.saturating_add(ttl),
            last_tx: None,
            release_flag: false,
            devices: Vec::new(),
        });
        record.last_error = None;
        record.updated = now;
        self.store.put_profile(&record)?;
        drop(guard);
        self.store.flush()?;
        Ok(record.iccid)
    }

    // --- confirmOrder -------------------------------------------------------------------------

    /// ES2+.ConfirmOrder (SGP.22 §5.3.2): gives the order its matching ID (generated when
    /// absent) and confirmation code, and releases it when `releaseFlag` is true.
    pub fn confirm_order(&self, r: &ConfirmOrderRequest) -> ConfirmOrderResponse {
        let span = tracing::info_span!("es2.confirmOrder", iccid = %r.iccid);
        let _enter = span.enter();
        match self.confirm_order_inner(r) {
            Ok(resp) => {
                tracing::info!(release = r.release_flag, "order confirmed");
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                ConfirmOrderResponse {
                    header: e.header(),
                    eid: None,
                    matching_id: None,
                    smdp_address: None,
                }
            }
        }
    }

    fn confirm_order_inner(
        &self,
        r: &ConfirmOrderRequest,
    ) -> Result<ConfirmOrderResponse, SmdpError> {
        let eid = Self::es2_eid(&r.eid)?;
        let guard = self.guard();
        let mut record = self.es2_profile(&r.iccid)?;
        if !matches!(record.state, ProfileState::Allocated | ProfileState::Linked) {
            return Err(reject(
                c::INVALID_TRANSITION,
                format!(
                    "profile {} is {:?}, not Allocated or Linked",
                    record.iccid, record.state
                ),
            ));
        }
        let now = unix_secs(self.now());
        let Some(order) = record.order.as_mut() else {
            return Err(super::internal("reserved profile without an order"));
        };
        if now > order.expires {
            return Err(reject(c::ORDER_EXPIRED, "the download order has expired"));
        }
        if let (Some(given), Some(existing)) = (&eid, &order.eid) {
            if given != existing {
                return Err(reject(
                    c::EID_MISMATCH,
                    format!("the order is for EID {existing}"),
                ));
            }
        }
        let eid = eid.or_else(|| order.eid.clone());
        if r.smds_address.as_deref().is_some_and(|a| !a.is_empty()) {
            return Err(reject(
                c::SMDS_INACCESSIBLE,
                "this SM-DP+ does not register events with an SM-DS",
            ));
        }
        let matching_id = match r.matching_id.as_deref() {
            None => self.generate_matching_id()?,
            Some("") => {
                if eid.is_none() {
                    return Err(reject(
                        c::EID_MISSING,
                        "an empty matchingId needs an EID (default SM-DP+ address use case)",
                    ));
                }
                String::new()
            }
            Some(m) => {
                if !valid_matching_id(m) {
                    return Err(reject(
                        c::MATCHING_ID_INVALID,
                        format!("{m:?}: use letters, digits and '-'"),
                    ));
                }
                if self.store.matching(m)?.is_some() {
                    return Err(reject(c::MATCHING_ID_IN_USE, format!("{m:?}")));
                }
                m.to_owned()
            }
        };
        order.cc_hash = r
            .confirmation_code
            .as_deref()
            .filter(|cc| !cc.is_empty())
            .map(|cc| hex::encode_upper(self.provider.sha256(cc.as_bytes())));
        order.eid = eid.clone();
        order.matching_id = Some(matching_id.clone());
        order.release_flag = r.release_flag;
        record.state = if r.release_flag {
            ProfileState::Released
        } else {
            ProfileState::Confirmed
        };
        record.updated = now;
        if !matching_id.is_empty() {
            self.store.put_matching(&matching_id, &record.iccid)?;
        }
        self.store.put_profile(&record)?;
        drop(guard);
        self.store.flush()?;
        Ok(ConfirmOrderResponse {
            header: ResponseHeader::success(),
            eid,
            matching_id: Some(matching_id),
            smdp_address: Some(self.address()),
        })
    }

    // --- cancelOrder --------------------------------------------------------------------------

    /// ES2+.CancelOrder (SGP.22 §5.3.3): ends the order; the profile becomes `Available` or
    /// `Unavailable` as the operator says.
    pub fn cancel_order(&self, r: &CancelOrderRequest) -> CancelOrderResponse {
        let span = tracing::info_span!("es2.cancelOrder", iccid = %r.iccid);
        let _enter = span.enter();
        match self.cancel_order_inner(r) {
            Ok(()) => {
                tracing::info!(final_status = %r.final_profile_status_indicator, "order cancelled");
                CancelOrderResponse {
                    header: ResponseHeader::success(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                CancelOrderResponse { header: e.header() }
            }
        }
    }

    fn cancel_order_inner(&self, r: &CancelOrderRequest) -> Result<(), SmdpError> {
        let final_state = match r.final_profile_status_indicator.as_str() {
            final_profile_status::AVAILABLE => ProfileState::Available,
            final_profile_status::UNAVAILABLE => ProfileState::Unavailable,
            other => {
                return Err(reject(
                    c::ICCID_OR_STATUS_MISSING,
                    format!("finalProfileStatusIndicator {other:?} (Available or Unavailable)"),
                ))
            }
        };
        let eid = Self::es2_eid(&r.eid)?;
        let guard = self.guard();
        let mut record = self.es2_profile(&r.iccid)?;
        if matches!(
            record.state,
            ProfileState::Available | ProfileState::Installed | ProfileState::Unavailable
        ) {
            return Err(reject(
                c::INVALID_TRANSITION,
                format!(
                    "profile {} is {:?}: no order to cancel",
                    record.iccid, record.state
                ),
            ));
        }
        if let Some(order) = &record.order {
            if let Some(given) = &eid {
                let known = order.eid.as_ref().or(order.bound_eid.as_ref());
                if known.is_some_and(|k| k != given) {
                    return Err(reject(c::EID_MISMATCH, "the order is for another EID"));
                }
            }
            if let Some(given) = r.matching_id.as_deref().filter(|m| !m.is_empty()) {
                if order.matching_id.as_deref() != Some(given) {
                    return Err(reject(
                        c::MATCHING_ID_MISMATCH,
                        "the order has another matching ID",
                    ));
                }
            }
            if let Some(m) = order.matching_id.as_deref().filter(|m| !m.is_empty()) {
                self.store.remove_matching(m)?;
            }
        }
        record.order = None;
        record.state = final_state;
        record.last_error = None;
        record.updated = unix_secs(self.now());
        self.store.put_profile(&record)?;
        drop(guard);
        self.store.flush()?;
        self.one_time_keys_remove(&record.iccid);
        Ok(())
    }

    fn one_time_keys_remove(&self, iccid: &str) {
        self.one_time
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(iccid);
    }

    // --- releaseProfile -----------------------------------------------------------------------

    /// ES2+.ReleaseProfile (SGP.22 §5.3.4): releases a confirmed profile.
    pub fn release_profile(&self, r: &ReleaseProfileRequest) -> ReleaseProfileResponse {
        let span = tracing::info_span!("es2.releaseProfile", iccid = %r.iccid);
        let _enter = span.enter();
        match self.release_profile_inner(r) {
            Ok(()) => {
                tracing::info!("profile released");
                ReleaseProfileResponse {
                    header: ResponseHeader::success(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                ReleaseProfileResponse { header: e.header() }
            }
        }
    }

    fn release_profile_inner(&self, r: &ReleaseProfileRequest) -> Result<(), SmdpError> {
        let guard = self.guard();
        let mut record = self.es2_profile(&r.iccid)?;
        if record.state != ProfileState::Confirmed {
            return Err(reject(
                c::INVALID_TRANSITION,
                format!(
                    "profile {} is {:?}, not Confirmed",
                    record.iccid, record.state
                ),
            ));
        }
        let now = unix_secs(self.now());
        if record.order.as_ref().is_some_and(|o| now > o.expires) {
            return Err(reject(c::ORDER_EXPIRED, "the download order has expired"));
        }
        if let Some(o) = record.order.as_mut() {
            o.release_flag = true;
        }
        record.state = ProfileState::Released;
        record.updated = now;
        self.store.put_profile(&record)?;
        drop(guard);
        self.store.flush()?;
        Ok(())
    }
}
