//! Property tests of the invariants: invoice totals preserved, credit notes never negative, allocations
//! exact and bounded, firm round trips keep what both sides hold.

use ledgerlink_domain::exact::AccountStatus;
use ledgerlink_domain::vantagepoint::{ArInvoiceLine, Firm};
use ledgerlink_domain::{ObjectType, round_money};
use ledgerlink_mapping::firms::{firm_from_exact, firm_to_exact};
use ledgerlink_mapping::payments::{allocate, remaining_balances, spec_remaining_balance};
use ledgerlink_mapping::sales::{credit_note_to_exact, sales_invoice_lines};
use ledgerlink_mapping::{RecordRef, Settings};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::support::{credit_memo, lookups};

fn cents() -> impl Strategy<Value = Decimal> {
    (0i64..5_000_000).prop_map(|c| Decimal::new(c, 2))
}

/// Outstanding line weights as VP reports them: mostly 3–4 decimals (fractions of a cent), sometimes whole
/// cents, sometimes tiny (below a cent), occasionally negative or zero.
fn line_weight() -> impl Strategy<Value = Decimal> {
    let mantissa = prop_oneof![1 => 0i64..100, 4 => -1_000_000i64..50_000_000];
    let scale = prop_oneof![3 => 3u32..=4, 1 => 0u32..=2];
    (mantissa, scale).prop_map(|(m, s)| Decimal::new(m, s))
}

fn signed_cents() -> impl Strategy<Value = Decimal> {
    (-5_000_000i64..5_000_000).prop_map(|c| Decimal::new(c, 2))
}

const SECTIONS: [&str; 3] = ["L", "E", "C"];
const TAXES: [&str; 4] = ["X0001", "X0002", "X0003", "none"];
const ACCOUNTS: [&str; 3] = ["4000", "4100", "4200"];

fn vp_line() -> impl Strategy<Value = ArInvoiceLine> {
    (0usize..3, 0usize..4, 0usize..3, cents()).prop_map(|(s, t, a, amount)| ArInvoiceLine {
        invoice_section: Some(SECTIONS[s].to_owned()),
        tax_code: (TAXES[t] != "none").then(|| TAXES[t].to_owned()),
        account: ACCOUNTS[a].to_owned(),
        wbs1: Some("2026-001".to_owned()),
        amount,
        ..ArInvoiceLine::default()
    })
}

/// The VP invoice total computed independently: per (section, tax, account) group, amount plus the group
/// amount times the rate, rounded to cents.
fn vp_total(lines: &[ArInvoiceLine]) -> Decimal {
    let l = lookups();
    let mut groups: std::collections::BTreeMap<(String, String, String), Decimal> =
        Default::default();
    for line in lines {
        let key = (
            line.invoice_section.clone().unwrap_or_default(),
            line.tax_code.clone().unwrap_or_default(),
            line.account.clone(),
        );
        *groups.entry(key).or_default() += line.amount;
    }
    groups
        .iter()
        .map(|((_, tax, _), amount)| {
            let rate =
                l.tax_codes.get(tax).map(|t| t.rate).unwrap_or_default() / Decimal::ONE_HUNDRED;
            *amount + round_money(*amount * rate)
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invoice_lines_plus_tax_equal_the_vp_invoice_total(lines in prop::collection::vec(vp_line(), 1..25)) {
        let record = RecordRef::new(ObjectType::Invoice, "P.202606.1");
        let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
        let mapped = sales_invoice_lines(&lines, &amounts, &lookups(), &record).unwrap();
        let net: Decimal = mapped.iter().map(|l| l.amount_fc).sum();
        let tax: Decimal = mapped.iter().map(|l| l.vat_amount_fc.unwrap_or_default()).sum();
        prop_assert_eq!(net, amounts.iter().sum::<Decimal>());
        prop_assert_eq!(net + tax, vp_total(&lines));
        prop_assert!(mapped.len() <= 3 * 4 * 3);
    }

    #[test]
    fn credit_notes_are_never_negative(amounts in prop::collection::vec(signed_cents(), 1..10)) {
        let mut memo = credit_memo();
        let template = memo.lines[0].clone();
        memo.lines = amounts.iter().map(|a| ArInvoiceLine { amount: *a, ..template.clone() }).collect();
        let note = credit_note_to_exact(&memo, &lookups()).unwrap();
        let total: Decimal = note.entry.lines.iter().map(|l| l.amount_fc + l.vat_amount_fc.unwrap_or_default()).sum();
        prop_assert!(!total.is_sign_negative() || total.is_zero(), "total {}", total);
        prop_assert_eq!(note.entry.lines.iter().map(|l| l.amount_fc).sum::<Decimal>(), amounts.iter().sum::<Decimal>().abs());
    }

    #[test]
    fn allocations_sum_exactly_to_the_payment_and_never_exceed_outstanding(
        owed in prop::collection::vec(cents(), 1..30),
        share in 0u32..=1000,
    ) {
        let total: Decimal = owed.iter().sum();
        prop_assume!(!total.is_zero());
        let payment = round_money(total * Decimal::from(share) / Decimal::from(1000));
        let payment = payment.min(total);
        let allocated = allocate(payment, &owed).unwrap();
        prop_assert_eq!(allocated.iter().sum::<Decimal>(), payment);
        let cent = Decimal::new(1, 2);
        for ((a, o), r) in allocated.iter().zip(&owed).zip(remaining_balances(&owed, &allocated)) {
            prop_assert!(*a >= Decimal::ZERO && *a <= *o, "allocated {} of {}", a, o);
            prop_assert!((*a - payment * *o / total).abs() < cent);
            prop_assert!((r - spec_remaining_balance(*o, payment, total)).abs() < cent);
        }
    }

    #[test]
    fn allocations_of_fractional_cent_lines_are_whole_cents_summing_exactly_to_the_payment(
        mut owed in prop::collection::vec(line_weight(), 1..30),
        share in prop_oneof![Just(1000u32), 0u32..=1000],
    ) {
        // Arrange: make the total (of magnitudes) whole cents by topping up the last line, so a payment can
        // equal it exactly — the full payment of an invoice whose lines carry fractions of a cent.
        let magnitude: Decimal = owed.iter().map(|o| o.abs()).sum();
        let top_up = magnitude.round_dp_with_strategy(2, RoundingStrategy::AwayFromZero) - magnitude;
        let last = owed.len() - 1;
        owed[last] = owed[last].abs() + top_up;
        let total: Decimal = owed.iter().map(|o| o.abs()).sum();
        prop_assume!(!total.is_zero());
        let payment = if share == 1000 {
            total
        } else {
            (total * Decimal::from(share) / Decimal::from(1000))
                .round_dp_with_strategy(2, RoundingStrategy::ToZero)
        };

        // Act
        let allocated = allocate(payment, &owed).unwrap();

        // Assert
        prop_assert_eq!(allocated.iter().sum::<Decimal>(), payment);
        let cent = Decimal::new(1, 2);
        let remaining = remaining_balances(&owed, &allocated);
        prop_assert_eq!(remaining.iter().sum::<Decimal>(), total - payment);
        for ((a, o), r) in allocated.iter().zip(&owed).zip(&remaining) {
            let cap = o.abs().round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
            prop_assert!(a.normalize().scale() <= 2, "allocated {} is not whole cents", a);
            prop_assert!(*a >= Decimal::ZERO && *a <= cap, "allocated {} of {}", a, o);
            prop_assert!((*a - payment * o.abs() / total).abs() < cent, "allocated {} of {}", a, o);
            prop_assert!((*r - spec_remaining_balance(o.abs(), payment, total)).abs() < cent);
        }
    }

    #[test]
    fn firm_round_trips_keep_what_both_sides_hold(
        name in "[A-Za-z][A-Za-z0-9 .&-]{0,40}",
        code in "[0-9A-Z]{1,18}",
        is_client in any::<bool>(),
        is_vendor in any::<bool>(),
    ) {
        prop_assume!(is_client || is_vendor);
        let firm = Firm {
            client_id: Some("ID-1".into()),
            client: is_client.then(|| code.clone()),
            vendor: is_vendor.then(|| code.clone()),
            name: name.clone(),
            client_ind: is_client,
            vendor_ind: is_vendor,
            available_to_accounting_users: true,
            ..Firm::default()
        };
        let mut account = firm_to_exact(&firm, &Settings::default()).unwrap().mapped().unwrap();
        // Exact derives the read-only IsSales from the customer status.
        account.is_sales = Some(account.status == Some(AccountStatus::Customer));
        let back = firm_from_exact(&account, None, &lookups()).unwrap();
        prop_assert_eq!(&back.name, &firm.name);
        prop_assert_eq!(back.client_ind, firm.client_ind);
        prop_assert_eq!(back.vendor_ind, firm.vendor_ind);
        prop_assert_eq!(&back.client, &firm.client);
        prop_assert_eq!(&back.vendor, &firm.vendor);
    }
}
