use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match ecom_login::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "login stopped with an error");
            ExitCode::FAILURE
        }
    }
}
