use clap::Parser;
use ecomctl::{cli::Cli, commands, config::ConfigError, exit, render::RenderError, ui::Ui};

fn main() {
    let cli = Cli::parse();
    let ui = Ui::new(cli.output, cli.quiet, cli.verbose);
    let code = match commands::run(cli, &ui) {
        Ok(()) => exit::OK,
        Err(err) => {
            let code = exit::code_for(&err);
            for cause in err.chain() {
                if let Some(e) = cause.downcast_ref::<ConfigError>() {
                    ui.diagnostics(e.diagnostics());
                }
                if let Some(e) = cause.downcast_ref::<RenderError>() {
                    ui.diagnostics(e.diagnostics());
                }
            }
            let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
            ui.error(
                &err.to_string(),
                &causes,
                exit::hint_for(&err).as_deref(),
                code,
            );
            code
        }
    };
    std::process::exit(code);
}
