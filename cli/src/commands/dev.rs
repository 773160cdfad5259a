//! `ecomctl dev`: flags to options, then `dev::run`.

use anyhow::Result;

use crate::cli::DevArgs;
use crate::dev::{self, DevOptions};
use crate::ui::Ui;

pub fn run(args: &DevArgs, ui: &Ui) -> Result<()> {
    let opts = DevOptions {
        services: args.services.clone(),
        port: args.port,
        reset: args.reset,
        build: !args.no_build,
        release: args.release,
        name: args.name.clone(),
    };
    dev::run(&opts, ui)
}
