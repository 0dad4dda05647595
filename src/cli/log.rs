//! `pactum verify | export | import`: the log as a whole, for auditors, backups
//! and moving a store. The work is in [`crate::store::verify`] and
//! [`crate::store::transfer`]; this is the terminal side (progress, messages,
//! exit codes).
//!
//! None of them goes through `App::open`: that seeds the shipped catalogue into
//! an empty store, and these commands must read a log as it is (or, for import,
//! find it empty).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::StorageArgs;
use crate::agreements::verify::DocumentCheck;
use crate::documents::Renderer;
use crate::store::EventStore;
use crate::store::transfer::{self, ImportError};
use crate::store::verify;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON lines as written by `pactum export`; `-` reads standard input.
    file: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Exit code of `verify` when the log does not verify.
const NOT_VERIFIED: u8 = 1;
/// Exit code of `import` when it refuses its input or a non-empty store (as
/// `import-legacy` does for bad input); other failures exit 1.
const IMPORT_REFUSED: u8 = 2;

pub async fn verify(storage: StorageArgs) -> Result<ExitCode, String> {
    let store = storage.open_existing_log().await?;
    let renderer =
        Renderer::new().map_err(|e| format!("cannot load the document templates: {e}"))?;
    let mut documents = DocumentCheck::new(store.clone(), renderer);
    let report = verify::verify_with(&store, &mut [&mut documents]).await;
    store.close().await;
    let report = report.map_err(|e| format!("cannot read the log: {e}"))?;
    if report.is_intact() {
        println!(
            "verified {} events in {} aggregates: every chain intact, {} documents render to their recorded hashes",
            report.events, report.aggregates, documents.matched
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut findings = report.findings.iter();
    if let Some(first) = findings.next() {
        eprintln!("first problem: {first}");
    }
    for other in findings {
        eprintln!("also broken: {other}");
    }
    let unlisted = report.total_findings - report.findings.len() as u64;
    if unlisted > 0 {
        eprintln!("... and {unlisted} more");
    }
    eprintln!(
        "the log does not verify: {} problem(s) in {} events of {} aggregates",
        report.total_findings, report.events, report.aggregates
    );
    Ok(ExitCode::from(NOT_VERIFIED))
}

pub async fn export(storage: StorageArgs) -> Result<ExitCode, String> {
    let store = storage.open_existing_log().await?;
    let bar = progress_bar(
        Some(store.head()),
        "{spinner} exporting [{bar:30}] position {pos}/{len}, {per_sec}, eta {eta}",
    );
    let stdout = io::stdout().lock();
    let result = transfer::export(&store, BufWriter::new(stdout), |p| bar.set_position(p)).await;
    bar.finish_and_clear();
    store.close().await;
    let written = result.map_err(|e| e.to_string())?;
    eprintln!("exported {written} events");
    Ok(ExitCode::SUCCESS)
}

pub async fn import(args: ImportArgs) -> Result<ExitCode, String> {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "standard input".to_owned()
    } else {
        args.file.display().to_string()
    };
    let (source, size) = if from_stdin {
        // Standard input can be read once: the first pass copies it to an
        // anonymous temporary file (gone once closed) for the second pass.
        let spool =
            tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))?;
        let tee = Tee {
            input: io::stdin(),
            copy: BufWriter::new(spool),
        };
        (Source::Stdin(tee), None)
    } else {
        let file = File::open(&args.file).map_err(|e| format!("cannot read {name}: {e}"))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Source::File(file), size)
    };

    let store = args.storage.open_log().await?;
    let result = import_into(&store, source, size).await;
    let result = match result {
        // A restored store serves at once: its read models are built from the
        // imported log, identical to the original's.
        Ok(events) => build_read_models(&store).await.map(|()| events),
        Err(error) => Err(error),
    };
    store.close().await;
    match result {
        Ok(events) => {
            eprintln!("imported {events} events");
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ (ImportError::NotEmpty { .. } | ImportError::Line { .. })) => {
            eprintln!("error: {name}: {error}");
            eprintln!("nothing was imported");
            Ok(ExitCode::from(IMPORT_REFUSED))
        }
        Err(error) => Err(format!("{name}: {error}")),
    }
}

/// Builds every read model from the freshly imported log.
async fn build_read_models(store: &EventStore) -> Result<(), ImportError> {
    let projections = crate::projector::all();
    let rebuilt =
        crate::projector::rebuild_all(&projections, store, &crate::clock::SystemClock, &|_, _| {})
            .await;
    for (projection, result) in projections.iter().zip(rebuilt) {
        result.map_err(|e| ImportError::ReadModels(format!("{}: {e}", projection.name())))?;
    }
    Ok(())
}

/// Checks all of `source`, then stores it: two passes, so that a bad line
/// anywhere stores nothing.
async fn import_into(
    store: &EventStore,
    source: Source,
    size: Option<u64>,
) -> Result<u64, ImportError> {
    if !store.is_empty().await? {
        return Err(ImportError::NotEmpty { head: store.head() });
    }

    let bar = progress_bar(
        size,
        "{spinner} checking [{bar:30}] {bytes}/{total_bytes}, eta {eta}",
    );
    let checker = store.clone();
    let progress = bar.clone();
    let (source, validated) = tokio::task::spawn_blocking(move || {
        let mut input = BufReader::new(source);
        let validated = transfer::validate(&checker, &mut input, |b| progress.set_position(b));
        (input.into_inner(), validated)
    })
    .await
    .expect("the validation pass does not panic");
    bar.finish_and_clear();
    let events = validated?;

    let mut second = match source {
        Source::File(file) => file,
        Source::Stdin(tee) => tee
            .copy
            .into_inner()
            .map_err(|e| ImportError::Read(e.into_error()))?,
    };
    second.rewind().map_err(ImportError::Read)?;
    let bar = progress_bar(
        Some(events),
        "{spinner} importing [{bar:30}] {pos}/{len} events, {per_sec}, eta {eta}",
    );
    let result = transfer::insert(store, BufReader::new(second), events, |n| {
        bar.set_position(n)
    })
    .await;
    bar.finish_and_clear();
    result
}

/// What `import` reads: a file, or standard input copied to a spool file.
enum Source {
    File(File),
    Stdin(Tee<io::Stdin, BufWriter<File>>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::File(file) => file.read(buf),
            Self::Stdin(tee) => tee.read(buf),
        }
    }
}

/// A reader that copies what it reads to `copy`.
struct Tee<R, W> {
    input: R,
    copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        self.copy.write_all(&buf[..read])?;
        Ok(read)
    }
}

/// A progress bar on standard error, drawn only when that is a terminal; a
/// spinner when the length is unknown.
fn progress_bar(len: Option<u64>, template: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} checking {bytes}, {bytes_per_sec}")
                .expect("a valid template"),
        ),
    }
}
