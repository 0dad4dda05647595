use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: under the load scenario glibc's
/// allocator (arena locks, `malloc_consolidate`) took about a fifth of the
/// server's time (docs/adr/0017).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    pactum::cli::run().await
}
