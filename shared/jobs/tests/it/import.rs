//! Imports on both stores: templates, valid imports, corrupt and wrong-template files, all-or-nothing vs
//! partial, duplicate and missing parent references with row and column, locations linked to clients.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use calamine::{Data, Reader};
use ledgerlink_jobs::import::ImportRequest;
use ledgerlink_jobs::{ImportFormat, ImportSummary, ImportTemplate, Importer, RowError};
use ledgerlink_ports::{Job, JobStatus, LookupTable, NotificationKind};

use crate::helpers::Harness;
use crate::on_both_stores;

const FIRMS_HEADER: &str = "Accounting Reference,Name,Type,Parent Accounting Reference,Search Code,VAT Number,Email,Currency,Payment Days";

fn request(template: ImportTemplate, format: ImportFormat, partial: bool) -> ImportRequest {
    ImportRequest {
        template,
        format,
        partial,
        integration: None,
    }
}

/// Uploads `csv` as a firms import and runs it.
async fn import_firms(h: &Harness, csv: &str, partial: bool) -> (Job, ImportSummary) {
    import(
        h,
        ImportTemplate::Firms,
        ImportFormat::Csv,
        Bytes::from(csv.to_owned()),
        partial,
    )
    .await
}

async fn import(
    h: &Harness,
    template: ImportTemplate,
    format: ImportFormat,
    body: Bytes,
    partial: bool,
) -> (Job, ImportSummary) {
    let importer = Importer::new(h.ctx.clone());
    let job = importer
        .upload(&h.tenant, &request(template, format, partial), "jdoe", body)
        .await
        .unwrap();
    let done = importer.run(&h.tenant, &job.id).await.unwrap();
    let summary = importer
        .summary(&h.tenant, &done.id)
        .await
        .unwrap()
        .unwrap();
    (done, summary)
}

fn error_at(summary: &ImportSummary, row: u64, column: &str) -> RowError {
    summary
        .errors
        .iter()
        .find(|e| e.row == Some(row) && e.column.as_deref() == Some(column))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no error on row {row} column {column}: {:?}",
                summary.errors
            )
        })
}

fn valid_firms() -> String {
    format!(
        "{FIRMS_HEADER}\n\
         C-100,Acme Holding,Customer,,ACME,NL001,ap@acme.example,EUR,30\n\
         C-100a,Acme Rotterdam,Client,C-100,ACMER,,,,\n\
         C-100b,Acme Delft,client,C-100,,,,,\n\
         S-1,Paper Supplies,Supplier,,,,,USD,14\n"
    )
}

async fn a_valid_firms_file_is_imported_whole_with_clients_linked_to_their_customer(h: Harness) {
    let (job, summary) = import_firms(&h, &valid_firms(), false).await;

    assert_eq!(job.status, JobStatus::Finished, "{:?}", summary.errors);
    assert_eq!((summary.imported, summary.total), (4, 4));
    assert_eq!(summary.imported_rows, [2, 3, 4, 5]);
    assert_eq!(job.description, "Firms import initiated on 2026-06-15");
    let firms = h.lookups(LookupTable::Firms).await;
    let client = firms.iter().find(|e| e.key == "C-100b").unwrap();
    assert_eq!(
        client.columns.get("parent").map(String::as_str),
        Some("C-100")
    );
    assert_eq!(
        client.columns.get("type").map(String::as_str),
        Some("Client"),
        "types are stored as the template spells them"
    );
    let notes = h.notifications().await;
    assert_eq!(notes[0].kind, NotificationKind::ImportFinished);
    assert!(
        notes[0]
            .body
            .contains("Imported 4 of 4 records; 0 skipped; 0 errors."),
        "{}",
        notes[0].body
    );
}

async fn importing_the_same_file_again_skips_every_unchanged_row(h: Harness) {
    import_firms(&h, &valid_firms(), false).await;

    let (job, summary) = import_firms(&h, &valid_firms(), false).await;

    assert_eq!(job.status, JobStatus::Finished);
    assert_eq!(summary.imported, 0);
    assert_eq!(
        summary.skipped.iter().map(|s| s.row).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert!(summary.errors.is_empty());
}

async fn a_corrupt_file_is_refused_with_one_clear_error_and_nothing_written(h: Harness) {
    let corrupt = Bytes::from_static(b"PK\x03\x04 this is not really a workbook \x00\x01\x02");

    let (job, summary) = import(
        &h,
        ImportTemplate::Firms,
        ImportFormat::Xlsx,
        corrupt,
        false,
    )
    .await;

    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(summary.errors.len(), 1, "{:?}", summary.errors);
    assert_eq!(summary.errors[0].row, None);
    assert!(
        summary.errors[0]
            .message
            .contains("not a valid XLSX workbook"),
        "{}",
        summary.errors[0].message
    );
    assert_eq!(
        job.fail_reason.as_deref(),
        Some(summary.errors[0].message.as_str())
    );
    assert!(
        h.lookups(LookupTable::Firms).await.is_empty(),
        "nothing is written"
    );
}

async fn a_file_of_another_template_is_refused_with_one_clear_error_and_nothing_written(
    h: Harness,
) {
    let contacts = "Employee ID,First Name,Last Name,Email,Firm Accounting Reference,Search Code\nE1,Ann,Smith,,,\n";

    let (job, summary) = import_firms(&h, contacts, false).await;

    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(summary.errors.len(), 1);
    let message = &summary.errors[0].message;
    assert!(
        message.starts_with("the file does not match the firms template"),
        "{message}"
    );
    assert!(
        message.contains("Employee ID"),
        "the error shows what was found: {message}"
    );
    assert!(h.lookups(LookupTable::Firms).await.is_empty());
}

fn firms_with_one_bad_row() -> String {
    format!(
        "{FIRMS_HEADER}\n\
         C-1,One,Customer,,,,,,\n\
         C-2,Two,Customer,,,,,,\n\
         C-123456789012345678901,Too long,Customer,,,,,,\n\
         C-3,Three,Customer,,,,,,\n"
    )
}

async fn by_default_one_bad_row_means_nothing_is_imported(h: Harness) {
    let (job, summary) = import_firms(&h, &firms_with_one_bad_row(), false).await;

    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.fail_reason.as_deref(),
        Some("1 row(s) have errors; nothing was imported")
    );
    assert_eq!((summary.imported, summary.total), (0, 4));
    let error = error_at(&summary, 4, "Accounting Reference");
    assert_eq!(error.value.as_deref(), Some("C-123456789012345678901"));
    assert_eq!(
        error.message,
        "is 23 characters long; at most 20 are allowed"
    );
    assert!(
        h.lookups(LookupTable::Firms).await.is_empty(),
        "a failed import writes nothing"
    );
}

async fn a_partial_import_writes_the_valid_rows_and_reports_the_invalid_ones(h: Harness) {
    let (job, summary) = import_firms(&h, &firms_with_one_bad_row(), true).await;

    assert_eq!(job.status, JobStatus::Finished);
    assert_eq!((summary.imported, summary.total), (3, 4));
    assert_eq!(summary.imported_rows, [2, 3, 5]);
    assert_eq!(summary.errors.len(), 1);
    let mut keys: Vec<String> = h
        .lookups(LookupTable::Firms)
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["C-1", "C-2", "C-3"]);
}

async fn duplicate_references_and_missing_parents_are_reported_with_row_and_column(h: Harness) {
    let csv = format!(
        "{FIRMS_HEADER}\n\
         C-1,One,Customer,,SEARCHCODE-LONGER-THAN-18,,,,\n\
         C-2,Two,Customer,,,,not-an-email,,\n\
         C-1,One again,Customer,,,,,,\n\
         CL-9,Orphan,Client,NOPE,,,,,\n\
         CL-8,No parent,Client,,,,,,\n\
         S-1,Supplier,Supplier,C-2,,,,,\n\
         CL-7,Wrong parent,Client,S-0,,,,,\n"
    );
    h.seed_lookups(LookupTable::Firms, &[("S-0", &[("type", "Supplier")])])
        .await;

    let (job, summary) = import_firms(&h, &csv, false).await;

    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        error_at(&summary, 2, "Search Code").message,
        "is 25 characters long; at most 18 are allowed"
    );
    assert_eq!(
        error_at(&summary, 3, "Email").message,
        "must be an e-mail address"
    );
    let duplicate = error_at(&summary, 4, "Accounting Reference");
    assert!(
        duplicate.message.contains("also appears on row 2"),
        "{}",
        duplicate.message
    );
    let orphan = error_at(&summary, 5, "Parent Accounting Reference");
    assert_eq!(orphan.value.as_deref(), Some("NOPE"));
    assert!(
        orphan.message.contains("\"CL-9\"") && orphan.message.contains("\"NOPE\""),
        "names both: {}",
        orphan.message
    );
    assert!(
        error_at(&summary, 6, "Parent Accounting Reference")
            .message
            .starts_with("is required for a Client")
    );
    assert_eq!(
        error_at(&summary, 7, "Parent Accounting Reference").message,
        "only a Client has a Parent Accounting Reference"
    );
    assert!(
        error_at(&summary, 8, "Parent Accounting Reference")
            .message
            .contains("is not a Customer")
    );
    assert_eq!(summary.errors.len(), 7, "{:?}", summary.errors);
    assert_eq!(
        h.lookups(LookupTable::Firms).await.len(),
        1,
        "only the seeded row is there"
    );
}

async fn locations_link_to_existing_clients_and_a_missing_client_names_both_references(h: Harness) {
    import_firms(&h, &valid_firms(), false).await;
    let csv = "Location Reference,Client Accounting Reference,Address Line 1,Address Line 2,City,Postcode,Country\n\
               L-1,C-100a,Coolsingel 1,,Rotterdam,3011 AD,nl\n\
               L-2,C-999,Nowhere 1,,Delft,,NL\n";

    let (all_or_nothing, summary) = import(
        &h,
        ImportTemplate::Locations,
        ImportFormat::Csv,
        Bytes::from_static(csv.as_bytes()),
        false,
    )
    .await;
    let (partial, partial_summary) = import(
        &h,
        ImportTemplate::Locations,
        ImportFormat::Csv,
        Bytes::from_static(csv.as_bytes()),
        true,
    )
    .await;

    assert_eq!(all_or_nothing.status, JobStatus::Failed);
    let missing = error_at(&summary, 3, "Client Accounting Reference");
    assert!(
        missing.message.contains("\"L-2\"") && missing.message.contains("\"C-999\""),
        "{}",
        missing.message
    );
    assert_eq!(partial.status, JobStatus::Finished);
    assert_eq!(partial_summary.imported_rows, [2]);
    let location = h
        .lookups(LookupTable::Firms)
        .await
        .into_iter()
        .find(|e| e.key == "location/L-1")
        .unwrap();
    assert_eq!(
        location.columns.get("client").map(String::as_str),
        Some("C-100a")
    );
    assert_eq!(
        location.columns.get("country").map(String::as_str),
        Some("NL")
    );
}

async fn an_xlsx_template_filled_in_is_imported(h: Harness) {
    let template = ImportTemplate::Lookup(LookupTable::TaxCodes);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Data").unwrap();
    for (col, header) in template.headers().iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    sheet.write_string(1, 0, "21").unwrap();
    sheet.write_string(1, 1, "HIGH").unwrap();
    sheet.write_number(1, 2, 21).unwrap();
    sheet.write_string(2, 0, "9").unwrap();
    sheet.write_string(2, 1, "LOW").unwrap();
    sheet.write_string(2, 2, "9.0").unwrap();
    let body = Bytes::from(workbook.save_to_buffer().unwrap());

    let (job, summary) = import(&h, template, ImportFormat::Xlsx, body, false).await;

    assert_eq!(job.status, JobStatus::Finished, "{:?}", summary.errors);
    assert_eq!(summary.imported, 2);
    let rows = h.lookups(LookupTable::TaxCodes).await;
    let high = rows.iter().find(|e| e.key == "21").unwrap();
    assert_eq!(
        high.columns.get("vp_code").map(String::as_str),
        Some("HIGH")
    );
    assert_eq!(high.columns.get("rate").map(String::as_str), Some("21"));
}

/// Finding 3 of issue 12: a 6 kB workbook with values at A1 and XFD1048576 spans 1048576 × 16384 cells.
/// Read as one dense range it needs 512 GiB and the process aborts; it must be refused as a file error.
pub fn workbook_spanning_the_whole_sheet() -> Bytes {
    let template = ImportTemplate::Lookup(LookupTable::TaxCodes);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Data").unwrap();
    for (col, header) in template.headers().iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    sheet.write_string(1_048_575, 16_383, "boom").unwrap();
    Bytes::from(workbook.save_to_buffer().unwrap())
}

async fn a_sheet_of_absurd_dimensions_is_refused_before_it_is_read(h: Harness) {
    let body = workbook_spanning_the_whole_sheet();
    assert!(body.len() < 10_000, "{} bytes", body.len());

    let (job, summary) = import(
        &h,
        ImportTemplate::Lookup(LookupTable::TaxCodes),
        ImportFormat::Xlsx,
        body,
        false,
    )
    .await;
    let importer = Importer::new(h.ctx.clone());
    let again = ledgerlink_jobs::export::reset(&h.ctx, &h.tenant, &job.id, "jdoe")
        .await
        .unwrap();
    let rerun = importer.run(&h.tenant, &again.id).await.unwrap();

    assert_eq!(job.status, JobStatus::Failed);
    let reason = job.fail_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("A1:XFD1048576") && reason.contains("at most 100000 rows"),
        "{reason}"
    );
    assert_eq!(summary.errors.len(), 1, "{:?}", summary.errors);
    assert_eq!(summary.errors[0].row, None);
    assert_eq!(rerun.status, JobStatus::Failed, "Reset task runs it again");
    assert_eq!(rerun.fail_reason, job.fail_reason);
    assert!(h.lookups(LookupTable::TaxCodes).await.is_empty());
}

on_both_stores!(
    a_sheet_of_absurd_dimensions_is_refused_before_it_is_read,
    a_valid_firms_file_is_imported_whole_with_clients_linked_to_their_customer,
    importing_the_same_file_again_skips_every_unchanged_row,
    a_corrupt_file_is_refused_with_one_clear_error_and_nothing_written,
    a_file_of_another_template_is_refused_with_one_clear_error_and_nothing_written,
    by_default_one_bad_row_means_nothing_is_imported,
    a_partial_import_writes_the_valid_rows_and_reports_the_invalid_ones,
    duplicate_references_and_missing_parents_are_reported_with_row_and_column,
    locations_link_to_existing_clients_and_a_missing_client_names_both_references,
    an_xlsx_template_filled_in_is_imported,
);

#[test]
fn the_xlsx_template_has_instructions_and_a_data_sheet_with_the_exact_headers() {
    let bytes = ImportTemplate::Firms.file(ImportFormat::Xlsx).unwrap();

    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();

    assert_eq!(workbook.sheet_names(), ["Instructions", "Data"]);
    let data = workbook.worksheet_range("Data").unwrap();
    let headers: Vec<String> = data
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| match c {
            Data::String(s) => s.clone(),
            o => o.to_string(),
        })
        .collect();
    assert_eq!(headers.join(","), FIRMS_HEADER);
    let help = workbook.worksheet_range("Instructions").unwrap();
    let text: Vec<String> = help
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        text.iter().any(|t| t.contains("At most 20 characters")),
        "the instructions state the ClientID length"
    );
}

#[test]
fn the_csv_template_is_the_header_row() {
    let bytes = ImportTemplate::Contacts.file(ImportFormat::Csv).unwrap();

    assert_eq!(
        std::str::from_utf8(&bytes).unwrap(),
        "Employee ID,First Name,Last Name,Email,Firm Accounting Reference,Search Code\n"
    );
}

#[test]
fn every_template_name_parses_back_to_its_template() {
    for name in [
        "firms",
        "contacts",
        "locations",
        "lookup-tax-codes",
        "lookup-journal-codes",
    ] {
        assert_eq!(ImportTemplate::parse(name).unwrap().name(), name);
    }
    assert!(ImportTemplate::parse("invoices").is_err());
}

#[tokio::test]
async fn an_upload_through_the_presigned_link_is_imported_once_submitted() {
    let h = crate::helpers::aws().await;
    let importer = Importer::new(h.ctx.clone());
    let template = importer
        .template_url(&h.tenant, ImportTemplate::Firms, ImportFormat::Csv)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let template_body = http
        .get(&template.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (job, link) = importer
        .begin_upload(
            &h.tenant,
            &request(ImportTemplate::Firms, ImportFormat::Csv, false),
            "jdoe",
        )
        .await
        .unwrap();
    let early = importer.submit(&h.tenant, &job.id).await;

    let put = http
        .put(&link.url)
        .body(valid_firms())
        .send()
        .await
        .unwrap();
    importer.submit(&h.tenant, &job.id).await.unwrap();
    let done = importer.run(&h.tenant, &job.id).await.unwrap();

    assert_eq!(
        template_body,
        format!("{FIRMS_HEADER}\n"),
        "the template downloads through its link"
    );
    assert!(
        early.is_err(),
        "an import cannot be submitted before its file is uploaded"
    );
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(link.method, "PUT");
    assert_eq!(done.status, JobStatus::Finished);
    assert_eq!(h.lookups(LookupTable::Firms).await.len(), 4);
}

/// Finding 3 of issue 12 on S3: a presigned PUT cannot cap the size, so submit checks it with a HEAD
/// (and removes the file), and the worker reads at most the limit, whatever was uploaded after.
#[tokio::test]
async fn an_oversized_upload_through_the_presigned_link_is_refused_without_being_read() {
    let mut h = crate::helpers::aws().await;
    h.ctx = h.ctx.clone().with_settings(ledgerlink_jobs::JobSettings {
        max_import_bytes: 1000,
        ..crate::helpers::settings()
    });
    let importer = Importer::new(h.ctx.clone());
    let http = reqwest::Client::new();
    let firms = request(ImportTemplate::Firms, ImportFormat::Csv, false);
    let big = format!(
        "{FIRMS_HEADER}
{}",
        "C-1,Acme,Customer,,,,,,\n".repeat(100)
    );

    let (oversized, link) = importer
        .begin_upload(&h.tenant, &firms, "jdoe")
        .await
        .unwrap();
    let put = http.put(&link.url).body(big.clone()).send().await.unwrap();
    let refused = importer.submit(&h.tenant, &oversized.id).await;
    let key = oversized.file_key.clone().unwrap();
    let kept = h.ctx.storage.exists(&h.tenant, &key).await.unwrap();

    // Accepted small, then replaced by a large file through the same link before the worker runs.
    let (swapped, link) = importer
        .begin_upload(&h.tenant, &firms, "jdoe")
        .await
        .unwrap();
    http.put(&link.url)
        .body(valid_firms())
        .send()
        .await
        .unwrap();
    importer.submit(&h.tenant, &swapped.id).await.unwrap();
    http.put(&link.url).body(big).send().await.unwrap();
    let done = importer.run(&h.tenant, &swapped.id).await.unwrap();

    assert!(put.status().is_success(), "{}", put.status());
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("at most 1000 bytes"), "{message}");
    assert!(!kept, "an oversized upload is removed when refused");
    assert_eq!(done.status, JobStatus::Failed);
    let reason = done.fail_reason.unwrap_or_default();
    assert!(reason.contains("at most 1000 bytes"), "{reason}");
    assert!(h.lookups(LookupTable::Firms).await.is_empty());
}

/// A workbook that unpacks to far more than it weighs (the zip-bomb shape: calamine would load every
/// shared string whole) is refused as a file error before it is parsed. The limit is lowered for the test;
/// the code path is the production one.
#[tokio::test]
async fn a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_parsed() {
    let mut h = crate::helpers::embedded().await;
    h.ctx = h.ctx.clone().with_settings(ledgerlink_jobs::JobSettings {
        max_xlsx_inflated_bytes: 1024 * 1024,
        ..crate::helpers::settings()
    });
    let template = ImportTemplate::Lookup(LookupTable::TaxCodes);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Data").unwrap();
    for (col, header) in template.headers().iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    for row in 1..=300_u32 {
        sheet.write_string(row, 0, format!("K{row}")).unwrap();
        sheet
            .write_string(row, 1, format!("{row}{}", "x".repeat(8 * 1024)))
            .unwrap();
    }
    let body = Bytes::from(workbook.save_to_buffer().unwrap());
    assert!(body.len() < 256 * 1024, "{} bytes", body.len());

    let (job, summary) = import(&h, template, ImportFormat::Xlsx, body, false).await;

    assert_eq!(job.status, JobStatus::Failed);
    let reason = job.fail_reason.unwrap_or_default();
    assert!(
        reason.contains("unpacks to more than 1048576 bytes"),
        "{reason}"
    );
    assert_eq!(summary.errors.len(), 1);
    assert!(h.lookups(LookupTable::TaxCodes).await.is_empty());
}
