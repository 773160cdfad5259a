use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_inventory::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "inventory stopped with an error");
            ExitCode::FAILURE
        }
    }
}
