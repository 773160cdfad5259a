use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_orders::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "orders stopped with an error");
            ExitCode::FAILURE
        }
    }
}
