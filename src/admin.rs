//! `ledgerlink admin ...`: onboarding and key management, against the local stack's data dir (the embedded
//! store) or a deployed stack (its DynamoDB table).
//!
//! ```text
//! ledgerlink admin [--data-dir DIR | --table TABLE [--region R] [--endpoint-url URL] [--token-key K]] [--secrets-prefix P] <command>
//!   tenant create <tenant> --name NAME [--admin-user USER]   creates the tenant (paused until its connections
//!                                                            are entered) and prints its first admin key once
//!   tenant show <tenant>                                     connections, paused state, tokens, cursors, keys,
//!                                                            objects per status
//!   keys issue <tenant> --user U --role viewer|operator|admin [--expires-in DAYS]
//!                                                            prints the new key once
//!   keys list <tenant>                                       ids, users, roles, expiry (never a key or hash)
//!   keys revoke <tenant> <key-id>                            the last valid admin key cannot be revoked
//! ```
//!
//! Target: `--table` (env `LEDGERLINK_TABLE`: the stack output `StateTableName`) selects the deployed stack; the
//! AWS SDK's usual chain supplies credentials, `--region` / `AWS_REGION` and `--endpoint-url` /
//! `AWS_ENDPOINT_URL` override where it goes (tests point it at moto); `--token-key` / `TOKEN_KMS_KEY_ID` (the
//! stack output `TokenKeyId`) lets `tenant show` open the sealed OAuth tokens for their expiry. Without `--table`, the local data dir
//! (`--data-dir`, default `.data`) must hold a local stack's `state.db`. The key rules (roles, expiry, the
//! last admin key) are `ledgerlink_api::keys`, the same code the `/api/keys` routes run; only the SHA-256 hash
//! of a key is stored. `--secrets-prefix` (env `LEDGERLINK_SECRETS_PREFIX`, the stack's `SecretsPrefix` plus
//! `/`) lets `tenant show` flag a secret reference outside the tenant's own prefix (the resolver refuses it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use ledgerlink_api::Role;
use ledgerlink_api::auth::stored_keys;
use ledgerlink_api::keys::{self, KeyView};
use ledgerlink_domain::{Division, Flow, TenantId};
use ledgerlink_flows::firm_sync::{EMPLOYEES_CURSOR, EXACT_ACCOUNTS_CURSOR, FIRMS_CURSOR};
use ledgerlink_flows::payment_in::{DELETIONS_CURSOR, PAYMENTS_CURSOR};
use ledgerlink_flows::posted::PostedKind;
use ledgerlink_ports::{ConnectionState, SecretRef, StateStores, StoreError, Tenant};
use ledgerlink_store_aws::{AwsClients, AwsSettings, DynamoState, TokenKeys};
use ledgerlink_store_embedded::EmbeddedStore;
use serde::Serialize;

/// The Exact Online site a new tenant starts with (the Netherlands); the connections API changes it.
pub const DEFAULT_EXACT_BASE_URL: &str = "https://start.exactonline.nl";
/// Why a new tenant is paused.
pub const NEW_TENANT_PAUSED: &str =
    "New tenant: enter the Exact Online and Vantagepoint connections, then resume.";

/// `ledgerlink admin`: where the state is, and what to do.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The local stack's data dir (its `state.db`), used when no `--table` is given.
    #[arg(long, default_value = ".data")]
    pub data_dir: PathBuf,
    /// The deployed stack's DynamoDB table (stack output `StateTableName`).
    #[arg(long, env = "LEDGERLINK_TABLE")]
    pub table: Option<String>,
    /// AWS region of the deployed stack (else the SDK's chain: `AWS_REGION`, the profile).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Another endpoint for the AWS APIs (moto, LocalStack).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// The deployed stack's token key (stack output `TokenKeyId`): lets `tenant show` open the sealed tokens
    /// to report their expiry (needs kms:Decrypt on it). Without it they show as sealed.
    #[arg(long, env = "TOKEN_KMS_KEY_ID")]
    pub token_key: Option<String>,
    /// The deployment's secrets prefix (`SecretsPrefix` + `/`): secrets of a tenant live under
    /// `<prefix><tenant>/`.
    #[arg(long, env = "LEDGERLINK_SECRETS_PREFIX", default_value = "ledgerlink/")]
    pub secrets_prefix: String,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create or inspect a tenant.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Issue, list or revoke a tenant's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (paused until its connections are entered) and print its first admin key, once.
    Create {
        /// Lower-case letters, digits, `-` and `_` (at most 64).
        tenant: String,
        /// The tenant's display name.
        #[arg(long)]
        name: String,
        /// The user the first admin key acts as.
        #[arg(long, default_value = "admin")]
        admin_user: String,
    },
    /// Show a tenant: connections, paused state, tokens, cursors, keys and objects per status.
    Show {
        tenant: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Issue a key and print it, once (only its hash is stored).
    Issue {
        tenant: String,
        /// Who the key acts as (e.g. the "Created by" of an export).
        #[arg(long)]
        user: String,
        /// viewer, operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Days until the key is refused (none: no expiry).
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
    },
    /// List a tenant's keys (never a key or its hash).
    List {
        tenant: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it is refused from now on.
    Revoke { tenant: String, key_id: String },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

/// The state the command works on, and how it is described in messages.
struct Target {
    stores: StateStores,
    /// What new secret references look like here (empty: not entered yet).
    empty_secret: fn() -> SecretRef,
    describe: String,
    /// Whether the tokens can be opened (a deployed table without `--token-key`: they cannot).
    tokens_readable: bool,
    _store: Option<EmbeddedStore>,
}

async fn open(args: &AdminArgs) -> anyhow::Result<Target> {
    if let Some(table) = &args.table {
        let settings = AwsSettings {
            table_name: table.clone(),
            bucket_name: String::new(),
            kms_key_id: None,
            token_kms_key_id: args.token_key.clone(),
            queues: BTreeMap::new(),
            endpoint_url: args.endpoint_url.clone(),
            region: args.region.clone(),
            credentials: None,
            force_path_style: args.endpoint_url.is_some(),
            receive_wait: Duration::ZERO,
            mail: None,
        };
        let clients = AwsClients::build(&settings).await;
        let mut state = DynamoState::new(clients.dynamodb.clone(), table.clone());
        if let Some(key) = &settings.token_kms_key_id {
            state = state.with_token_keys(TokenKeys::new(clients.kms.clone(), key.clone()));
        }
        let stores = state.state_stores();
        return Ok(Target {
            stores,
            empty_secret: || SecretRef::SecretsManager(String::new()),
            describe: format!("table {table}"),
            tokens_readable: settings.token_kms_key_id.is_some(),
            _store: None,
        });
    }
    let db = args.data_dir.join("state.db");
    if !db.is_file() {
        bail!(
            "no local stack state at {}: start the local stack once (`cargo run --release`), pass its \
             --data-dir, or pass --table (env LEDGERLINK_TABLE) for a deployed stack",
            db.display()
        );
    }
    let store = EmbeddedStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
    Ok(Target {
        stores: store.state_stores(),
        empty_secret: || SecretRef::Local(String::new()),
        describe: format!("data dir {}", args.data_dir.display()),
        tokens_readable: true,
        _store: Some(store),
    })
}

fn tenant_id(value: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(value).map_err(|e| anyhow!("{e}"))
}

async fn existing(target: &Target, id: &TenantId) -> anyhow::Result<Tenant> {
    target
        .stores
        .tenants
        .get(id)
        .await
        .with_context(|| format!("reading tenant {id}"))?
        .ok_or_else(|| anyhow!("no tenant `{id}` in {}", target.describe))
}

async fn save(target: &Target, tenant: &Tenant) -> anyhow::Result<()> {
    match target
        .stores
        .tenants
        .put(tenant, Some(tenant.version))
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict { .. }) => bail!(
            "tenant `{}` changed while this command ran (someone else edited it); run the command again",
            tenant.id
        ),
        Err(e) => Err(anyhow!(e).context(format!("saving tenant {}", tenant.id))),
    }
}

/// Runs one admin command, writing what it shows to `out`.
pub async fn run(args: &AdminArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let target = open(args).await?;
    let now = Utc::now();
    match &args.command {
        AdminCommand::Tenant(TenantCommand::Create {
            tenant,
            name,
            admin_user,
        }) => {
            let id = tenant_id(tenant)?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                bail!("--name: must be 1 to 200 characters without control characters");
            }
            keys::check_user(admin_user).map_err(|e| anyhow!("--admin-user: {e}"))?;
            if target.stores.tenants.get(&id).await?.is_some() {
                bail!("tenant `{id}` already exists in {}", target.describe);
            }
            let mut record = new_tenant(&id, name, (target.empty_secret)(), now);
            let issued = keys::issue(&mut record, admin_user, Role::Admin, None, now)?;
            match target.stores.tenants.put(&record, None).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => {
                    bail!("tenant `{id}` already exists in {}", target.describe)
                }
                Err(e) => return Err(anyhow!(e).context(format!("creating tenant {id}"))),
            }
            writeln!(out, "Created tenant {id} ({name}) in {}.", target.describe)?;
            writeln!(
                out,
                "It is paused until its connections are entered (operator page → Connections, or PUT \
                 /api/connections/...), then resumed."
            )?;
            writeln!(
                out,
                "First admin key, acting as {admin_user} (id {}). It is shown this once; only its hash is \
                 stored:",
                issued.stored.id()
            )?;
            writeln!(out, "{}", issued.token)?;
        }
        AdminCommand::Tenant(TenantCommand::Show { tenant, json }) => {
            let id = tenant_id(tenant)?;
            let record = existing(&target, &id).await?;
            let view = show(&target, &record, &args.secrets_prefix, now).await?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
            } else {
                write_show(out, &view)?;
            }
        }
        AdminCommand::Keys(KeysCommand::Issue {
            tenant,
            user,
            role,
            expires_in,
        }) => {
            let id = tenant_id(tenant)?;
            let mut record = existing(&target, &id).await?;
            let issued = keys::issue(&mut record, user, *role, *expires_in, now)?;
            record.updated_at = now;
            save(&target, &record).await?;
            let view = KeyView::of(&issued.stored, now);
            writeln!(
                out,
                "Issued key {} for {user} with role {role}{} in tenant {id}. It is shown this once; only its \
                 hash is stored:",
                view.id,
                expiry_text(view.expires_at),
            )?;
            writeln!(out, "{}", issued.token)?;
        }
        AdminCommand::Keys(KeysCommand::List { tenant, json }) => {
            let id = tenant_id(tenant)?;
            let record = existing(&target, &id).await?;
            let list = keys::list(&record, now);
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
            } else {
                write_keys(out, &list)?;
            }
        }
        AdminCommand::Keys(KeysCommand::Revoke { tenant, key_id }) => {
            let id = tenant_id(tenant)?;
            let mut record = existing(&target, &id).await?;
            let revoked = keys::revoke(&mut record, key_id, now)?;
            record.updated_at = now;
            save(&target, &record).await?;
            writeln!(
                out,
                "Revoked key {} ({}, {}) of tenant {id}; it is refused from now on.",
                revoked.id, revoked.user, revoked.role
            )?;
        }
    }
    Ok(())
}

fn expiry_text(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(String::new, |at| {
        format!(", expiring {}", at.format("%Y-%m-%d %H:%M UTC"))
    })
}

/// A new tenant record: no connection entered yet, paused until it is.
pub fn new_tenant(
    id: &TenantId,
    name: &str,
    empty_secret: SecretRef,
    now: DateTime<Utc>,
) -> Tenant {
    Tenant {
        id: id.clone(),
        name: name.to_owned(),
        vp_base_url: String::new(),
        vp_database: String::new(),
        vp_culture: "en-US".into(),
        vp_client_id: String::new(),
        vp_client_secret: empty_secret.clone(),
        vp_username: String::new(),
        vp_password: empty_secret.clone(),
        exact_base_url: DEFAULT_EXACT_BASE_URL.into(),
        exact_division: Division(0),
        exact_client_id: String::new(),
        exact_client_secret: empty_secret.clone(),
        exact_webhook_secret: empty_secret,
        state: ConnectionState::Paused,
        paused_reason: Some(NEW_TENANT_PAUSED.into()),
        settings: BTreeMap::from([(
            "sync_start".to_owned(),
            serde_json::json!(now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        )]),
        version: 0,
        updated_at: now,
    }
}

/// What `tenant show` reports. Never a secret value or token.
#[derive(Debug, Serialize)]
pub struct TenantView {
    pub tenant: String,
    pub name: String,
    pub state: ConnectionState,
    pub paused_reason: Option<String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub exact: BTreeMap<&'static str, String>,
    pub vantagepoint: BTreeMap<&'static str, String>,
    /// Per connection: the access token's expiry, or "not connected".
    pub tokens: BTreeMap<&'static str, String>,
    /// `<flow> <cursor name>` → value and when it moved.
    pub cursors: BTreeMap<String, String>,
    /// Objects per sync status.
    pub objects: BTreeMap<String, u64>,
    pub keys: Vec<KeyView>,
}

fn secret_state(secret: &SecretRef, tenant: &TenantId, prefix: &str) -> String {
    let (kind, name) = match secret {
        SecretRef::SecretsManager(n) => ("Secrets Manager", n),
        SecretRef::Ssm(n) => ("SSM", n),
        SecretRef::Local(n) => ("local", n),
    };
    if name.is_empty() {
        return "not entered".into();
    }
    let own = match secret {
        SecretRef::Local(_) => true,
        _ => name.starts_with(&format!("{prefix}{tenant}/")),
    };
    if own {
        format!("entered ({kind})")
    } else {
        format!("OUTSIDE the tenant's prefix {prefix}{tenant}/ ({kind}); the resolver refuses it")
    }
}

/// Every discovery cursor the flows keep, per flow.
fn cursor_names() -> Vec<(Flow, &'static str)> {
    vec![
        (Flow::FirmSync, FIRMS_CURSOR),
        (Flow::FirmSync, EMPLOYEES_CURSOR),
        (Flow::FirmSync, EXACT_ACCOUNTS_CURSOR),
        (Flow::InvoiceOut, PostedKind::ArDocuments.cursor_name()),
        (Flow::VoucherOut, PostedKind::Vouchers.cursor_name()),
        (Flow::VoucherOut, PostedKind::ExpenseReports.cursor_name()),
        (Flow::VoucherOut, PostedKind::JournalEntries.cursor_name()),
        (Flow::PaymentIn, PAYMENTS_CURSOR),
        (Flow::PaymentIn, DELETIONS_CURSOR),
    ]
}

async fn show(
    target: &Target,
    t: &Tenant,
    prefix: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<TenantView> {
    let stores = &target.stores;
    let secret = |s: &SecretRef| secret_state(s, &t.id, prefix);
    let exact = BTreeMap::from([
        ("base_url", t.exact_base_url.clone()),
        ("division", t.exact_division.0.to_string()),
        ("client_id", t.exact_client_id.clone()),
        ("client_secret", secret(&t.exact_client_secret)),
        ("webhook_secret", secret(&t.exact_webhook_secret)),
    ]);
    let vantagepoint = BTreeMap::from([
        ("base_url", t.vp_base_url.clone()),
        ("database", t.vp_database.clone()),
        ("culture", t.vp_culture.clone()),
        ("client_id", t.vp_client_id.clone()),
        ("username", t.vp_username.clone()),
        ("client_secret", secret(&t.vp_client_secret)),
        ("password", secret(&t.vp_password)),
    ]);
    let mut tokens = BTreeMap::new();
    for (label, system) in [("exact", "exact"), ("vantagepoint", "vantagepoint")] {
        let record = match stores.tokens.load(&format!("{system}:{}", t.id)).await {
            Ok(record) => record,
            // Sealed under a KMS key this command was not given: there are tokens, their expiry is inside.
            Err(_) if !target.tokens_readable => {
                tokens.insert(
                    label,
                    "stored sealed (pass --token-key to read their expiry)".to_owned(),
                );
                continue;
            }
            Err(e) => return Err(e).context("reading the token store"),
        };
        let text = match record {
            None => "not connected".to_owned(),
            Some(r) if r.access_expires_at <= now => format!(
                "access token expired {} (refreshed on next use), issued by {}",
                r.access_expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.issuer
            ),
            Some(r) => format!(
                "access token valid until {}, issued by {}",
                r.access_expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.issuer
            ),
        };
        tokens.insert(label, text);
    }
    let mut cursors = BTreeMap::new();
    for (flow, name) in cursor_names() {
        let cursor = stores
            .cursors
            .get(&t.id, flow, name, t.exact_division)
            .await
            .context("reading the cursors")?;
        let text = cursor.map_or_else(
            || "not started".to_owned(),
            |c| {
                format!(
                    "{} (moved {})",
                    c.value,
                    c.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
                )
            },
        );
        cursors.insert(format!("{flow} {name}"), text);
    }
    let objects = stores
        .statuses
        .counts(&t.id)
        .await
        .context("counting the tenant's objects")?
        .into_iter()
        .map(|(status, n)| (status.as_str().to_owned(), n))
        .collect();
    Ok(TenantView {
        tenant: t.id.to_string(),
        name: t.name.clone(),
        state: t.state,
        paused_reason: t.paused_reason.clone(),
        version: t.version,
        updated_at: t.updated_at,
        exact,
        vantagepoint,
        tokens,
        cursors,
        objects,
        keys: stored_keys(t).iter().map(|k| KeyView::of(k, now)).collect(),
    })
}

fn write_show(out: &mut dyn std::io::Write, v: &TenantView) -> std::io::Result<()> {
    writeln!(out, "Tenant {} — {}", v.tenant, v.name)?;
    match (&v.state, &v.paused_reason) {
        (ConnectionState::Paused, Some(reason)) => writeln!(out, "  state: paused — {reason}")?,
        (ConnectionState::Paused, None) => writeln!(out, "  state: paused")?,
        (ConnectionState::Active, _) => writeln!(out, "  state: active")?,
    }
    writeln!(
        out,
        "  record version {}, updated {}",
        v.version,
        v.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    for (title, fields) in [
        ("Exact Online", &v.exact),
        ("Vantagepoint", &v.vantagepoint),
    ] {
        writeln!(out, "{title}")?;
        for (k, value) in fields {
            writeln!(out, "  {k}: {value}")?;
        }
    }
    writeln!(out, "Tokens")?;
    for (k, value) in &v.tokens {
        writeln!(out, "  {k}: {value}")?;
    }
    writeln!(out, "Cursors")?;
    for (k, value) in &v.cursors {
        writeln!(out, "  {k}: {value}")?;
    }
    writeln!(out, "Objects per status")?;
    if v.objects.is_empty() {
        writeln!(out, "  none yet")?;
    }
    for (k, n) in &v.objects {
        writeln!(out, "  {k}: {n}")?;
    }
    writeln!(out, "Keys")?;
    write_keys(out, &v.keys)
}

fn write_keys(out: &mut dyn std::io::Write, keys: &[KeyView]) -> std::io::Result<()> {
    if keys.is_empty() {
        writeln!(out, "  none")?;
    }
    for k in keys {
        writeln!(
            out,
            "  {}  {:<8}  {}  created {}{}{}{}",
            k.id,
            k.role.as_str(),
            k.user,
            k.created_at.map_or_else(
                || "(before roles)".to_owned(),
                |at| at.format("%Y-%m-%d").to_string()
            ),
            expiry_text(k.expires_at),
            if k.expired { " (EXPIRED)" } else { "" },
            k.last4
                .as_deref()
                .map_or_else(String::new, |l| format!("  …{l}")),
        )?;
    }
    Ok(())
}
