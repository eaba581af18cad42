//! The card side of an LPA: ES10 over STORE DATA on a logical channel, plus UICC file reads.

use crate::transport::{ApduTransport, TransportError};
use rsp::es10::{self, *};
use veuicc::apdu::{build, Class, Response, Sw};
use veuicc::euicc::ISDR_AID;
use veuicc::isdr::storedata;

/// Client failures.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: card answered {sw}")]
    Status { what: String, sw: Sw },
    #[error("{what}: cannot decode the card's answer: {source}")]
    Decode {
        what: String,
        source: es10::Es10Error,
    },
}

/// An ES10 / UICC client on one channel of a card.
#[derive(Debug)]
pub struct Client<T: ApduTransport> {
    t: T,
    channel: u8,
    /// STORE DATA block size (lpac uses 120, pySim 255).
    pub block: usize,
}

impl<T: ApduTransport> Client<T> {
    /// A client on the basic channel.
    pub fn new(t: T) -> Self {
        Client {
            t,
            channel: 0,
            block: 255,
        }
    }

    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }

    pub fn channel(&self) -> u8 {
        self.channel
    }

    /// Sends one APDU, following `61xx` with GET RESPONSE and `6Cxx` with a corrected Le.
    pub fn send(&mut self, apdu: &[u8]) -> Result<Response, ClientError> {
        let raw = self.t.transmit(apdu)?;
        let mut r = Response::from_bytes(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
        if r.sw.sw1() == 0x6C && apdu.len() >= 4 {
            let mut again = apdu.to_vec();
            if apdu.len() == 5 {
                again[4] = r.sw.sw2();
            } else {
                again.push(r.sw.sw2());
            }
            let raw = self.t.transmit(&again)?;
            r = Response::from_bytes(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
        }
        let mut data = r.data;
        let mut sw = r.sw;
        // GET RESPONSE on the same logical channel, interindustry class.
        let cla = apdu
            .first()
            .and_then(|c| Class::parse(*c).ok())
            .map_or(0, |c| Class::encode(c.channel, false));
        while sw.sw1() == 0x61 {
            let le = if sw.sw2() == 0 { 0 } else { sw.sw2() };
            let raw = self.t.transmit(&[cla, 0xC0, 0x00, 0x00, le])?;
            let r = Response::from_bytes(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
            data.extend_from_slice(&r.data);
            sw = r.sw;
        }
        Ok(Response { data, sw })
    }

    fn expect_ok(&mut self, what: &str, apdu: &[u8]) -> Result<Vec<u8>, ClientError> {
        let r = self.send(apdu)?;
        if r.sw != Sw::OK {
            return Err(ClientError::Status {
                what: what.into(),
                sw: r.sw,
            });
        }
        Ok(r.data)
    }

    /// MANAGE CHANNEL open; subsequent commands use the new channel.
    pub fn open_channel(&mut self) -> Result<u8, ClientError> {
        let d = self.expect_ok(
            "MANAGE CHANNEL",
            &[Class::encode(self.channel, false), 0x70, 0, 0, 1],
        )?;
        let ch = d.first().copied().ok_or_else(|| ClientError::Status {
            what: "MANAGE CHANNEL returned no channel".into(),
            sw: Sw::OK,
        })?;
        self.channel = ch;
        Ok(ch)
    }

    /// MANAGE CHANNEL close of the current channel; back to the basic channel.
    pub fn close_channel(&mut self) -> Result<(), ClientError> {
        if self.channel != 0 {
            let ch = self.channel;
            self.expect_ok("MANAGE CHANNEL close", &[0x00, 0x70, 0x80, ch])?;
            self.channel = 0;
        }
        Ok(())
    }

    /// SELECT by AID on the current channel; returns the FCI.
    pub fn select_aid(&mut self, aid: &[u8]) -> Result<Vec<u8>, ClientError> {
        let apdu = build(
            Class::encode(self.channel, false),
            0xA4,
            0x04,
            0x00,
            aid,
            Some(256),
        );
        self.expect_ok("SELECT", &apdu)
    }

    /// SELECT the ISD-R.
    pub fn select_isdr(&mut self) -> Result<Vec<u8>, ClientError> {
        self.select_aid(&ISDR_AID)
    }

    /// Sends one ES10 command (a whole BER-TLV) as STORE DATA blocks; returns the response.
    pub fn es10(&mut self, command: &[u8]) -> Result<Vec<u8>, ClientError> {
        let blocks = storedata::split(command, self.block);
        let n = blocks.len();
        let mut out = Vec::new();
        for (i, (p1, p2, data)) in blocks.into_iter().enumerate() {
            let le = (i + 1 == n).then_some(256);
            let apdu = build(Class::encode(self.channel, true), 0xE2, p1, p2, &data, le);
            out = self.expect_ok("STORE DATA", &apdu)?;
        }
        Ok(out)
    }

    fn call<Req: rasn::Encode, Resp: rasn::Decode>(
        &mut self,
        what: &str,
        req: &Req,
    ) -> Result<Resp, ClientError> {
        let raw = self.es10(&es10::encode(req))?;
        es10::decode(&raw).map_err(|source| ClientError::Decode {
            what: what.into(),
            source,
        })
    }

    /// GetEID (`BF3E`).
    pub fn get_eid(&mut self) -> Result<Vec<u8>, ClientError> {
        let r: GetEuiccDataResponse = self.call(
            "GetEID",
            &GetEuiccDataRequest {
                tag_list: Some(vec![0x5A].into()),
            },
        )?;
        Ok(r.eid_value.to_vec())
    }

    pub fn euicc_info1(&mut self) -> Result<EuiccInfo1, ClientError> {
        self.call("GetEUICCInfo1", &GetEuiccInfo1Request {})
    }

    pub fn euicc_info2(&mut self) -> Result<EuiccInfo2, ClientError> {
        self.call("GetEUICCInfo2", &GetEuiccInfo2Request {})
    }

    pub fn euicc_challenge(&mut self) -> Result<Vec<u8>, ClientError> {
        let r: GetEuiccChallengeResponse =
            self.call("GetEUICCChallenge", &GetEuiccChallengeRequest {})?;
        Ok(r.euicc_challenge.to_vec())
    }

    /// GetProfilesInfo (`BF2D`) with optional search criteria; all fields.
    pub fn profiles(
        &mut self,
        search: Option<SearchCriteria>,
    ) -> Result<Vec<ProfileInfo>, ClientError> {
        let r: ProfileInfoListResponse = self.call(
            "GetProfilesInfo",
            &ProfileInfoListRequest {
                search_criteria: search,
                tag_list: None,
            },
        )?;
        match r {
            ProfileInfoListResponse::ProfileInfoListOk(l) => Ok(l),
            ProfileInfoListResponse::ProfileInfoListError(e) => Err(ClientError::Status {
                what: format!("GetProfilesInfo error {e}"),
                sw: Sw::OK,
            }),
        }
    }

    /// EnableProfile by ICCID; returns the SGP.22 result code.
    pub fn enable(&mut self, iccid: &[u8], refresh: bool) -> Result<i64, ClientError> {
        let r: EnableProfileResponse = self.call(
            "EnableProfile",
            &EnableProfileRequest {
                profile_identifier: ProfileIdentifier::Iccid(iccid.to_vec().into()),
                refresh_flag: Some(refresh),
            },
        )?;
        Ok(r.enable_result)
    }

    pub fn disable(&mut self, iccid: &[u8], refresh: bool) -> Result<i64, ClientError> {
        let r: DisableProfileResponse = self.call(
            "DisableProfile",
            &DisableProfileRequest {
                profile_identifier: ProfileIdentifier::Iccid(iccid.to_vec().into()),
                refresh_flag: Some(refresh),
            },
        )?;
        Ok(r.disable_result)
    }

    pub fn delete(&mut self, iccid: &[u8]) -> Result<i64, ClientError> {
        let r: DeleteProfileResponse = self.call(
            "DeleteProfile",
            &DeleteProfileRequest::Iccid(iccid.to_vec().into()),
        )?;
        Ok(r.delete_result)
    }

    pub fn set_nickname(&mut self, iccid: &[u8], nickname: &str) -> Result<i64, ClientError> {
        let r: SetNicknameResponse = self.call(
            "SetNickname",
            &SetNicknameRequest {
                iccid: iccid.to_vec().into(),
                profile_nickname: nickname.to_string(),
            },
        )?;
        Ok(r.set_nickname_result)
    }

    pub fn list_notifications(&mut self) -> Result<Vec<NotificationMetadata>, ClientError> {
        let r: ListNotificationResponse =
            self.call("ListNotification", &ListNotificationRequest::default())?;
        match r {
            ListNotificationResponse::NotificationMetadataList(l) => Ok(l),
            ListNotificationResponse::ListNotificationsResultError(e) => Err(ClientError::Status {
                what: format!("ListNotification error {e}"),
                sw: Sw::OK,
            }),
        }
    }

    pub fn retrieve_notifications(&mut self) -> Result<Vec<PendingNotification>, ClientError> {
        let r: RetrieveNotificationsListResponse = self.call(
            "RetrieveNotificationsList",
            &RetrieveNotificationsListRequest::default(),
        )?;
        match r {
            RetrieveNotificationsListResponse::NotificationList(l) => Ok(l),
            RetrieveNotificationsListResponse::NotificationsListResultError(e) => {
                Err(ClientError::Status {
                    what: format!("RetrieveNotificationsList error {e}"),
                    sw: Sw::OK,
                })
            }
        }
    }

    pub fn remove_notification(&mut self, seq: i64) -> Result<i64, ClientError> {
        let r: NotificationSentResponse = self.call(
            "RemoveNotificationFromList",
            &NotificationSentRequest { seq_number: seq },
        )?;
        Ok(r.delete_notification_status)
    }

    pub fn configured_addresses(
        &mut self,
    ) -> Result<EuiccConfiguredAddressesResponse, ClientError> {
        self.call(
            "GetEuiccConfiguredAddresses",
            &EuiccConfiguredAddressesRequest {},
        )
    }

    pub fn set_default_dp(&mut self, address: &str) -> Result<i64, ClientError> {
        let r: SetDefaultDpAddressResponse = self.call(
            "SetDefaultDpAddress",
            &SetDefaultDpAddressRequest {
                default_dp_address: address.to_string(),
            },
        )?;
        Ok(r.set_default_dp_address_result)
    }

    /// Reads a transparent EF: SELECT the ADF `aid` (or the MF when `None`), then each FID of
    /// `path`, then READ BINARY of the whole file. Uses the current channel.
    pub fn read_ef(&mut self, aid: Option<&[u8]>, path: &[u16]) -> Result<Vec<u8>, ClientError> {
        let cla = Class::encode(self.channel, false);
        match aid {
            Some(a) => {
                self.expect_ok("SELECT ADF", &build(cla, 0xA4, 0x04, 0x04, a, Some(256)))?;
            }
            None => {
                self.expect_ok(
                    "SELECT MF",
                    &build(cla, 0xA4, 0x00, 0x04, &[0x3F, 0x00], Some(256)),
                )?;
            }
        }
        let mut fcp = Vec::new();
        for fid in path {
            fcp = self.expect_ok(
                &format!("SELECT {fid:04X}"),
                &build(cla, 0xA4, 0x00, 0x04, &fid.to_be_bytes(), Some(256)),
            )?;
        }
        let size = fcp_file_size(&fcp).unwrap_or(256);
        let mut out = Vec::new();
        while out.len() < size {
            let off = out.len();
            let n = (size - off).min(256);
            let d = self.expect_ok(
                "READ BINARY",
                &build(cla, 0xB0, (off >> 8) as u8 & 0x7F, off as u8, &[], Some(n)),
            )?;
            if d.is_empty() {
                break;
            }
            out.extend(d);
        }
        Ok(out)
    }
}

/// File size (`80`) from an FCP template (`62`).
pub fn fcp_file_size(fcp: &[u8]) -> Option<usize> {
    let t = rsp::tlv::parse_exact(fcp).ok()?;
    let s = t.find(0x80).ok()??;
    Some(s.value.iter().fold(0usize, |a, b| (a << 8) | *b as usize))
}

pub use veuicc::euicc::records::iccid_digits;

/// IMSI digits from EF.IMSI (length byte, then nibble-swapped digits after the parity nibble).
pub fn imsi_digits(ef: &[u8]) -> Option<String> {
    let len = *ef.first()? as usize;
    let body = ef.get(1..1 + len)?;
    let mut digits: Vec<u8> = body.iter().flat_map(|b| [b & 0x0F, b >> 4]).collect();
    digits.remove(0);
    Some(
        digits
            .into_iter()
            .filter(|n| *n <= 9)
            .map(|n| char::from(b'0' + n))
            .collect(),
    )
}
