//! Writing an export file to storage in constant memory.
//!
//! - CSV rows go into a buffer that is handed to the [`UploadSink`] whenever it reaches the chunk size (the
//!   S3 sink turns chunks into multipart parts), so memory is one chunk whatever the row count.
//! - XLSX is written by `rust_xlsxwriter` in constant-memory mode on a blocking thread (rows arrive through
//!   a small bounded channel), saved to a temporary file, and that file is streamed up in chunks.
//!
//! Chunks go to the sink through a background task and a small bounded channel ([`UPLOADS_IN_FLIGHT`]
//! chunks), so rows keep being produced while a part uploads, and memory stays bounded.
//!
//! Cells are written as text: references such as `00123` must keep their leading zeros.
//!
//! CSV cells are neutralised against formula injection (the OWASP rule): a text cell that starts with `=`,
//! `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet opening the file shows the
//! text instead of evaluating it. Real numbers (`-12.50`, `+3`, `1e5`) are kept as they are. XLSX cells are
//! typed strings, which spreadsheets never evaluate.

use bytes::Bytes;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{ExportStorage, StoredObject, UploadSink};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::definitions::ExportFormat;
use crate::{JobError, JobResult};

/// Rows sent to the XLSX thread at a time, and batches in flight (bounds memory).
const XLSX_BATCH: usize = 1000;
const XLSX_IN_FLIGHT: usize = 4;
/// Rows an XLSX worksheet holds, header included.
pub const XLSX_MAX_ROWS: u64 = 1_048_576;
/// Name of the data sheet of exports.
const SHEET: &str = "Export";

/// Chunks queued for the upload task.
const UPLOADS_IN_FLIGHT: usize = 4;

type Batch = Vec<Vec<String>>;

/// What the upload task is told.
enum Upload {
    Chunk(Bytes),
    Finish,
}

/// The sink, owned by a task that writes chunks as they come: on `Finish` it completes the upload; when the
/// channel closes without it (an abort, an error, a dropped writer) it aborts the upload.
#[derive(Debug)]
struct Uploader {
    tx: mpsc::Sender<Upload>,
    /// `None` once its result was taken (a finished task must not be awaited twice).
    task: Option<tokio::task::JoinHandle<JobResult<Option<StoredObject>>>>,
}

impl Uploader {
    fn spawn(mut sink: Box<dyn UploadSink>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Upload>(UPLOADS_IN_FLIGHT);
        let task = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                match message {
                    Upload::Chunk(chunk) => {
                        if let Err(e) = sink.write(chunk).await {
                            if let Err(abort) = sink.abort().await {
                                tracing::warn!(error = %abort, "aborting a failed upload failed");
                            }
                            return Err(e.into());
                        }
                    }
                    Upload::Finish => return Ok(Some(sink.finish().await?)),
                }
            }
            sink.abort().await?;
            Ok(None)
        });
        Self {
            tx,
            task: Some(task),
        }
    }

    /// The task's result (once).
    async fn result(&mut self) -> JobResult<Option<StoredObject>> {
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| JobError::file("the upload task stopped", e))?,
            None => Err(JobError::File {
                message: "the upload already ended".into(),
                source: None,
            }),
        }
    }

    /// Queues a chunk; when the task stopped (an upload error), returns that error.
    async fn write(&mut self, chunk: Bytes) -> JobResult<()> {
        if self.tx.send(Upload::Chunk(chunk)).await.is_err() {
            return Err(match self.result().await {
                Err(e) => e,
                Ok(_) => JobError::File {
                    message: "the upload ended early".into(),
                    source: None,
                },
            });
        }
        Ok(())
    }

    async fn finish(mut self) -> JobResult<StoredObject> {
        // A closed channel means the task already ended; its result says why.
        let _sent = self.tx.send(Upload::Finish).await;
        match self.result().await? {
            Some(stored) => Ok(stored),
            None => Err(JobError::File {
                message: "the upload was aborted".into(),
                source: None,
            }),
        }
    }

    async fn abort(mut self) -> JobResult<()> {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        if self.task.is_none() {
            return Ok(());
        }
        self.result().await.map(|_| ())
    }
}

#[derive(Debug)]
enum Inner {
    Csv {
        writer: csv::Writer<Vec<u8>>,
    },
    Xlsx {
        tx: Option<mpsc::Sender<Batch>>,
        batch: Batch,
        thread: tokio::task::JoinHandle<JobResult<()>>,
        /// Holds the temporary folder (deleted on drop) and the workbook's path in it.
        dir: tempfile::TempDir,
        rows: u64,
    },
}

/// An export file being written to storage.
#[derive(Debug)]
pub struct FileWriter {
    inner: Inner,
    sink: Uploader,
    chunk: usize,
}

fn xlsx_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("export.xlsx")
}

fn xlsx_thread(
    path: std::path::PathBuf,
    headers: Vec<String>,
    mut rx: mpsc::Receiver<Batch>,
) -> JobResult<()> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| JobError::file("XLSX writing failed", e);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = workbook.add_worksheet_with_constant_memory();
    sheet.set_name(SHEET).map_err(xlsx)?;
    for (col, header) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, col_index(col)?, header, &bold)
            .map_err(xlsx)?;
    }
    let mut row: u32 = 1;
    while let Some(batch) = rx.blocking_recv() {
        for values in batch {
            for (col, value) in values.iter().enumerate() {
                if !value.is_empty() {
                    sheet
                        .write_string(row, col_index(col)?, value)
                        .map_err(xlsx)?;
                }
            }
            row = row.saturating_add(1);
        }
    }
    workbook.save(&path).map_err(xlsx)
}

fn col_index(col: usize) -> JobResult<u16> {
    u16::try_from(col).map_err(|_| JobError::invalid("columns", "too many columns for XLSX"))
}

impl FileWriter {
    /// Starts the upload of `key` and writes the header row.
    pub async fn begin(
        storage: &dyn ExportStorage,
        tenant: &TenantId,
        key: &str,
        format: ExportFormat,
        headers: &[String],
        chunk: usize,
    ) -> JobResult<Self> {
        let sink = storage
            .begin_upload(tenant, key, format.content_type())
            .await?;
        let inner = match format {
            ExportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new().from_writer(Vec::with_capacity(chunk));
                let cells: Vec<_> = headers.iter().map(|h| neutralise_csv_cell(h)).collect();
                writer
                    .write_record(cells.iter().map(|c| c.as_bytes()))
                    .map_err(|e| JobError::file("CSV writing failed", e))?;
                Inner::Csv { writer }
            }
            ExportFormat::Xlsx => {
                let dir = tempfile::tempdir()
                    .map_err(|e| JobError::file("no temporary folder for the XLSX file", e))?;
                let (tx, rx) = mpsc::channel(XLSX_IN_FLIGHT);
                let path = xlsx_path(&dir);
                let headers = headers.to_vec();
                let thread = tokio::task::spawn_blocking(move || xlsx_thread(path, headers, rx));
                Inner::Xlsx {
                    tx: Some(tx),
                    batch: Vec::with_capacity(XLSX_BATCH),
                    thread,
                    dir,
                    rows: 1,
                }
            }
        };
        Ok(Self {
            inner,
            sink: Uploader::spawn(sink),
            chunk,
        })
    }

    /// Appends one row (cells in column order). CSV cells go straight into the buffer (no copy of the row).
    pub async fn write_row<'a>(
        &mut self,
        cells: impl IntoIterator<Item = &'a str>,
    ) -> JobResult<()> {
        match &mut self.inner {
            Inner::Csv { writer } => {
                let csv_error = |e| JobError::file("CSV writing failed", e);
                for cell in cells {
                    writer
                        .write_field(neutralise_csv_cell(cell).as_bytes())
                        .map_err(csv_error)?;
                }
                // An empty record ends the row whose fields were just written.
                writer.write_record(None::<&[u8]>).map_err(csv_error)?;
                if writer.get_ref().len() >= self.chunk {
                    let chunk = take_csv(writer, self.chunk)?;
                    self.sink.write(chunk).await?;
                }
            }
            Inner::Xlsx {
                tx, batch, rows, ..
            } => {
                *rows += 1;
                if *rows > XLSX_MAX_ROWS {
                    return Err(JobError::invalid(
                        "format",
                        "an XLSX sheet holds at most 1,048,575 rows: export this data as CSV",
                    ));
                }
                batch.push(cells.into_iter().map(str::to_owned).collect());
                if batch.len() >= XLSX_BATCH {
                    let full = std::mem::replace(batch, Vec::with_capacity(XLSX_BATCH));
                    send(tx, full).await?;
                }
            }
        }
        Ok(())
    }

    /// Completes the file and the upload; the object becomes visible now.
    pub async fn finish(mut self) -> JobResult<StoredObject> {
        let result = self.complete().await;
        match result {
            Ok(()) => self.sink.finish().await,
            Err(e) => {
                if let Err(abort) = self.sink.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed upload failed");
                }
                Err(e)
            }
        }
    }

    async fn complete(&mut self) -> JobResult<()> {
        match &mut self.inner {
            Inner::Csv { writer } => {
                let rest = take_csv(writer, 0)?;
                if !rest.is_empty() {
                    self.sink.write(rest).await?;
                }
                Ok(())
            }
            Inner::Xlsx {
                tx,
                batch,
                thread,
                dir,
                ..
            } => {
                if !batch.is_empty() {
                    send(tx, std::mem::take(batch)).await?;
                }
                tx.take();
                thread
                    .await
                    .map_err(|e| JobError::file("the XLSX writer stopped", e))??;
                let mut file = tokio::fs::File::open(xlsx_path(dir))
                    .await
                    .map_err(|e| JobError::file("the XLSX file cannot be read", e))?;
                loop {
                    let mut buf = vec![0u8; self.chunk];
                    let mut filled = 0;
                    while filled < buf.len() {
                        let n = file
                            .read(&mut buf[filled..])
                            .await
                            .map_err(|e| JobError::file("the XLSX file cannot be read", e))?;
                        if n == 0 {
                            break;
                        }
                        filled += n;
                    }
                    if filled == 0 {
                        return Ok(());
                    }
                    buf.truncate(filled);
                    self.sink.write(Bytes::from(buf)).await?;
                }
            }
        }
    }

    /// Abandons the file and the upload: nothing becomes visible.
    pub async fn abort(mut self) -> JobResult<()> {
        if let Inner::Xlsx { tx, thread, .. } = &mut self.inner {
            tx.take();
            // The thread ends when the channel closes; its result no longer matters.
            let _ended = thread.await;
        }
        self.sink.abort().await
    }
}

async fn send(tx: &mut Option<mpsc::Sender<Batch>>, batch: Batch) -> JobResult<()> {
    match tx {
        Some(sender) => sender.send(batch).await.map_err(|_| JobError::File {
            message: "the XLSX writer stopped early".into(),
            source: None,
        }),
        None => Err(JobError::File {
            message: "the XLSX file is already complete".into(),
            source: None,
        }),
    }
}

/// Takes what the writer holds so far, leaving a fresh writer with an empty buffer of `capacity`.
/// A CSV cell a spreadsheet will not evaluate (see the module doc).
pub fn neutralise_csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    let dangerous = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if dangerous && !is_plain_number(value) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// `[+-]digits[.digits][e[+-]digits]`: a number a spreadsheet reads as a number, nothing else.
fn is_plain_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

fn take_csv(writer: &mut csv::Writer<Vec<u8>>, capacity: usize) -> JobResult<Bytes> {
    let fresh = csv::WriterBuilder::new().from_writer(Vec::with_capacity(capacity));
    let full = std::mem::replace(writer, fresh)
        .into_inner()
        .map_err(|e| JobError::file("CSV writing failed", e.into_error()))?;
    Ok(Bytes::from(full))
}

#[cfg(test)]
mod csv_injection_tests {
    use super::neutralise_csv_cell;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for (input, expected) in [
            (
                "=HYPERLINK(\"http://x\",\"click\")",
                "'=HYPERLINK(\"http://x\",\"click\")",
            ),
            ("+1+cmd|'/C calc'!A0", "'+1+cmd|'/C calc'!A0"),
            ("@SUM(1+1)*cmd", "'@SUM(1+1)*cmd"),
            ("-2+3", "'-2+3"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-12.50", "-12.50"),
            ("+3", "+3"),
            ("-1e5", "-1e5"),
            ("00123", "00123"),
            ("Revenue", "Revenue"),
            ("", ""),
            ("-", "'-"),
        ] {
            assert_eq!(neutralise_csv_cell(input), expected, "{input:?}");
        }
    }
}
