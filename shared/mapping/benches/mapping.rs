//! Throughput of the mappings against a plain serde_json parse + serialize of the same records.
//!
//! Criterion groups `mapping` and `serde`, then a plain timing loop that prints records/s per core (one
//! thread) for each workload and the mapping/serde cost ratio.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ledgerlink_domain::vantagepoint::{ArInvoice, ArInvoiceLine, Firm};
use ledgerlink_mapping::Lookups;
use ledgerlink_mapping::demo::{FIRMS_JSON, INVOICE_JSON, sample_lookups};
use ledgerlink_mapping::firms::{firm_addresses_to_exact, firm_to_exact};
use ledgerlink_mapping::sales::sales_invoice_to_exact;
use rust_decimal::Decimal;
use uuid::Uuid;

/// A realistic invoice: 20 lines over 3 sections, 3 accounts and 3 tax codes.
fn invoice_20_lines() -> ArInvoice {
    let mut invoice: ArInvoice = serde_json::from_str(INVOICE_JSON).unwrap();
    let sections = ["L", "E", "C"];
    let accounts = ["4000", "4100", "4200"];
    let taxes = ["X0001", "X0002", "X0003"];
    invoice.lines = (0..20)
        .map(|i| ArInvoiceLine {
            invoice_section: Some(sections[i % 3].to_owned()),
            wbs1: Some("2026-001".to_owned()),
            wbs2: Some(format!("{:02}", i % 5 + 1)),
            wbs3: (i % 4 == 0).then(|| "A".to_owned()),
            account: accounts[i % 3].to_owned(),
            amount: Decimal::new(10_000 + 1_337 * i as i64, 2),
            tax_code: Some(taxes[(i / 3) % 3].to_owned()),
            description: Some(format!("Line {i}")),
            ..ArInvoiceLine::default()
        })
        .collect();
    invoice
}

fn acme() -> Firm {
    let mut firms: Vec<Firm> = serde_json::from_str(FIRMS_JSON).unwrap();
    firms.remove(0)
}

struct Workloads {
    lookups: Lookups,
    invoice: ArInvoice,
    invoice_json: String,
    firm: Firm,
    firm_json: String,
}

fn workloads() -> Workloads {
    let invoice = invoice_20_lines();
    let firm = acme();
    Workloads {
        lookups: sample_lookups().unwrap(),
        invoice_json: serde_json::to_string(&invoice).unwrap(),
        firm_json: serde_json::to_string(&firm).unwrap(),
        invoice,
        firm,
    }
}

fn map_invoice(w: &Workloads) -> usize {
    sales_invoice_to_exact(black_box(&w.invoice), &w.lookups)
        .unwrap()
        .len()
}

fn map_firm(w: &Workloads) -> usize {
    let account = firm_to_exact(black_box(&w.firm), &w.lookups.settings).unwrap();
    account.mapped().map_or(0, |_| 1) + firm_addresses_to_exact(&w.firm, Uuid::nil()).len()
}

fn serde_round_trip(json: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(black_box(json)).unwrap();
    serde_json::to_string(&value).unwrap().len()
}

fn criterion_groups(c: &mut Criterion, w: &Workloads) {
    let mut mapping = c.benchmark_group("mapping");
    mapping.bench_function("invoice_20_lines_3_tax_codes", |b| {
        b.iter(|| map_invoice(w))
    });
    mapping.bench_function("firm_with_addresses", |b| b.iter(|| map_firm(w)));
    mapping.finish();

    let mut serde = c.benchmark_group("serde");
    serde.bench_function("invoice_20_lines_parse_serialize", |b| {
        b.iter(|| serde_round_trip(&w.invoice_json))
    });
    serde.bench_function("firm_parse_serialize", |b| {
        b.iter(|| serde_round_trip(&w.firm_json))
    });
    serde.finish();
}

/// Runs `f` for about `budget` and returns (iterations, elapsed nanoseconds).
fn time_loop(budget: Duration, mut f: impl FnMut() -> usize) -> (u128, u128) {
    let mut sink = 0usize;
    for _ in 0..1_000 {
        sink = sink.wrapping_add(f());
    }
    let start = Instant::now();
    let mut iterations: u128 = 0;
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            sink = sink.wrapping_add(f());
        }
        iterations += 1_000;
    }
    black_box(sink);
    (iterations, start.elapsed().as_nanos().max(1))
}

fn per_second(iterations: u128, nanos: u128) -> u128 {
    iterations * 1_000_000_000 / nanos
}

fn summary(w: &Workloads) {
    let budget = Duration::from_secs(2);
    println!(
        "\nSummary (one thread = one core; {}s timing loop each):",
        budget.as_secs()
    );
    println!(
        "{:<44} {:>14} {:>12}",
        "workload", "records/s/core", "ns/record"
    );
    for (name, mapping, serde) in [
        (
            "invoice (20 lines, 3 tax codes)",
            map_invoice as fn(&Workloads) -> usize,
            &w.invoice_json,
        ),
        (
            "firm (+ 2 addresses, 4 roles)",
            map_firm as fn(&Workloads) -> usize,
            &w.firm_json,
        ),
    ] {
        let (mi, mn) = time_loop(budget, || mapping(w));
        let (si, sn) = time_loop(budget, || serde_round_trip(serde));
        let map_ns = mn / mi;
        let serde_ns = sn / si;
        println!(
            "{:<44} {:>14} {:>12}",
            format!("mapping {name}"),
            per_second(mi, mn),
            map_ns
        );
        println!(
            "{:<44} {:>14} {:>12}",
            format!("serde_json {name}"),
            per_second(si, sn),
            serde_ns
        );
        // mapping cost / serde cost, as a fixed-point number with two decimals (integer arithmetic only).
        let ratio_x100 = mn * si * 100 / (sn * mi).max(1);
        println!(
            "{:<44} {:>11}.{:02}x",
            "  mapping/serde time ratio",
            ratio_x100 / 100,
            ratio_x100 % 100
        );
    }
}

fn main() {
    let w = workloads();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    criterion_groups(&mut c, &w);
    c.final_summary();
    summary(&w);
}
