use std::process::ExitCode;

/// Pages allocate and free many small strings on two threads at once; glibc's malloc spent a
/// quarter of the storefront's CPU on that under load, mimalloc a fraction of it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_frontend::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "frontend stopped with an error");
            ExitCode::FAILURE
        }
    }
}
