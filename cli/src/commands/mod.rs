//! One module per subcommand. Each is thin: it resolves settings, calls the layers below, and
//! reports through the `Ui`.

pub mod apply;
pub mod completions;
pub mod config_schema;
pub mod deploy;
pub mod dev;
pub mod doctor;
pub mod down;
pub mod images;
pub mod init;
pub mod mirror;
pub mod multiarch;
pub mod orchestrate;
pub mod output;
pub mod plan;
pub mod policy;
pub mod render;
pub mod rollback;
pub mod scan;
pub mod signing;
pub mod status;
pub mod unlock;
pub mod up;
pub mod validate;

use crate::cli::{Cli, Command, ConfigCommand, PolicyCommand};
use crate::config::{self, Loaded};
use crate::ui::Ui;
use anyhow::Result;
use std::path::PathBuf;

/// Flags and environment resolved once, before any work (ripgrep's LowArgs -> HiArgs).
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: PathBuf,
    pub env: Option<String>,
    /// Everything else flags and `ECOMCTL_*` say, parsed once.
    pub run: crate::cli::RunArgs,
}

impl Settings {
    /// Loads and validates the config; problems are printed as diagnostics by `main`.
    pub fn load_config(&self) -> Result<Loaded, config::ConfigError> {
        config::load(&self.config)
    }
}

pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let settings = Settings {
        config: cli.config,
        env: cli.env,
        run: cli.run,
    };
    match cli.command {
        Command::Init => init::run(&settings, ui),
        Command::Validate => validate::run(&settings, ui),
        Command::Render(args) => render::run(&settings, &args, ui),
        Command::Config {
            command: ConfigCommand::Schema,
        } => config_schema::run(ui),
        Command::Config {
            command: ConfigCommand::Docs,
        } => config_schema::docs(ui),
        Command::Completions { shell } => completions::run(shell, ui),
        Command::Policy {
            command: PolicyCommand::Test(args),
        } => policy::test(&settings, &args, ui),
        Command::Policy {
            command: PolicyCommand::Check(args),
        } => policy::check(&settings, &args, ui),
        Command::Policy {
            command: PolicyCommand::Scan(args),
        } => policy::scan(&settings, &args, ui),
        Command::Plan(args) => plan::run(&settings, &args, ui),
        Command::Apply(args) => apply::run(&settings, &args, ui),
        Command::Up(args) => up::run(&settings, &args, ui),
        Command::Down(args) => down::run(&settings, &args, ui),
        Command::Rollback(args) => rollback::run(&settings, &args, ui),
        Command::Unlock(args) => unlock::run(&settings, &args, ui),
        Command::Status => status::run(&settings, ui),
        Command::Doctor(args) => doctor::run(&settings, &args, ui),
        Command::Output(args) => output::run(&settings, &args, ui),
        Command::Dev(args) => dev::run(&args, ui),
        Command::Build(args) => images::build(&args, ui).map(|_| ()),
        Command::Push(args) => images::push(&settings, &args, ui),
        Command::Promote(args) => images::promote(&settings, &args, ui),
        Command::Index(args) => multiarch::index(&settings, &args, ui),
        Command::Sign(args) => signing::sign(&settings, &args, ui),
        Command::Verify(args) => signing::verify(&settings, &args, ui),
        Command::Deploy(args) => deploy::run(&settings, &args, ui),
        Command::Mirror(args) => mirror::run(&settings, &args, ui),
        Command::Scan(args) => scan::run(&settings, &args, ui),
    }
}
