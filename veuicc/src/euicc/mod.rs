//! The eUICC card core: logical channels, response chaining, routing of commands to the ISD-R,
//! the ECASD and the UICC file system of the enabled profile. Implements [`CardCore`].
//!
//! Volatile state (channels, selections, pending responses, STORE DATA reassembly, the eUICC
//! challenge) lives in [`Euicc`] and is cleared on power off and reset. Persistent state lives in
//! [`EuiccState`], mirrored in memory and written through to the [`Store`] before a response
//! leaves the card.

pub mod records;
mod state;

pub use state::{EuiccState, LifecycleError, LifecycleEvent, ProfileId, SeedOptions};

use crate::apdu::{Class, Command, Response, Sw};
use crate::card::{default_atr, CardCore};
use crate::isdr::{self, storedata::Fed, storedata::Reassembly};
use crate::uicc::UiccChannel;
use tracing::{debug_span, trace};

/// ISD-R AID (SGP.22 §2.2.3).
pub const ISDR_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00,
];
/// ECASD AID (SGP.22 §2.2.3).
pub const ECASD_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x02, 0x00,
];

/// Logical channels 0–19 (ISO 7816-4 further interindustry class).
pub const MAX_CHANNELS: usize = 20;

/// Which application a logical channel has selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    /// The UICC file system of the enabled profile (MF after power-on).
    Uicc,
    IsdR,
    Ecasd,
}

#[derive(Debug)]
struct Channel {
    app: App,
    /// Response bytes not yet fetched with GET RESPONSE.
    pending: Vec<u8>,
    store_data: Reassembly,
    uicc: UiccChannel,
}

impl Channel {
    fn new() -> Channel {
        Channel {
            app: App::Uicc,
            pending: Vec::new(),
            store_data: Reassembly::default(),
            uicc: UiccChannel::default(),
        }
    }
}

/// The eUICC: persistent state plus the volatile state of one powered session.
#[derive(Debug)]
pub struct Euicc {
    state: EuiccState,
    channels: Vec<Option<Channel>>,
    /// Bumped whenever the enabled profile changes, so channels drop stale UICC selections.
    profile_generation: u64,
    channel_generation: u64,
    atr: Vec<u8>,
}

impl Euicc {
    pub fn new(state: EuiccState) -> Euicc {
        let mut e = Euicc {
            state,
            channels: Vec::new(),
            profile_generation: 0,
            channel_generation: 0,
            atr: default_atr(),
        };
        e.clear_volatile();
        e
    }

    /// Persistent state (profiles, notifications, identity), for the CLI and tests.
    pub fn state(&self) -> &EuiccState {
        &self.state
    }

    /// Mutable persistent state, for seeding profiles and administration outside APDUs.
    pub fn state_mut(&mut self) -> &mut EuiccState {
        &mut self.state
    }

    fn clear_volatile(&mut self) {
        self.channels = (0..MAX_CHANNELS).map(|_| None).collect();
        self.channels[0] = Some(Channel::new());
        self.state.clear_session();
    }

    fn process(&mut self, raw: &[u8]) -> Response {
        let cmd = match Command::parse(raw) {
            Ok(c) => c,
            Err(e) => {
                // A command whose CLA we can decode still cancels that channel's pending data.
                if let Some(ch) = raw.first().and_then(|c| Class::parse(*c).ok()) {
                    if let Some(Some(chan)) = self.channels.get_mut(ch.channel as usize) {
                        chan.pending.clear();
                    }
                }
                return Response::sw(e.sw());
            }
        };
        let chn = cmd.cla.channel as usize;
        let Some(Some(_)) = self.channels.get(chn) else {
            return Response::sw(Sw::CHANNEL_NOT_SUPPORTED);
        };
        if self.channel_generation != self.profile_generation {
            self.channel_generation = self.profile_generation;
            for c in self.channels.iter_mut().flatten() {
                c.uicc = UiccChannel::default();
                if c.app == App::Uicc {
                    c.pending.clear();
                }
            }
        }

        // GET RESPONSE (ISO 7816-4 §7.6.1): CLA 0x, 4x, 8x, Cx on any channel.
        if cmd.ins == 0xC0 {
            return self.get_response(chn, &cmd);
        }
        if let Some(Some(c)) = self.channels.get_mut(chn) {
            c.pending.clear();
        }
        match cmd.ins {
            0x70 => return self.manage_channel(chn, &cmd),
            0xA4 if cmd.p1 == 0x04 => {
                if let Some(r) = self.select_application(chn, &cmd) {
                    return r;
                }
            }
            _ => {}
        }
        let app = match cmd.ins {
            // Any SELECT that is not for the ISD-R or the ECASD goes to the file system.
            0xA4 => App::Uicc,
            _ => self.channels[chn].as_ref().map_or(App::Uicc, |c| c.app),
        };
        let resp = match app {
            App::IsdR => self.isdr_command(chn, &cmd),
            App::Ecasd => self.ecasd_command(&cmd),
            App::Uicc => self.uicc_command(chn, &cmd),
        };
        self.chain(chn, resp, cmd.le, cmd.extended)
    }

    /// Splits long responses: at most `Le` (short: 256) bytes now, the rest through GET
    /// RESPONSE with `61xx`. An extended Le gets everything at once.
    fn chain(&mut self, chn: usize, resp: Response, le: Option<usize>, extended: bool) -> Response {
        if resp.sw != Sw::OK || extended {
            return resp;
        }
        let limit = match le {
            Some(l) if l < 256 => l,
            _ => 256,
        };
        if resp.data.len() <= limit {
            return resp;
        }
        let mut data = resp.data;
        let rest = data.split_off(limit);
        let sw = Sw::bytes_remaining(rest.len());
        if let Some(Some(c)) = self.channels.get_mut(chn) {
            c.pending = rest;
        }
        Response { data, sw }
    }

    fn get_response(&mut self, chn: usize, cmd: &Command<'_>) -> Response {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Response::sw(Sw::WRONG_P1P2);
        }
        let Some(Some(c)) = self.channels.get_mut(chn) else {
            return Response::sw(Sw::CHANNEL_NOT_SUPPORTED);
        };
        if c.pending.is_empty() {
            return Response::sw(Sw::CONDITIONS_NOT_SATISFIED);
        }
        let n = match (cmd.le, cmd.extended) {
            (Some(l), true) => l,
            (Some(l), false) => l.min(256),
            (None, _) => 256,
        };
        if n >= c.pending.len() {
            return Response::ok(std::mem::take(&mut c.pending));
        }
        let rest = c.pending.split_off(n);
        let data = std::mem::replace(&mut c.pending, rest);
        Response {
            data,
            sw: Sw::bytes_remaining(c.pending.len()),
        }
    }

    /// MANAGE CHANNEL (ISO 7816-4 §7.1.2; TS 102 221 §11.1.17).
    fn manage_channel(&mut self, chn: usize, cmd: &Command<'_>) -> Response {
        match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => {
                // Open, card assigns the lowest free channel.
                if cmd.le.is_none() && !cmd.data.is_empty() {
                    return Response::sw(Sw::WRONG_LENGTH);
                }
                match (1..MAX_CHANNELS).find(|i| self.channels[*i].is_none()) {
                    Some(i) => {
                        self.channels[i] = Some(self.new_channel_from(chn));
                        Response::ok(vec![i as u8])
                    }
                    None => Response::sw(Sw::FUNCTION_NOT_SUPPORTED),
                }
            }
            (0x00, n) => {
                let n = n as usize;
                if n >= MAX_CHANNELS {
                    return Response::sw(Sw::INCORRECT_P1P2);
                }
                if self.channels[n].is_some() {
                    return Response::sw(Sw::CONDITIONS_NOT_SATISFIED);
                }
                self.channels[n] = Some(self.new_channel_from(chn));
                Response::ok(Vec::new())
            }
            (0x80, n) => {
                let n = if n == 0 { chn } else { n as usize };
                if n == 0 || n >= MAX_CHANNELS {
                    return Response::sw(Sw::INCORRECT_P1P2);
                }
                if self.channels[n].take().is_none() {
                    return Response::sw(Sw::CHANNEL_NOT_SUPPORTED);
                }
                Response::ok(Vec::new())
            }
            _ => Response::sw(Sw::INCORRECT_P1P2),
        }
    }

    /// A new channel starts on the MF when opened from the basic channel, and inherits the
    /// application of the issuing channel otherwise (ISO 7816-4 §7.1.2).
    fn new_channel_from(&self, chn: usize) -> Channel {
        let mut c = Channel::new();
        if chn != 0 {
            if let Some(Some(from)) = self.channels.get(chn) {
                c.app = from.app;
                c.uicc = from.uicc.clone();
            }
        }
        c
    }

    /// SELECT by DF name for the ISD-R and the ECASD; `None` hands the command to the UICC.
    fn select_application(&mut self, chn: usize, cmd: &Command<'_>) -> Option<Response> {
        let aid = cmd.data;
        if aid.is_empty() || aid.len() > 16 {
            return None;
        }
        let (app, full) = if ISDR_AID.starts_with(aid) && aid.len() >= 5 {
            (App::IsdR, ISDR_AID)
        } else if ECASD_AID.starts_with(aid) && aid.len() >= 5 {
            (App::Ecasd, ECASD_AID)
        } else {
            return None;
        };
        // A partial AID that is also a prefix of an ADF in the profile goes to the UICC.
        if aid.len() < 16 && self.state.uicc_has_aid_prefix(aid) {
            return None;
        }
        if cmd.p2 & 0x02 != 0 {
            // Next occurrence: only one instance of each.
            return Some(Response::sw(Sw::FILE_NOT_FOUND));
        }
        let c = self.channels[chn].as_mut()?;
        c.app = app;
        c.store_data.clear();
        let resp = match cmd.p2 & 0x0C {
            0x0C => Response::ok(Vec::new()),
            _ => Response::ok(fci(&full)),
        };
        Some(self.chain(chn, resp, cmd.le, cmd.extended))
    }

    fn isdr_command(&mut self, chn: usize, cmd: &Command<'_>) -> Response {
        match (cmd.ins, cmd.cla.proprietary) {
            (0xE2, true) => {}
            (0xE2, false) => return Response::sw(Sw::CLA_NOT_SUPPORTED),
            (0xCA, _) => return self.ecasd_command(cmd),
            _ => return Response::sw(Sw::INS_NOT_SUPPORTED),
        }
        let Some(c) = self.channels[chn].as_mut() else {
            return Response::sw(Sw::CHANNEL_NOT_SUPPORTED);
        };
        match c.store_data.feed(cmd.p1, cmd.p2, cmd.data) {
            Err(e) => Response::sw(isdr::store_data_sw(&e)),
            Ok(Fed::More) => Response::ok(Vec::new()),
            Ok(Fed::Complete(es10)) => {
                let before = self.state.enabled_iccid().map(|s| s.to_vec());
                let r = isdr::handle(&mut self.state, &es10);
                if self.state.enabled_iccid() != before.as_deref() {
                    self.profile_generation += 1;
                }
                r
            }
        }
    }

    /// ECASD: GET DATA for the eUICC certificate (`7F21`) and the EID (`5A`), which some tools
    /// read directly (GP Amendment E / SGP.22 §2.4).
    fn ecasd_command(&mut self, cmd: &Command<'_>) -> Response {
        if cmd.ins != 0xCA {
            return Response::sw(Sw::INS_NOT_SUPPORTED);
        }
        match (cmd.p1, cmd.p2) {
            (0x7F, 0x21) => Response::ok(rsp::tlv::tlv(0x7F21, &self.state.identity().euicc_cert)),
            (0x00, 0x5A) => Response::ok(rsp::tlv::tlv(0x5A, &self.state.identity().eid)),
            _ => Response::sw(Sw::REFERENCE_NOT_FOUND),
        }
    }

    fn uicc_command(&mut self, chn: usize, cmd: &Command<'_>) -> Response {
        // TERMINAL PROFILE (TS 102 221 §11.2.1): accepted whether or not a profile is enabled.
        if cmd.ins == 0x10 && cmd.cla.proprietary {
            return Response::ok(Vec::new());
        }
        let Some(c) = self.channels[chn].as_mut() else {
            return Response::sw(Sw::CHANNEL_NOT_SUPPORTED);
        };
        let (resp, selected) = self.state.uicc_handle(&mut c.uicc, cmd);
        if selected && cmd.ins == 0xA4 {
            c.app = App::Uicc;
        }
        resp
    }
}

/// FCI of a GP security domain: `6F{84 AID, A5{9F65 max command data length}}`.
fn fci(aid: &[u8]) -> Vec<u8> {
    let mut inner = rsp::tlv::tlv(0x84, aid);
    inner.extend(rsp::tlv::tlv(0xA5, &rsp::tlv::tlv(0x9F65, &[0xFF])));
    rsp::tlv::tlv(0x6F, &inner)
}

impl CardCore for Euicc {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn power_on(&mut self) {
        self.clear_volatile();
    }

    fn power_off(&mut self) {
        self.clear_volatile();
    }

    fn reset(&mut self) {
        self.clear_volatile();
    }

    fn handle(&mut self, apdu: &[u8]) -> Vec<u8> {
        let ch = apdu
            .first()
            .and_then(|c| Class::parse(*c).ok())
            .map(|c| c.channel);
        let span = debug_span!(
            "apdu",
            ch = ch.unwrap_or(0),
            ins = apdu.get(1).copied().unwrap_or(0),
            sw = tracing::field::Empty
        );
        let _g = span.enter();
        trace!(c_apdu = %hex::encode_upper(apdu));
        let resp = self.process(apdu);
        span.record("sw", tracing::field::display(resp.sw));
        let out = resp.to_bytes();
        trace!(r_apdu = %hex::encode_upper(&out));
        out
    }
}
