//! Tenant configuration of one emulated Vantagepoint database: where it lives, its API authorization, and
//! the tenant settings and response quirks that leak into the API (see the reference's "pain points").

/// How list/record responses are wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// What VP answers almost everywhere: a bare JSON array, even for one record.
    BareArray,
    /// `{"<key>": [...]}` — some endpoints reportedly answer this way; used to test client tolerance.
    Wrapped { key: String },
}

/// Firm autonumbering (Settings » Firms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmAutonumber {
    /// Client/vendor numbers are entered by the caller (a client number is then required).
    Off,
    /// Numbers are generated; a caller-supplied number is refused unless overriding is allowed.
    On { allow_override: bool },
}

/// Configuration of one emulated VP database.
#[derive(Clone)]
pub struct VantagepointConfig {
    /// The instance segment before `/api` and `/vision`, e.g. `/vantagepoint` (empty for none).
    pub instance_path: String,
    /// The "Database Name" shown on the API Authorization form.
    pub database: String,
    /// Consumer key (client id) of the API authorization.
    pub client_id: String,
    /// Secret of the API authorization.
    pub client_secret: String,
    /// "Allow Password Grant Type" on the API authorization.
    pub allow_password_grant: bool,
    /// `expires_in` of access tokens (VP shows 1799).
    pub token_lifetime_secs: u32,
    /// Lifetime of refresh tokens (undocumented; 14 days here).
    pub refresh_token_lifetime_secs: u32,
    /// Whether a refresh grant invalidates the refresh token it used.
    pub rotate_refresh_tokens: bool,
    pub envelope: Envelope,
    /// Quirks mode: numbers rendered as strings (`"121.00"`) and numeric account codes as decimals.
    pub numbers_as_strings: bool,
    pub firm_autonumber: FirmAutonumber,
    /// POST /firm echoes the record without its autonumbered `Client`/`Vendor` (clients must GET after create).
    pub omit_autonumbers_in_post_response: bool,
    /// `POST /Accounts` refuses bodies that lack the blank columns `CashBasisAccount`, ... (as VP does).
    pub accounts_require_blank_columns: bool,
    /// Column lengths are enforced like SQL Server does (`Batch` 32, `RefNo` = KeyCvt `RefnoLength`, CR
    /// `Description` 40): an over-long value is refused, never silently cut.
    pub enforce_column_lengths: bool,
    /// Whether firm addresses can be edited (reference §4: code updates them through `PUT /firm` with
    /// `CLAddress[].CLAddressID` and `PUT /firm/{id}/address/{id}`; Unionpoint's notes say "Firm Address API
    /// does not allow edits"). On (default): both forms update the address. Off: both answer 400.
    pub firm_address_edits: bool,
    /// How a webhook action's Security fields (Secret + Public Key, both or neither) sign deliveries — the
    /// reference calls the scheme undocumented (§7), so it is a switch.
    pub webhook_signing: WebhookSigning,
    /// Language of the database; a token requested with another `culture` sees "Text not translated" as
    /// tax-code and account names.
    pub culture: String,
    /// Seed of the emulator's id generator and fault injector.
    pub seed: u64,
}

/// The signing scheme of workflow webhook deliveries whose action has a Secret and a Public Key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookSigning {
    /// `X-VP-Signature: sha256=<hex HMAC-SHA256 of the body with the Secret>` and
    /// `X-VP-Public-Key: <Public Key>` (the key's identifier) on every delivery.
    #[default]
    HmacSha256,
    /// The Security fields are stored but deliveries carry no signature (only Basic auth, when set).
    Unsigned,
}

impl Default for VantagepointConfig {
    fn default() -> Self {
        Self {
            instance_path: "/vantagepoint".to_owned(),
            database: "C0000040060P_1_LEDGERLINK".to_owned(),
            client_id: "ledgerlink-client".to_owned(),
            client_secret: "ledgerlink-secret".to_owned(),
            allow_password_grant: true,
            token_lifetime_secs: 1799,
            refresh_token_lifetime_secs: 14 * 24 * 3600,
            rotate_refresh_tokens: true,
            envelope: Envelope::BareArray,
            numbers_as_strings: false,
            firm_autonumber: FirmAutonumber::On {
                allow_override: false,
            },
            omit_autonumbers_in_post_response: true,
            accounts_require_blank_columns: true,
            enforce_column_lengths: true,
            firm_address_edits: true,
            webhook_signing: WebhookSigning::HmacSha256,
            culture: "en-US".to_owned(),
            seed: 0,
        }
    }
}

impl std::fmt::Debug for VantagepointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VantagepointConfig")
            .field("instance_path", &self.instance_path)
            .field("database", &self.database)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("allow_password_grant", &self.allow_password_grant)
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .field(
                "refresh_token_lifetime_secs",
                &self.refresh_token_lifetime_secs,
            )
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("envelope", &self.envelope)
            .field("numbers_as_strings", &self.numbers_as_strings)
            .field("firm_autonumber", &self.firm_autonumber)
            .field(
                "omit_autonumbers_in_post_response",
                &self.omit_autonumbers_in_post_response,
            )
            .field(
                "accounts_require_blank_columns",
                &self.accounts_require_blank_columns,
            )
            .field("enforce_column_lengths", &self.enforce_column_lengths)
            .field("firm_address_edits", &self.firm_address_edits)
            .field("webhook_signing", &self.webhook_signing)
            .field("culture", &self.culture)
            .field("seed", &self.seed)
            .finish()
    }
}

impl VantagepointConfig {
    /// The instance segment normalised to `""` or `/segment` (no trailing slash).
    pub(crate) fn instance(&self) -> String {
        let trimmed = self.instance_path.trim().trim_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vantagepoint::model::UserSeed;

    #[test]
    fn debug_output_never_shows_secrets_or_passwords() {
        let config = VantagepointConfig {
            client_secret: "top-secret-value".into(),
            ..VantagepointConfig::default()
        };
        let user = UserSeed {
            username: "u".into(),
            password: "hunter2-password".into(),
            ..UserSeed::default()
        };
        let emulator = crate::vantagepoint::VantagepointEmulator::new(config.clone());
        emulator.add_user(user.clone());

        let printed = format!("{config:?} {user:?} {emulator:?}");

        assert!(!printed.contains("top-secret-value"));
        assert!(!printed.contains("hunter2-password"));
    }

    #[test]
    fn the_instance_segment_is_normalised() {
        let config = VantagepointConfig {
            instance_path: "Pennoni/".into(),
            ..VantagepointConfig::default()
        };
        assert_eq!(config.instance(), "/Pennoni");
        assert_eq!(
            VantagepointConfig {
                instance_path: "/".into(),
                ..VantagepointConfig::default()
            }
            .instance(),
            ""
        );
    }
}
