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
    max_inflated: u64,
) -> Result<Vec<FileRow>, FileProblem> {
    let (headers, mut rows) = match format {
        ImportFormat::Csv => read_csv(bytes)?,
        ImportFormat::Xlsx => {
            check_inflated_size(bytes, max_inflated)?;
            read_xlsx(bytes)?
        }
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

/// The most entries an XLSX zip may have (a workbook made by a spreadsheet program has a dozen or two).
const MAX_XLSX_ENTRIES: usize = 1000;

/// Inflates every entry of the XLSX zip into nothing, counting, and refuses the file when the total passes
/// `max_inflated`: the sizes a zip declares may lie, the inflated bytes do not. Memory stays at one copy
/// buffer. calamine loads the shared strings whole, so without this a few MB of zip could become GBs.
fn check_inflated_size(bytes: &[u8], max_inflated: u64) -> Result<(), FileProblem> {
    let corrupt = |e: &dyn std::fmt::Display| {
        FileProblem::Corrupt(format!("the file is not a valid XLSX workbook: {e}"))
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
    if zip.len() > MAX_XLSX_ENTRIES {
        return Err(FileProblem::Corrupt(format!(
            "the workbook has {} parts; a workbook may have at most {MAX_XLSX_ENTRIES}",
            zip.len()
        )));
    }
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(|e| corrupt(&e))?;
        let left = max_inflated.saturating_sub(total);
        let mut limited = std::io::Read::take(entry, left.saturating_add(1));
        let inflated =
            std::io::copy(&mut limited, &mut std::io::sink()).map_err(|e| corrupt(&e))?;
        total = total.saturating_add(inflated);
        if total > max_inflated {
            return Err(FileProblem::Corrupt(format!(
                "the workbook unpacks to more than {max_inflated} bytes; an import workbook may unpack to at \
                 most that (save it again without unused sheets, images or formatting)"
            )));
        }
    }
    Ok(())
}

/// The most rows (header included) the Data sheet of an import may span.
pub(crate) const MAX_XLSX_ROWS: u32 = 100_000;
/// The most columns the Data sheet of an import may span (the widest template has far fewer).
pub(crate) const MAX_XLSX_COLUMNS: u32 = 64;

/// `A`, `Z`, `AA`, ... `XFD` for a 0-based column index.
fn column_name(mut col: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + u8::try_from(col % 26).unwrap_or(0));
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

fn cell_name(row: u32, col: u32) -> String {
    format!("{}{}", column_name(col), u64::from(row) + 1)
}

fn too_large(what: &str) -> FileProblem {
    FileProblem::Corrupt(format!(
        "the {DATA_SHEET} sheet {what}; an import may span at most {MAX_XLSX_ROWS} rows and \
         {MAX_XLSX_COLUMNS} columns (A1:{}) — delete the cells outside the records and upload again",
        cell_name(MAX_XLSX_ROWS - 1, MAX_XLSX_COLUMNS - 1)
    ))
}

/// Reads the Data sheet cell by cell (calamine's streaming cell reader), never as one dense range: the
/// sheet's declared dimension (`<dimension ref>`) is checked first and every cell's position as it is
/// read, so a sheet spanning A1:XFD1048576 is refused before anything is allocated for it (a dense range
/// of that sheet needs 512 GiB). Memory stays proportional to the cells actually present.
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
    let unreadable = |e: calamine::XlsxError| {
        FileProblem::Corrupt(format!("the {DATA_SHEET} sheet cannot be read: {e}"))
    };
    let mut cells = workbook
        .worksheet_cells_reader(DATA_SHEET)
        .map_err(unreadable)?;
    let declared = cells.dimensions();
    if declared.end.0 >= MAX_XLSX_ROWS || declared.end.1 >= MAX_XLSX_COLUMNS {
        return Err(too_large(&format!(
            "declares the cells {}:{} in use",
            cell_name(declared.start.0, declared.start.1),
            cell_name(declared.end.0, declared.end.1)
        )));
    }
    // Row index -> its cells (column, text), in file order; rows without cells hold nothing.
    let mut sparse: std::collections::BTreeMap<u32, Vec<(u32, String)>> =
        std::collections::BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let value: Data = cell.get_value().clone().into();
        if value == Data::Empty {
            continue;
        }
        if row >= MAX_XLSX_ROWS || col >= MAX_XLSX_COLUMNS {
            return Err(too_large(&format!(
                "has a value in cell {}",
                cell_name(row, col)
            )));
        }
        let text = match cell_text(&value) {
            Ok(t) => t.trim().to_owned(),
            Err(e) => format!("#ERROR: {e}"),
        };
        sparse.entry(row).or_default().push((col, text));
    }
    let dense = |cells: Vec<(u32, String)>| -> Vec<String> {
        let width = cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut out = vec![String::new(); width];
        for (col, text) in cells {
            out[col as usize] = text;
        }
        out
    };
    let Some(headers) = sparse.remove(&0) else {
        return Err(FileProblem::WrongTemplate(
            "the Data sheet has no header row on row 1".into(),
        ));
    };
    let headers = dense(headers);
    let last = sparse.keys().next_back().copied().unwrap_or(0);
    let mut rows = Vec::with_capacity(last as usize);
    for row in 1..=last {
        rows.push(FileRow {
            number: u64::from(row) + 1,
            cells: sparse.remove(&row).map(dense).unwrap_or_default(),
        });
    }
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
            1 << 20,
        )
        .unwrap();

        let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 4]);
        assert_eq!(rows[2].cells, ["B", "second"]);
    }

    #[test]
    fn a_file_that_is_not_text_is_a_corrupt_csv() {
        let bytes = [0xff, 0xfe, 0x00, 0x41, 0x2c, 0x0a, 0xc3, 0x28];

        let problem = read(&bytes, ImportFormat::Csv, ImportTemplate::Firms, 1 << 20).unwrap_err();

        assert!(
            matches!(problem, FileProblem::Corrupt(ref m) if m.contains("not a valid CSV")),
            "{problem:?}"
        );
    }
}
