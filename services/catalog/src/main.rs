use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_catalog::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "catalog stopped with an error");
            ExitCode::FAILURE
        }
    }
}
