//! Table "Chart of Accounts" (Exact Online → Vantagepoint), one test per row.

use ledgerlink_domain::exact::{BalanceSide, BalanceType, GlAccount};
use ledgerlink_domain::vantagepoint::{Account, AccountStatus, VpAccountType};
use ledgerlink_mapping::ledger_setup::gl_account_to_vp;
use ledgerlink_mapping::{AccountTypeTable, MappingError};

fn gl(side: BalanceSide, kind: BalanceType) -> GlAccount {
    GlAccount {
        id: None,
        code: "8000.10".into(),
        description: "Omzet advies".into(),
        gl_type: Some(110),
        balance_side: Some(side),
        balance_type: Some(kind),
        is_blocked: None,
    }
}

fn mapped() -> Account {
    gl_account_to_vp(
        &gl(BalanceSide::Credit, BalanceType::ProfitAndLoss),
        &AccountTypeTable::standard(),
    )
    .unwrap()
}

#[test]
fn chart_of_accounts_row_code_is_number_keeping_decimal_places() {
    assert_eq!(mapped().account, "8000.10");
}

#[test]
fn chart_of_accounts_row_description_is_account_name() {
    assert_eq!(mapped().name, "Omzet advies");
}

#[test]
fn chart_of_accounts_row_status_defaults_to_a() {
    assert_eq!(mapped().status, AccountStatus::Active);
    assert_eq!(serde_json::to_value(mapped()).unwrap()["Status"], "A");
}

#[test]
fn chart_of_accounts_row_name_is_name() {
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["Name"],
        "Omzet advies"
    );
}

#[test]
fn chart_of_accounts_row_type_comes_from_the_debit_credit_mapping_table() {
    let table = AccountTypeTable::standard();
    let of = |side, kind| {
        gl_account_to_vp(&gl(side, kind), &table)
            .unwrap()
            .account_type
    };
    assert_eq!(
        of(BalanceSide::Credit, BalanceType::ProfitAndLoss),
        VpAccountType::REVENUE
    );
    assert_eq!(
        of(BalanceSide::Debit, BalanceType::ProfitAndLoss),
        VpAccountType::INDIRECT
    );
    assert_eq!(
        of(BalanceSide::Debit, BalanceType::BalanceSheet),
        VpAccountType::ASSET
    );
    assert_eq!(
        of(BalanceSide::Credit, BalanceType::BalanceSheet),
        VpAccountType::LIABILITY
    );
}

#[test]
fn chart_of_accounts_row_type_prefers_an_entry_for_the_exact_type_code() {
    let mut account = gl(BalanceSide::Credit, BalanceType::BalanceSheet);
    account.gl_type = Some(52);
    let out = gl_account_to_vp(&account, &AccountTypeTable::standard()).unwrap();
    assert_eq!(out.account_type, VpAccountType::NET_WORTH);
}

#[test]
fn chart_of_accounts_row_type_without_a_table_entry_is_refused() {
    let table = AccountTypeTable {
        by_gl_type: Default::default(),
        by_balance: Vec::new(),
    };
    let error =
        gl_account_to_vp(&gl(BalanceSide::Credit, BalanceType::ProfitAndLoss), &table).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::NotInLookup {
                field: "Type",
                table: "account types",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn chart_of_accounts_row_cash_balance_account_defaults_to_blank() {
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["CashBasisAccount"],
        ""
    );
}

#[test]
fn chart_of_accounts_row_detail_defaults_to_1() {
    assert_eq!(mapped().detail.as_deref(), Some("1"));
}

#[test]
fn chart_of_accounts_row_unrealized_loss_account_defaults_to_blank() {
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["UnrealizedLossAccount"],
        ""
    );
}

#[test]
fn chart_of_accounts_row_unrealized_gain_account_defaults_to_blank() {
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["UnrealizedGainAccount"],
        ""
    );
}

#[test]
fn chart_of_accounts_row_cash_basis_revaluation_defaults_to_blank() {
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["CashBasisRevaluation"],
        ""
    );
}
