//! Building blocks shared by several ES10 messages: named-bit BIT STRINGs, opaque raw DER
//! (certificates, ProfileInstallationResult), profile identifiers, operator ids and the small
//! INTEGER enumerations (ProfileState, ProfileClass, IconType, euiccCategory).

use rasn::prelude::*;

// ---------------------------------------------------------------------------------------------
// Named-bit BIT STRING
// ---------------------------------------------------------------------------------------------

/// A `BIT STRING { name(0), name(1), … }` value: NotificationEvent, PprIds, RspCapability,
/// UICCCapability, resetOptions, pprFlags.
///
/// X.690 §11.2.2 requires DER to drop trailing zero bits of a named-bit BIT STRING, so this type
/// always *encodes* the shortest form (`{install}` is `07 80`, `{enable}` is `06 40`, the empty set
/// is `00`). Decoding keeps whatever the sender used; equality compares the sets of bits set, so a
/// non-minimal `00 80` received from an LPA equals the canonical `07 80`.
#[derive(Debug, Clone, Default)]
pub struct NamedBits(BitString);

impl NamedBits {
    /// The empty set (encodes as `03 01 00`).
    pub fn new() -> Self {
        Self(BitString::new())
    }

    /// The set holding exactly the listed bit numbers.
    pub fn from_bits(bits: &[usize]) -> Self {
        let mut v = Self::new();
        for &b in bits {
            v.set(b, true);
        }
        v
    }

    /// Wraps a decoded or hand-built bit string as is.
    pub fn from_bit_string(bits: BitString) -> Self {
        Self(bits)
    }

    /// Sets or clears bit `bit` (bit 0 is the most significant bit of the first octet).
    pub fn set(&mut self, bit: usize, value: bool) {
        if bit >= self.0.len() {
            if !value {
                return;
            }
            self.0.resize(bit + 1, false);
        }
        self.0.set(bit, value);
    }

    /// Builder form of [`NamedBits::set`] with `true`.
    #[must_use]
    pub fn with(mut self, bit: usize) -> Self {
        self.set(bit, true);
        self
    }

    /// Whether bit `bit` is set (bits past the end are clear).
    pub fn is_set(&self, bit: usize) -> bool {
        self.0.get(bit).is_some_and(|b| *b)
    }

    /// The numbers of the bits that are set, ascending.
    pub fn set_bits(&self) -> Vec<usize> {
        self.0.iter_ones().collect()
    }

    /// Whether no bit is set.
    pub fn is_empty(&self) -> bool {
        self.0.not_any()
    }

    /// The bit string as received or built (possibly with trailing zero bits).
    pub fn as_bit_string(&self) -> &BitString {
        &self.0
    }

    /// The canonical (DER) form: trailing zero bits removed.
    fn canonical(&self) -> &BitStr {
        let len = self.0.last_one().map_or(0, |i| i + 1);
        &self.0[..len]
    }
}

impl PartialEq for NamedBits {
    fn eq(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }
}

impl Eq for NamedBits {}

impl AsnType for NamedBits {
    const TAG: Tag = Tag::BIT_STRING;
}

impl Encode for NamedBits {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        encoder
            .encode_bit_string(tag, constraints, self.canonical(), identifier)
            .map(drop)
    }
}

impl Decode for NamedBits {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        decoder.decode_bit_string(tag, constraints).map(Self)
    }
}

/// NotificationEvent is a named-bit BIT STRING (only one bit set in NotificationMetadata).
pub type NotificationEvent = NamedBits;

/// Bit numbers of `NotificationEvent ::= BIT STRING {…}`.
pub mod notification_event {
    use super::NamedBits;

    /// notificationInstall(0): encodes as `07 80`.
    pub const INSTALL: usize = 0;
    /// notificationEnable(1): encodes as `06 40`.
    pub const ENABLE: usize = 1;
    /// notificationDisable(2): encodes as `05 20`.
    pub const DISABLE: usize = 2;
    /// notificationDelete(3): encodes as `04 10`.
    pub const DELETE: usize = 3;

    /// The NotificationEvent with exactly `event` set.
    pub fn single(event: usize) -> NamedBits {
        NamedBits::from_bits(&[event])
    }
}

/// Bit numbers of `PprIds ::= BIT STRING {…}` (profilePolicyRules, forbiddenProfilePolicyRules).
pub mod ppr_ids {
    /// pprUpdateControl(0).
    pub const PPR_UPDATE_CONTROL: usize = 0;
    /// ppr1(1): disabling of this profile is not allowed.
    pub const PPR1: usize = 1;
    /// ppr2(2): deletion of this profile is not allowed.
    pub const PPR2: usize = 2;
    /// ppr3(3): deletion is required upon successful disabling (SGP.22 v2.1+).
    pub const PPR3: usize = 3;
}

/// Bit numbers of `pprFlags BIT STRING {consentRequired(0)}` (ProfilePolicyAuthorisationRule).
pub mod ppr_flags {
    /// consentRequired(0).
    pub const CONSENT_REQUIRED: usize = 0;
}

/// Bit numbers of `RspCapability ::= BIT STRING {…}`.
pub mod rsp_capability {
    /// additionalProfile(0).
    pub const ADDITIONAL_PROFILE: usize = 0;
    /// crlSupport(1).
    pub const CRL_SUPPORT: usize = 1;
    /// rpmSupport(2).
    pub const RPM_SUPPORT: usize = 2;
    /// testProfileSupport(3).
    pub const TEST_PROFILE_SUPPORT: usize = 3;
}

/// Bit numbers of `UICCCapability ::= BIT STRING {…}`.
pub mod uicc_capability {
    /// contactlessSupport(0).
    pub const CONTACTLESS_SUPPORT: usize = 0;
    /// usimSupport(1).
    pub const USIM_SUPPORT: usize = 1;
    /// isimSupport(2).
    pub const ISIM_SUPPORT: usize = 2;
    /// csimSupport(3).
    pub const CSIM_SUPPORT: usize = 3;
    /// akaMilenage(4).
    pub const AKA_MILENAGE: usize = 4;
    /// akaCave(5).
    pub const AKA_CAVE: usize = 5;
    /// akaTuak128(6).
    pub const AKA_TUAK128: usize = 6;
    /// akaTuak256(7).
    pub const AKA_TUAK256: usize = 7;
    /// gbaAuthenUsim(10).
    pub const GBA_AUTHEN_USIM: usize = 10;
    /// gbaAuthenISim(11).
    pub const GBA_AUTHEN_ISIM: usize = 11;
    /// mbmsAuthenUsim(12).
    pub const MBMS_AUTHEN_USIM: usize = 12;
    /// eapClient(13).
    pub const EAP_CLIENT: usize = 13;
    /// javacard(14).
    pub const JAVACARD: usize = 14;
    /// multos(15).
    pub const MULTOS: usize = 15;
    /// multipleUsimSupport(16).
    pub const MULTIPLE_USIM_SUPPORT: usize = 16;
    /// multipleIsimSupport(17).
    pub const MULTIPLE_ISIM_SUPPORT: usize = 17;
    /// multipleCsimSupport(18).
    pub const MULTIPLE_CSIM_SUPPORT: usize = 18;
}

/// Bit numbers of EuiccMemoryResetRequest's `resetOptions [2] BIT STRING {…}`.
pub mod reset_options {
    /// deleteOperationalProfiles(0).
    pub const DELETE_OPERATIONAL_PROFILES: usize = 0;
    /// deleteFieldLoadedTestProfiles(1).
    pub const DELETE_FIELD_LOADED_TEST_PROFILES: usize = 1;
    /// resetDefaultSmdpAddress(2).
    pub const RESET_DEFAULT_SMDP_ADDRESS: usize = 2;
}

// ---------------------------------------------------------------------------------------------
// Opaque raw DER
// ---------------------------------------------------------------------------------------------

/// Defines a type that carries one complete TLV (tag, length, value) verbatim: decoding keeps the
/// exact bytes received, encoding writes them back unchanged. The outer tag is checked on decode
/// and by `new`. These values are signed or hashed by other parties, so they must never be
/// re-encoded.
macro_rules! raw_tlv_type {
    ($(#[$doc:meta])* $name:ident, $tag:expr, $prefix:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(Any);

        impl $name {
            /// The tag bytes every value starts with.
            pub const TAG_BYTES: &'static [u8] = $prefix;

            /// Wraps `der`, which must be exactly one well-formed TLV with the expected tag.
            pub fn new(der: Vec<u8>) -> Result<Self, crate::tlv::TlvError> {
                let tlv = crate::tlv::parse_exact(&der)?;
                if !der.starts_with(Self::TAG_BYTES) {
                    return Err(crate::tlv::TlvError::UnexpectedTag {
                        expected: crate::tlv::read_tag(Self::TAG_BYTES)?.0,
                        found: tlv.tag,
                    });
                }
                Ok(Self(Any::new(der)))
            }

            /// The complete encoding (tag, length, value) as received or given.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }

            /// The complete encoding, by value.
            pub fn into_bytes(self) -> Vec<u8> {
                self.0.into_bytes()
            }
        }

        impl AsnType for $name {
            const TAG: Tag = $tag;
        }

        impl Encode for $name {
            fn encode<'b, E: Encoder<'b>>(&self, encoder: &mut E) -> Result<(), E::Error> {
                encoder
                    .encode_any(Tag::EOC, &self.0, Self::IDENTIFIER)
                    .map(drop)
            }

            fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
                &self,
                encoder: &mut E,
                _tag: Tag,
                _constraints: &Constraints,
                identifier: Identifier,
            ) -> Result<(), E::Error> {
                // Opaque: the bytes already carry their own tag.
                encoder.encode_any(Tag::EOC, &self.0, identifier).map(drop)
            }
        }

        impl Decode for $name {
            fn decode<D: Decoder>(decoder: &mut D) -> Result<Self, D::Error> {
                let any = decoder.decode_any(Tag::EOC)?;
                if !any.as_bytes().starts_with(Self::TAG_BYTES) {
                    return Err(<D::Error as rasn::de::Error>::custom(
                        concat!("expected ", $what),
                        decoder.codec(),
                    ));
                }
                Ok(Self(any))
            }

            fn decode_with_tag_and_constraints<D: Decoder>(
                decoder: &mut D,
                _tag: Tag,
                _constraints: &Constraints,
            ) -> Result<Self, D::Error> {
                Self::decode(decoder)
            }
        }
    };
}

raw_tlv_type!(
    /// An X.509 `Certificate` (CERT.EUICC, CERT.EUM, …) kept as its exact DER (`30 …`).
    RawCertificate,
    Tag::SEQUENCE,
    &[0x30],
    "a Certificate (tag 30)"
);

raw_tlv_type!(
    /// A `ProfileInstallationResult` (`BF37 …`) kept as its exact DER: it carries the eUICC's
    /// signature over the inner `BF27`, so it is stored and returned byte for byte.
    RawProfileInstallationResult,
    Tag::new(Class::Context, 55),
    &[0xBF, 0x37],
    "a ProfileInstallationResult (tag BF37)"
);

// ---------------------------------------------------------------------------------------------
// Identifiers and small INTEGER enumerations
// ---------------------------------------------------------------------------------------------

/// `profileIdentifier CHOICE { isdpAid [APPLICATION 15], iccid Iccid }` of Enable/Disable, and
/// the body of `DeleteProfileRequest`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum ProfileIdentifier {
    /// ISD-P AID, tag `4F`.
    #[rasn(tag(application, 15))]
    IsdpAid(OctetString),
    /// ICCID as in EF.ICCID (10 bytes, nibble-swapped), tag `5A`.
    #[rasn(tag(application, 26))]
    Iccid(OctetString),
}

/// `OperatorID ::= SEQUENCE { mccMnc, gid1 OPTIONAL, gid2 OPTIONAL }` (automatic tags 80/81/82).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct OperatorId {
    /// MCC and MNC as in 3GPP TS 24.008 (3 bytes), tag `80`.
    #[rasn(tag(context, 0))]
    pub mcc_mnc: OctetString,
    /// EF.GID1 content, tag `81`.
    #[rasn(tag(context, 1))]
    pub gid1: Option<OctetString>,
    /// EF.GID2 content, tag `82`.
    #[rasn(tag(context, 2))]
    pub gid2: Option<OctetString>,
}

/// `DpProprietaryData ::= SEQUENCE { dpOid OBJECT IDENTIFIER }` (tag `80` by automatic tagging).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct DpProprietaryData {
    /// OID in the tree of the SM-DP+ that created the profile, tag `80`.
    #[rasn(tag(context, 0))]
    pub dp_oid: ObjectIdentifier,
}

/// `NotificationConfigurationInformation ::= SEQUENCE {…}` (automatic tags 80/81).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfigurationInformation {
    /// Which events produce a notification, tag `80`.
    #[rasn(tag(context, 0))]
    pub profile_management_operation: NotificationEvent,
    /// FQDN the notification goes to, tag `81`.
    #[rasn(tag(context, 1))]
    pub notification_address: Utf8String,
}

/// `ProfileState ::= INTEGER {disabled(0), enabled(1)}`; other values are kept as received.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate)]
pub struct ProfileState(pub i64);

impl ProfileState {
    /// disabled(0).
    pub const DISABLED: Self = Self(0);
    /// enabled(1).
    pub const ENABLED: Self = Self(1);
}

/// `ProfileClass ::= INTEGER {test(0), provisioning(1), operational(2)}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate)]
pub struct ProfileClass(pub i64);

impl ProfileClass {
    /// test(0).
    pub const TEST: Self = Self(0);
    /// provisioning(1).
    pub const PROVISIONING: Self = Self(1);
    /// operational(2), the DEFAULT where the class is absent.
    pub const OPERATIONAL: Self = Self(2);
}

/// `IconType ::= INTEGER {jpg(0), png(1)}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate)]
pub struct IconType(pub i64);

impl IconType {
    /// jpg(0).
    pub const JPG: Self = Self(0);
    /// png(1).
    pub const PNG: Self = Self(1);
}

/// EUICCInfo2's `euiccCategory INTEGER {other(0), basicEuicc(1), mediumEuicc(2),
/// contactlessEuicc(3)}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate)]
pub struct EuiccCategory(pub i64);

impl EuiccCategory {
    /// other(0).
    pub const OTHER: Self = Self(0);
    /// basicEuicc(1).
    pub const BASIC: Self = Self(1);
    /// mediumEuicc(2).
    pub const MEDIUM: Self = Self(2);
    /// contactlessEuicc(3).
    pub const CONTACTLESS: Self = Self(3);
}
