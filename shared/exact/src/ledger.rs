//! [`ExactLedger`]: the ledger port on Exact Online.
//!
//! - Accounts are read, updated (PUT: Exact merges the fields sent; the code is never changed) and created
//!   by their `ID`; a create is POSTed once (after a lost answer, looked up by `Code`, else by `SearchCode`
//!   and `Name`). Finding an account by code is for a record's first link only. Addresses by (account,
//!   type); contacts by (account, names).
//! - Sales documents are `salesentry/SalesEntries` (not SalesInvoices: those get Exact's own numbering and
//!   need printing). A credit note arrives from the mapping with POSITIVE amounts; Exact books a sales entry
//!   with negative amounts as a credit note (`Type` 21), so this adapter negates every line's `AmountFC`
//!   and `VATAmountFC` before posting. Invoices are posted as mapped.
//! - AP vouchers and expense reports are `purchaseentry/PurchaseEntries`; journals
//!   `generaljournalentry/GeneralJournalEntries` with our reference in the lines' `Notes` (see [`crate::ops`]).
//! - Payments and receipts come from `sync/Cashflow/PaymentTerms` (`LineType` 20 receipt, 22 payment),
//!   changed accounts from `sync/CRM/Accounts`, deletions from `sync/Deleted`; the cursor is the highest sync `Timestamp` as a decimal string.

use async_trait::async_trait;
use chrono::Utc;
use ledgerlink_domain::ExactAccountCode;
use ledgerlink_domain::exact::{
    Account, Address, Contact, Currency, GeneralJournalEntry, GlAccount, Journal, PaymentTerm,
    PurchaseEntry, SalesEntry, VatCodeRecord,
};
use ledgerlink_ports::ledger::{
    ChangeBatch, DeletedRecord, DocumentKind, Ledger, LedgerError, LedgerResult, Posted,
    SalesDocumentKind,
};
use uuid::Uuid;

use crate::client::ExactClient;
use crate::error::ExactError;
use crate::once::{CreateOnce, LookupFirst};

/// The cursor Exact advises for a first sync read ("filter on timestamp greater than 1").
const FIRST_CURSOR: i64 = 1;

impl From<ExactError> for LedgerError {
    fn from(e: ExactError) -> Self {
        match e {
            ExactError::Validation { messages } => Self::Validation { messages },
            ExactError::NotFound { what } => Self::NotFound { what },
            ExactError::Conflict { what, detail } => Self::Conflict { what, detail },
            ExactError::RateLimited { until, daily } => Self::RateLimited { until, daily },
            ExactError::ReconnectNeeded { connection, reason } => {
                Self::ReconnectNeeded { connection, reason }
            }
            // A 401 before the refresh window: a later attempt (after 570 s) gets a fresh token.
            e @ ExactError::Unauthorized { .. } => Self::Transient {
                message: e.to_string(),
                source: Some(Box::new(e)),
            },
            ExactError::Transient { message, source } => Self::Transient { message, source },
            ExactError::OutcomeUnknown { message, source } => {
                Self::OutcomeUnknown { message, source }
            }
            e @ (ExactError::Forbidden { .. }
            | ExactError::Decode { .. }
            | ExactError::Config { .. }) => Self::Permanent {
                message: e.to_string(),
                source: Some(Box::new(e)),
            },
        }
    }
}

/// The ledger port on one Exact Online division.
#[derive(Debug, Clone)]
pub struct ExactLedger {
    client: ExactClient,
}

impl ExactLedger {
    pub fn new(client: ExactClient) -> Self {
        Self { client }
    }
    pub fn client(&self) -> &ExactClient {
        &self.client
    }
}

fn lookup(find_existing_first: bool) -> LookupFirst {
    if find_existing_first {
        LookupFirst::Always
    } else {
        LookupFirst::AfterUnknownOutcome {
            previous_outcome_unknown: false,
        }
    }
}

fn id_of(id: Option<Uuid>, what: &str) -> LedgerResult<String> {
    id.map(|i| i.to_string())
        .ok_or_else(|| LedgerError::Permanent {
            message: format!("Exact returned a {what} without its key"),
            source: None,
        })
}

fn posted<T>(
    outcome: CreateOnce<T>,
    key: impl Fn(&T) -> Option<Uuid>,
    what: &str,
) -> LedgerResult<Posted> {
    let created = outcome.was_created();
    let entity = outcome.into_inner();
    Ok(Posted {
        target_id: id_of(key(&entity), what)?,
        created,
    })
}

fn parse_cursor(cursor: Option<&str>) -> LedgerResult<i64> {
    match cursor {
        None => Ok(FIRST_CURSOR),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| LedgerError::Permanent {
                message: format!("not an Exact sync cursor: {text:?}"),
                source: None,
            }),
    }
}

/// The wire form of a credit note: every amount negated (the mapping's amounts are positive).
pub fn credit_note_wire(entry: &SalesEntry) -> SalesEntry {
    let mut wire = entry.clone();
    for line in &mut wire.lines {
        line.amount_fc = -line.amount_fc;
        line.vat_amount_fc = line.vat_amount_fc.map(|v| -v);
    }
    wire
}

/// Reads `sync/Deleted`'s `DeletedDate`: `/Date(ms)/` or ISO without a zone, both on the Dutch clock (CET/CEST,
/// converted to UTC explicitly; see `ledgerlink_domain::cet`).
fn deleted_at(text: Option<&str>) -> Option<chrono::DateTime<Utc>> {
    ledgerlink_domain::period::parse_exact_instant(text?)
        .ok()
        .flatten()
}

#[async_trait]
impl Ledger for ExactLedger {
    async fn account(&self, id: &str) -> LedgerResult<Option<Account>> {
        let Ok(id) = id.trim().parse::<Uuid>() else {
            // Exact's account ids are GUIDs: anything else names no account.
            return Ok(None);
        };
        Ok(self.client.account(id).await?)
    }

    async fn create_account(&self, account: &Account) -> LedgerResult<Account> {
        let outcome = match (&account.code, &account.search_code) {
            // The code identifies the account: after an unknown outcome it finds ours.
            (Some(_), _) => {
                self.client
                    .create_account_once(account, lookup(false))
                    .await?
            }
            // Exact numbers the account: after an unknown outcome, ours is the one with its search code
            // AND name (the search code alone may be another party's).
            (None, search) => {
                let client = &self.client;
                let name = account.name.clone();
                let search = search.clone();
                client
                    .create_once(crate::entities::ACCOUNTS, account, lookup(false), || {
                        let (name, search) = (name.clone(), search.clone());
                        async move {
                            let Some(search) = search else {
                                return Ok(None);
                            };
                            Ok(client
                                .find_account_by_search_code(&search)
                                .await?
                                .filter(|a| a.name == name))
                        }
                    })
                    .await?
            }
        };
        let created = outcome.into_inner();
        let id = created.id.ok_or_else(|| LedgerError::Permanent {
            message: "Exact returned a created account without its ID".into(),
            source: None,
        })?;
        // The POST answer may lack read-only fields (`Modified`): read the account as stored.
        match self.client.account(id).await? {
            Some(stored) => Ok(stored),
            None => Ok(created),
        }
    }

    async fn update_account(&self, id: &str, account: &Account) -> LedgerResult<Account> {
        let uuid = id
            .trim()
            .parse::<Uuid>()
            .map_err(|_| LedgerError::NotFound {
                what: format!("account {id} (not an Exact account id)"),
            })?;
        let mut body = account.clone();
        body.id = None;
        body.code = None;
        match self.client.update_account(uuid, &body).await {
            Ok(()) => {}
            Err(ExactError::NotFound { .. }) => {
                return Err(LedgerError::NotFound {
                    what: format!("account {id}"),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.client
            .account(uuid)
            .await?
            .ok_or_else(|| LedgerError::NotFound {
                what: format!("account {id}"),
            })
    }

    fn account_url(&self, id: &str) -> Option<String> {
        let id = id.trim().parse::<Uuid>().ok()?;
        Some(format!(
            "{}/docs/CRMAccountCard.aspx?_Division_={}&AccountID=%7B{id}%7D",
            self.client.config().base_url.as_str().trim_end_matches('/'),
            self.client.config().division.0
        ))
    }

    async fn upsert_address(&self, address: &Address) -> LedgerResult<Posted> {
        let account = address.account.ok_or_else(|| LedgerError::Validation {
            messages: vec!["an address needs the account it belongs to".into()],
        })?;
        if let Some(existing) = self.client.find_address(account, address).await? {
            let id = id_of(existing.id, "address")?;
            if let Some(uuid) = existing.id {
                self.client.update_address(uuid, address).await?;
            }
            return Ok(Posted {
                target_id: id,
                created: false,
            });
        }
        // Exact's address POST returns the existing address when it already exists, so a retry is safe.
        let created = self.client.create_address(address).await?;
        Ok(Posted {
            target_id: id_of(created.id, "address")?,
            created: true,
        })
    }

    async fn upsert_contact(&self, contact: &Contact) -> LedgerResult<Posted> {
        if contact.account.is_none() {
            return Err(LedgerError::Validation {
                messages: vec!["a contact needs the account it belongs to".into()],
            });
        }
        if let Some(existing) = self.client.find_contact(contact).await? {
            let id = existing.id.ok_or_else(|| LedgerError::Permanent {
                message: "contact without ID".into(),
                source: None,
            })?;
            self.client.update_contact(id, contact).await?;
            return Ok(Posted {
                target_id: id.to_string(),
                created: false,
            });
        }
        let client = &self.client;
        let outcome = client
            .create_once(crate::entities::CONTACTS, contact, lookup(false), || {
                client.find_contact(contact)
            })
            .await?;
        posted(outcome, |c| c.id, "contact")
    }

    async fn post_sales_document(
        &self,
        kind: SalesDocumentKind,
        entry: &SalesEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted> {
        let wire = match kind {
            SalesDocumentKind::Invoice => entry.clone(),
            SalesDocumentKind::CreditNote => credit_note_wire(entry),
        };
        let outcome = self
            .client
            .create_sales_entry_once(&wire, lookup(find_existing_first))
            .await?;
        posted(outcome, |e| e.entry_id, "sales entry")
    }

    async fn post_purchase_document(
        &self,
        entry: &PurchaseEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted> {
        let outcome = self
            .client
            .create_purchase_entry_once(entry, lookup(find_existing_first))
            .await?;
        posted(outcome, |e| e.entry_id, "purchase entry")
    }

    async fn post_journal(
        &self,
        reference: &str,
        entry: &GeneralJournalEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted> {
        let outcome = self
            .client
            .create_journal_once(reference, entry, lookup(find_existing_first))
            .await?;
        posted(outcome, |e| e.entry_id, "journal entry")
    }

    async fn find_documents(
        &self,
        kind: DocumentKind,
        references: &[String],
    ) -> LedgerResult<std::collections::BTreeMap<String, String>> {
        let purchase = match kind {
            DocumentKind::Sales => false,
            DocumentKind::Purchase => true,
            DocumentKind::Journal => {
                let mut found = std::collections::BTreeMap::new();
                for reference in references {
                    if let Some(id) = self.find_document(kind, reference).await? {
                        found.insert(reference.clone(), id);
                    }
                }
                return Ok(found);
            }
        };
        Ok(self
            .client
            .entries_by_your_ref(purchase, references)
            .await?
            .into_iter()
            .map(|(reference, id)| (reference, id.to_string()))
            .collect())
    }

    async fn find_document(
        &self,
        kind: DocumentKind,
        reference: &str,
    ) -> LedgerResult<Option<String>> {
        let id = match kind {
            DocumentKind::Sales => self
                .client
                .find_sales_entry_by_your_ref(reference)
                .await?
                .and_then(|e| e.entry_id),
            DocumentKind::Purchase => self
                .client
                .find_purchase_entry_by_your_ref(reference)
                .await?
                .and_then(|e| e.entry_id),
            DocumentKind::Journal => self
                .client
                .find_journal_by_reference(reference)
                .await?
                .and_then(|e| e.entry_id),
        };
        Ok(id.map(|i| i.to_string()))
    }

    async fn find_account(&self, code: &str) -> LedgerResult<Option<Account>> {
        let code = ExactAccountCode::parse(code).map_err(|e| LedgerError::Validation {
            messages: vec![e.to_string()],
        })?;
        Ok(self.client.find_account_by_code(&code).await?)
    }

    async fn payments_since(&self, cursor: Option<&str>) -> LedgerResult<ChangeBatch<PaymentTerm>> {
        let batch = self
            .client
            .sync_payment_terms(parse_cursor(cursor)?)
            .await?;
        Ok(ChangeBatch {
            items: batch.items,
            next_cursor: batch.cursor.to_string(),
            more: batch.more,
        })
    }

    async fn payment(&self, id: &str, receipt: bool) -> LedgerResult<Option<PaymentTerm>> {
        let Ok(uuid) = id.trim().parse::<Uuid>() else {
            return Ok(None);
        };
        let set = if receipt {
            crate::entities::RECEIVABLES
        } else {
            crate::entities::PAYMENTS
        };
        Ok(self.client.get_by_id(set, uuid).await?)
    }

    async fn accounts_since(&self, cursor: Option<&str>) -> LedgerResult<ChangeBatch<Account>> {
        let batch = self.client.sync_accounts(parse_cursor(cursor)?).await?;
        Ok(ChangeBatch {
            items: batch.items,
            next_cursor: batch.cursor.to_string(),
            more: batch.more,
        })
    }

    async fn deletions_since(
        &self,
        cursor: Option<&str>,
    ) -> LedgerResult<ChangeBatch<DeletedRecord>> {
        let batch = self.client.sync_deleted(parse_cursor(cursor)?).await?;
        let items = batch
            .items
            .into_iter()
            .map(|row| DeletedRecord {
                entity: row.entity_name(),
                key: row.entity_key.to_string(),
                deleted_at: deleted_at(row.deleted_date.as_deref()),
            })
            .collect();
        Ok(ChangeBatch {
            items,
            next_cursor: batch.cursor.to_string(),
            more: batch.more,
        })
    }

    async fn gl_accounts(&self) -> LedgerResult<Vec<GlAccount>> {
        Ok(self.client.gl_accounts().await?)
    }

    async fn tax_codes(&self) -> LedgerResult<Vec<VatCodeRecord>> {
        Ok(self.client.vat_codes().await?)
    }

    async fn currencies(&self) -> LedgerResult<Vec<Currency>> {
        Ok(self.client.currencies().await?)
    }

    async fn bank_journals(&self) -> LedgerResult<Vec<Journal>> {
        Ok(self.client.bank_journals().await?)
    }

    async fn sync_reset_marker(&self) -> LedgerResult<Option<String>> {
        Ok(self.client.division_move_date().await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::NaiveDate;
    use ledgerlink_domain::exact::SalesEntryLine;
    use rust_decimal::Decimal;

    fn entry() -> SalesEntry {
        serde_json::from_value(serde_json::json!({
            "Journal": "70",
            "Customer": "3734121e-1544-4b77-9ae2-7203e9bd6046",
            "EntryDate": "2024-05-13T00:00:00Z",
            "YourRef": "CM-1",
            "SalesEntryLines": []
        }))
        .unwrap()
    }

    #[test]
    fn a_credit_note_is_posted_with_negated_amounts_and_an_invoice_as_mapped() {
        let mut e = entry();
        e.lines.push(SalesEntryLine {
            id: None,
            gl_account: Uuid::nil(),
            amount_fc: Decimal::new(10000, 2),
            vat_code: None,
            vat_amount_fc: Some(Decimal::new(2100, 2)),
            description: None,
            quantity: None,
        });
        let wire = credit_note_wire(&e);
        assert_eq!(wire.lines[0].amount_fc, Decimal::new(-10000, 2));
        assert_eq!(wire.lines[0].vat_amount_fc, Some(Decimal::new(-2100, 2)));
        assert_eq!(
            e.lines[0].amount_fc,
            Decimal::new(10000, 2),
            "the mapped entry is left alone"
        );
        assert_eq!(
            wire.entry_date,
            NaiveDate::from_ymd_opt(2024, 5, 13).unwrap()
        );
    }

    #[test]
    fn exact_errors_map_to_ledger_errors_a_flow_can_act_on() {
        let v: LedgerError = ExactError::Validation {
            messages: vec!["a".into(), "b".into()],
        }
        .into();
        assert!(matches!(v, LedgerError::Validation { ref messages } if messages.len() == 2));
        let u: LedgerError = ExactError::OutcomeUnknown {
            message: "lost".into(),
            source: None,
        }
        .into();
        assert!(matches!(u, LedgerError::OutcomeUnknown { .. }) && !u.is_retryable());
        let f: LedgerError = ExactError::Forbidden {
            reason: "NoDivisionAccess".into(),
        }
        .into();
        assert!(matches!(f, LedgerError::Permanent { .. }));
        let t: LedgerError = ExactError::Unauthorized {
            reason: "early".into(),
        }
        .into();
        assert!(t.is_retryable());
    }

    #[test]
    fn cursors_are_decimal_timestamps_starting_at_one() {
        assert_eq!(parse_cursor(None).unwrap(), 1);
        assert_eq!(parse_cursor(Some("9000000000")).unwrap(), 9_000_000_000);
        assert!(parse_cursor(Some("yesterday")).is_err());
    }

    #[test]
    fn deleted_dates_read_in_both_wire_forms() {
        // 2013-10-25T02:24:32.203 on the Dutch clock (CEST) = 00:24:32.203 UTC.
        assert_eq!(
            deleted_at(Some("/Date(1382667872203)/"))
                .unwrap()
                .timestamp_millis(),
            1_382_667_872_203 - 7_200_000
        );
        assert_eq!(
            deleted_at(Some("2024-05-13T10:00:00"))
                .unwrap()
                .to_rfc3339(),
            "2024-05-13T08:00:00+00:00"
        );
        assert_eq!(
            deleted_at(Some("2024-01-13T10:00:00"))
                .unwrap()
                .to_rfc3339(),
            "2024-01-13T09:00:00+00:00"
        );
        assert_eq!(deleted_at(None), None);
    }
}
