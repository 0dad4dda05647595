//! poppler's command-line tools (`pdftotext`, `pdfinfo`, `pdftoppm`, …) run on a
//! rendered PDF, for the tests that read what a document prints.
//!
//! poppler-utils is installed by `scripts/test`; where a tool is missing, [`run`]
//! says so on stderr and answers `None`, and the test checks only what it can.

use std::process::Command;

/// What a tool printed, and the directory it ran in (holding `document.pdf` and
/// whatever files the tool wrote, e.g. `pdftoppm`'s pages), removed when dropped.
pub(crate) struct Ran {
    pub stdout: Vec<u8>,
    pub dir: tempfile::TempDir,
}

/// Runs `tool ARGS <dir>/document.pdf AFTER` in a temporary directory.
pub(crate) fn run(tool: &str, pdf: &[u8], args: &[&str], after: &[&str]) -> Option<Ran> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, pdf).expect("write the PDF");
    let output = match Command::new(tool)
        .current_dir(dir.path())
        .args(args)
        .arg(&path)
        .args(after)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: {tool} is not installed (apt-get install poppler-utils)");
            return None;
        }
        Err(error) => panic!("{tool}: {error}"),
    };
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(Ran {
        stdout: output.stdout,
        dir,
    })
}
