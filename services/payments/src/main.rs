use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_payments::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "payments stopped with an error");
            ExitCode::FAILURE
        }
    }
}
