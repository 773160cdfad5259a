use std::process::ExitCode;

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
