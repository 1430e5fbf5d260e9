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
/// cents, sometimes tiny (below a cent) or zero.
fn line_weight() -> impl Strategy<Value = Decimal> {
    let mantissa = prop_oneof![1 => 0i64..100, 4 => 0i64..50_000_000];
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

/// The rate (fraction) of an Exact VAT code in the sample set-up, written out by hand from
/// `samples/lookup_tables.json` and `samples/vp_tax_codes.json`: X0001 → "2" at 21 %, X0002 → "1" at 9 %,
/// X0003 → "0" at 0 %, and the no-VAT code "0" for lines without tax.
fn sample_rate(exact_code: &str) -> Decimal {
    match exact_code {
        "2" => Decimal::new(21, 2),
        "1" => Decimal::new(9, 2),
        "0" => Decimal::ZERO,
        other => panic!("the sample set-up has no VAT code {other:?}"),
    }
}

/// The tax of the VP lines, unrounded: each line's amount times its own rate (no grouping).
fn unrounded_tax(lines: &[ArInvoiceLine]) -> Decimal {
    lines
        .iter()
        .map(|l| {
            let rate = match l.tax_code.as_deref() {
                Some("X0001") => Decimal::new(21, 2),
                Some("X0002") => Decimal::new(9, 2),
                _ => Decimal::ZERO,
            };
            l.amount * rate
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invoice_lines_keep_the_net_total_and_tax_each_group_at_its_rate(lines in prop::collection::vec(vp_line(), 1..25)) {
        let record = RecordRef::new(ObjectType::Invoice, "P.202606.1");
        let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
        let mapped = sales_invoice_lines(&lines, &amounts, &lookups(), &record).unwrap();
        // The net amounts are only regrouped, never changed.
        let net: Decimal = mapped.iter().map(|l| l.amount_fc).sum();
        prop_assert_eq!(net, amounts.iter().sum::<Decimal>());
        // Each Exact line carries the VAT of its own amount at its own code's rate, in cents.
        for line in &mapped {
            let code = line.vat_code.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default();
            prop_assert_eq!(line.vat_amount_fc, Some(round_money(line.amount_fc * sample_rate(&code))));
        }
        // Rounding per line costs at most half a cent per Exact line against the unrounded VP tax.
        let tax: Decimal = mapped.iter().map(|l| l.vat_amount_fc.unwrap_or_default()).sum();
        let slack = Decimal::new(5, 3) * Decimal::from(mapped.len());
        prop_assert!((tax - unrounded_tax(&lines)).abs() <= slack, "tax {} vs {}", tax, unrounded_tax(&lines));
        // Three sections × four tax choices × three accounts at most.
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
        // Arrange: make the total whole cents by topping up the last line, so a payment can equal it
        // exactly — the full payment of an invoice whose lines carry fractions of a cent.
        let raw: Decimal = owed.iter().sum();
        let top_up = raw.round_dp_with_strategy(2, RoundingStrategy::AwayFromZero) - raw;
        let last = owed.len() - 1;
        owed[last] += top_up;
        let total: Decimal = owed.iter().sum();
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
            let cap = o.round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
            prop_assert!(a.normalize().scale() <= 2, "allocated {} is not whole cents", a);
            prop_assert!(*a >= Decimal::ZERO && *a <= cap, "allocated {} of {}", a, o);
            prop_assert!((*a - payment * *o / total).abs() < cent, "allocated {} of {}", a, o);
            prop_assert!((*r - spec_remaining_balance(*o, payment, total)).abs() < cent);
        }
    }

    #[test]
    fn allocations_with_discount_lines_give_each_line_its_signed_share(
        owed in prop::collection::vec(signed_cents(), 1..20),
        share in 0u32..=1000,
    ) {
        let total: Decimal = owed.iter().sum();
        prop_assume!(total > Decimal::ZERO);
        let payment = (total * Decimal::from(share) / Decimal::from(1000))
            .round_dp_with_strategy(2, RoundingStrategy::ToZero);
        let allocated = allocate(payment, &owed).unwrap();
        prop_assert_eq!(allocated.iter().sum::<Decimal>(), payment);
        let cent = Decimal::new(1, 2);
        for (a, o) in allocated.iter().zip(&owed) {
            prop_assert!(a.normalize().scale() <= 2, "allocated {} is not whole cents", a);
            // Within a cent of the exact signed share: a discount line takes a negative part.
            prop_assert!((*a - payment * *o / total).abs() < cent, "allocated {} of {}", a, o);
        }
        prop_assert_eq!(remaining_balances(&owed, &allocated).iter().sum::<Decimal>(), total - payment);
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
        // Firm-sync gives the mapping VP's organisations (the first is the default for new firms).
        let mut l = lookups();
        l.organizations = vec!["A0:01".into()];
        let back = firm_from_exact(&account, None, &l).unwrap();
        prop_assert_eq!(&back.name, &firm.name);
        prop_assert_eq!(back.client_ind, firm.client_ind);
        prop_assert_eq!(back.vendor_ind, firm.vendor_ind);
        prop_assert_eq!(&back.client, &firm.client);
        prop_assert_eq!(&back.vendor, &firm.vendor);
    }
}
