use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pactum::cli::run().await
}
