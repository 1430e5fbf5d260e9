//! Reading an uploaded import file into header + rows of text, refusing a corrupt file or the wrong
//! template as a whole (one clear error, nothing else checked).

use calamine::{Data, Reader};

use super::template::{DATA_SHEET, ImportFormat, ImportTemplate};

/// A data row: its number in the file (the header is row 1) and its cells as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileRow {
    pub number: u64,
    pub cells: Vec<String>,
}

/// Why a file was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileProblem {
    Corrupt(String),
    WrongTemplate(String),
}

impl FileProblem {
    pub fn message(&self) -> &str {
        match self {
            Self::Corrupt(m) | Self::WrongTemplate(m) => m,
        }
    }
}

fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) => dt.format("%Y-%m-%d").to_string(),
            None => d.to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("the cell holds a spreadsheet error ({e:?})")),
    })
}

/// The rows of `bytes`, after checking it is a readable file of `format` with exactly the template's
/// headers. Cells are trimmed. Cell errors (`#N/A`) become the cell text `#ERROR: ...` for validation
/// to report with the row.
pub(crate) fn read(
    bytes: &[u8],
    format: ImportFormat,
    template: ImportTemplate,
) -> Result<Vec<FileRow>, FileProblem> {
    let (headers, mut rows) = match format {
        ImportFormat::Csv => read_csv(bytes)?,
        ImportFormat::Xlsx => read_xlsx(bytes)?,
    };
    // Blank rows after the last record (a sheet's used range, trailing line breaks) are not records.
    while rows
        .last()
        .is_some_and(|r| r.cells.iter().all(|c| c.is_empty()))
    {
        rows.pop();
    }
    let expected = template.headers();
    let found: Vec<&str> = headers.iter().map(|h| h.trim()).collect();
    // Trailing empty header cells (a sheet's used range) are not columns.
    let found: Vec<&str> = {
        let mut f = found;
        while f.last().is_some_and(|h| h.is_empty()) {
            f.pop();
        }
        f
    };
    if found != expected {
        return Err(FileProblem::WrongTemplate(format!(
            "the file does not match the {} template: expected the headers [{}] but found [{}]; download the \
             template again and do not move, rename, add or remove columns",
            template.name(),
            expected.join(", "),
            found.join(", ")
        )));
    }
    Ok(rows)
}

fn read_csv(bytes: &[u8]) -> Result<(Vec<String>, Vec<FileRow>), FileProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let corrupt =
        |e: csv::Error| FileProblem::Corrupt(format!("the file is not a valid CSV file: {e}"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(record) => record.map_err(corrupt)?.iter().map(str::to_owned).collect(),
        None => return Err(FileProblem::Corrupt("the file is empty".into())),
    };
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let record = record.map_err(corrupt)?;
        rows.push(FileRow {
            number: u64::try_from(i).unwrap_or(u64::MAX).saturating_add(2),
            cells: record.iter().map(|c| c.trim().to_owned()).collect(),
        });
    }
    Ok((headers, rows))
}

fn read_xlsx(bytes: &[u8]) -> Result<(Vec<String>, Vec<FileRow>), FileProblem> {
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
            FileProblem::Corrupt(format!("the file is not a valid XLSX workbook: {e}"))
        })?;
    if !workbook.sheet_names().iter().any(|n| n == DATA_SHEET) {
        return Err(FileProblem::WrongTemplate(format!(
            "the workbook has no sheet named {DATA_SHEET:?} (found: {}); use the downloaded template",
            workbook.sheet_names().join(", ")
        )));
    }
    let range = workbook
        .worksheet_range(DATA_SHEET)
        .map_err(|e| FileProblem::Corrupt(format!("the {DATA_SHEET} sheet cannot be read: {e}")))?;
    let start_row = u64::from(range.start().map(|(r, _)| r).unwrap_or(0));
    let start_col = range.start().map(|(_, c)| c).unwrap_or(0) as usize;
    let mut rows_iter = range.rows();
    let text = |row: &[Data]| -> Vec<String> {
        let mut cells: Vec<String> = std::iter::repeat_n(String::new(), start_col).collect();
        cells.extend(row.iter().map(|c| match cell_text(c) {
            Ok(t) => t.trim().to_owned(),
            Err(e) => format!("#ERROR: {e}"),
        }));
        cells
    };
    let headers = match (start_row, rows_iter.next()) {
        (0, Some(first)) => text(first),
        _ => {
            return Err(FileProblem::WrongTemplate(
                "the Data sheet has no header row on row 1".into(),
            ));
        }
    };
    let rows = rows_iter
        .enumerate()
        .map(|(i, row)| FileRow {
            number: u64::try_from(i).unwrap_or(u64::MAX).saturating_add(2),
            cells: text(row),
        })
        .collect();
    Ok((headers, rows))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ledgerlink_ports::LookupTable;

    #[test]
    fn blank_rows_after_the_last_record_are_not_records_but_blank_rows_between_records_are() {
        let csv = b"Key,description\nA,first\n,\nB,second\n,\n , \n";

        let rows = read(
            csv,
            ImportFormat::Csv,
            ImportTemplate::Lookup(LookupTable::JournalCodes),
        )
        .unwrap();

        let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 4]);
        assert_eq!(rows[2].cells, ["B", "second"]);
    }

    #[test]
    fn a_file_that_is_not_text_is_a_corrupt_csv() {
        let bytes = [0xff, 0xfe, 0x00, 0x41, 0x2c, 0x0a, 0xc3, 0x28];

        let problem = read(&bytes, ImportFormat::Csv, ImportTemplate::Firms).unwrap_err();

        assert!(
            matches!(problem, FileProblem::Corrupt(ref m) if m.contains("not a valid CSV")),
            "{problem:?}"
        );
    }
}
