//! `pactum brand set`: how an organisation's documents look (white-labelling).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::StorageArgs;
use crate::brands::{self, BrandRequest, DefineError};
use crate::execute::CommandMeta;
use crate::runner::CommandRequest;

#[derive(Debug, Subcommand)]
pub enum BrandCommand {
    /// Define (or redefine) an organisation's brand. SLAs issued to it from now
    /// on carry it; documents already issued keep theirs.
    Set(SetArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The organisation (tenant or customer) the brand belongs to.
    #[arg(long)]
    org: String,
    /// The name its documents show.
    #[arg(long)]
    name: String,
    /// Accent colour, #rrggbb.
    #[arg(long)]
    colour: String,
    /// Footer text of every page.
    #[arg(long)]
    footer: String,
    /// A PNG, JPEG or SVG logo (at most 256 KiB).
    #[arg(long)]
    logo: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(command: BrandCommand) -> Result<ExitCode, String> {
    match command {
        BrandCommand::Set(args) => set(args).await,
    }
}

async fn set(args: SetArgs) -> Result<ExitCode, String> {
    let logo = match &args.logo {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--logo: cannot read {}: {e}", path.display()))?;
            let media_type = brands::sniff_media_type(&bytes).ok_or_else(|| {
                format!("--logo: {} is not a PNG, JPEG or SVG image", path.display())
            })?;
            Some((media_type.to_owned(), bytes))
        }
    };
    let request = &BrandRequest {
        org: args.org,
        name: args.name,
        colour: args.colour,
        footer: args.footer,
        logo,
    };
    let app = args.storage.open().await?;
    let result = brands::define(
        &app.store,
        &app.renderer,
        request,
        &CommandRequest::system(CommandMeta::system("pactum-cli", app.now())),
    )
    .await;
    app.store.close().await;
    match result {
        Ok(_) => {
            eprintln!("brand of {} set: {}", request.org, request.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(DefineError::Invalid(errors)) => {
            for error in errors {
                eprintln!("error: --{}: {}", error.field, error.message);
            }
            Ok(ExitCode::from(2))
        }
        Err(other) => Err(other.to_string()),
    }
}
