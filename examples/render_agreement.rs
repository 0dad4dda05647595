//! Renders the sample agreements into a directory, to look at a template while
//! changing it: `cargo run --release --example render_agreement -- /tmp/agreements`
//! then `pdftoppm -png -r 60 /tmp/agreements/sla.pdf /tmp/agreements/sla`.

use std::path::PathBuf;

use pactum::documents::Renderer;
use pactum::documents::model::{AgreementKind, Logo};
use pactum::documents::sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "agreements".into()),
    );
    std::fs::create_dir_all(&out)?;
    let renderer = Renderer::new()?;
    let logo = Logo {
        media_type: "image/png".into(),
        bytes: include_bytes!("../sla-templates/brands/example/logo.png").to_vec(),
    };
    let mut branded = sample::cloud_compute(AgreementKind::Sla);
    branded.brand.has_logo = true;
    let documents = [
        ("sla", sample::cloud_compute(AgreementKind::Sla), None),
        ("ola", sample::cloud_compute(AgreementKind::Ola), None),
        (
            "sla-amended",
            sample::cloud_compute_amended(AgreementKind::Sla),
            None,
        ),
        (
            "ola-amended",
            sample::cloud_compute_amended(AgreementKind::Ola),
            None,
        ),
        ("sla-logo", branded, Some(&logo)),
    ];
    for (name, data, logo) in documents {
        let rendered = renderer.render(&data, logo)?;
        let path = out.join(format!("{name}.pdf"));
        std::fs::write(&path, &rendered.bytes)?;
        println!(
            "{} ({} {} v{}, {} bytes, sha256 {})",
            path.display(),
            data.kind.as_str(),
            rendered.template_id,
            rendered.template_version,
            rendered.bytes.len(),
            rendered.sha256
        );
    }
    Ok(())
}
