//! Rendering benchmark: SLA PDFs per second from the typst templates, warm and cold.
//!
//! - warm, same data: one `Renderer`, the same agreement again and again (what
//!   `pactum verify` does when it re-renders an unchanged document);
//! - warm, new data: one `Renderer`, every document a different customer,
//!   reference and resources (what issuing agreements does);
//! - cold: typst's caches cleared and a fresh `Renderer` (fonts, templates) each
//!   time: the first document of a process.
//!
//! Prints p50 / p99 / mean milliseconds and bytes per document. With
//! `--weasyprint` it also runs `benches/render_weasyprint.py` (WeasyPrint on an
//! equivalent HTML agreement, the same data) in the same run: Python from
//! `PACTUM_BENCH_PYTHON` (default `python3`) with `pip install weasyprint`.
//!
//! With `--compare V` the warm new-data run is repeated with version V of the
//! SLA template (an older one, from `sla-templates/manifest.toml`), alternating
//! with the current one document by document, so both see the same machine.
//!
//! Run: `cargo bench --bench render [-- --warm N --cold N --weasyprint --compare V]`.

use std::process::Command;
use std::time::{Duration, Instant};

use pactum::documents::model::{AgreementKind, DocumentData};
use pactum::documents::{Renderer, clear_caches, sample};

/// The allocator of the `pactum` binary (`src/main.rs`): the figures are the
/// server's. With the system allocator a new agreement takes about 20 % longer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    warm: usize,
    cold: usize,
    weasyprint: bool,
    compare: Option<u32>,
}

fn args() -> Args {
    let mut args = Args {
        warm: 200,
        cold: 20,
        weasyprint: false,
        compare: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--warm" => args.warm = it.next().and_then(|n| n.parse().ok()).expect("--warm N"),
            "--cold" => args.cold = it.next().and_then(|n| n.parse().ok()).expect("--cold N"),
            "--weasyprint" => args.weasyprint = true,
            "--compare" => {
                args.compare = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .expect("--compare VERSION"),
                )
            }
            // cargo bench passes --bench; ignore anything else it adds.
            _ => {}
        }
    }
    args
}

fn report(name: &str, mut times: Vec<Duration>, bytes: &[usize]) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = times.len();
    let p50 = times[n / 2];
    let p99 = times[((n * 99).div_ceil(100)).saturating_sub(1).min(n - 1)];
    let mean = times.iter().sum::<Duration>() / n as u32;
    let mut line = format!(
        "{name:<24} n={n:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  mean {:>7.2} ms",
        ms(p50),
        ms(p99),
        ms(mean),
    );
    if !bytes.is_empty() {
        let avg_bytes = bytes.iter().sum::<usize>() / bytes.len();
        line += &format!(
            "  {avg_bytes:>7} bytes/doc  ({:.0} docs/s at p50)",
            1000.0 / ms(p50)
        );
    }
    println!("{line}");
}

/// The sample SLA, made distinct by `i`.
fn distinct(base: &DocumentData, i: usize) -> DocumentData {
    let mut data = base.clone();
    data.reference = format!("SLA-{i:06X}-1");
    data.agreement_id = format!("sla-bench-{i:08}");
    data.customer.name = format!("Research group {i} of the University of Somewhere");
    data.parameters[0].value = (1 + i % 64).to_string();
    data.parameters[3].value = (1 + i % 9).to_string();
    data
}

fn main() {
    let args = args();
    let data = sample::cloud_compute(AgreementKind::Sla);
    println!(
        "render benchmark: SLA sample ({} parameters), release build",
        data.parameters.len()
    );

    // Cold first, so nothing earlier in this process has warmed typst.
    let mut times = Vec::new();
    let mut new_times = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..args.cold {
        clear_caches();
        let start = Instant::now();
        let renderer = Renderer::new().expect("renderer");
        let built = Instant::now();
        let rendered = renderer.render(&data, None).expect("render");
        times.push(start.elapsed());
        new_times.push(built - start);
        bytes.push(rendered.bytes.len());
    }
    report("cold (new + render)", times, &bytes);
    report("cold: Renderer::new", new_times, &[]);

    let renderer = Renderer::new().expect("renderer");
    let reference = renderer.render(&data, None).expect("render");
    for _ in 0..20 {
        renderer.render(&data, None).expect("render");
    }
    let mut times = Vec::with_capacity(args.warm);
    let mut bytes = Vec::with_capacity(args.warm);
    for _ in 0..args.warm {
        let start = Instant::now();
        let rendered = renderer.render(&data, None).expect("render");
        times.push(start.elapsed());
        assert_eq!(rendered.sha256, reference.sha256, "deterministic");
        bytes.push(rendered.bytes.len());
    }
    report("warm, same data", times, &bytes);

    // Warm up on other documents than the measured ones: a document rendered
    // before would be memoized, and this measures new ones.
    for i in args.warm..args.warm + 20 {
        renderer.render(&distinct(&data, i), None).expect("render");
    }
    let documents: Vec<DocumentData> = (0..args.warm).map(|i| distinct(&data, i)).collect();
    let (id, current) = renderer.current(data.kind);
    let mut times = Vec::with_capacity(args.warm);
    let mut bytes = Vec::with_capacity(args.warm);
    let mut compared = (Vec::new(), Vec::new());
    for (i, document) in documents.iter().enumerate() {
        let start = Instant::now();
        let rendered = renderer.render(document, None).expect("render");
        times.push(start.elapsed());
        bytes.push(rendered.bytes.len());
        if let Some(version) = args.compare {
            // The same data, distinct from every document before it.
            let other = distinct(&data, args.warm + 20 + i);
            let start = Instant::now();
            let rendered = renderer
                .render_with(&id, version, &other, None)
                .expect("render the compared version");
            compared.0.push(start.elapsed());
            compared.1.push(rendered.bytes.len());
        }
    }
    report(&format!("warm, new data (v{current})"), times, &bytes);
    if let Some(version) = args.compare {
        report(
            &format!("warm, new data (v{version})"),
            compared.0,
            &compared.1,
        );
    }

    if args.weasyprint {
        weasyprint(&data, args.warm.min(50), args.cold.min(5));
    }
}

/// The same agreement through WeasyPrint (`benches/render_weasyprint.py`), in this run.
fn weasyprint(data: &DocumentData, warm: usize, cold: usize) {
    use std::io::Write;
    use std::process::Stdio;

    let python = std::env::var("PACTUM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/render_weasyprint.py");
    let child = Command::new(&python)
        .args([script, &warm.to_string(), &cold.to_string()])
        .stdin(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            eprintln!("weasyprint comparison not run ({python}: {error})");
            return;
        }
    };
    let json = serde_json::to_vec(data).expect("the data serializes");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&json)
        .expect("write the data");
    match child.wait() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("weasyprint comparison failed ({status})"),
        Err(error) => eprintln!("weasyprint comparison failed: {error}"),
    }
}
