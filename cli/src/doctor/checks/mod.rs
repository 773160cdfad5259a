//! One module per group. Each `run` reads the [`Context`] and returns every outcome of its
//! group's checks (one per subject) with the evidence it read; decisions are plain functions
//! over plain data so unit tests call them without tools, AWS or a cluster.

pub mod chart;
pub mod cluster;
pub mod config;
pub mod edge;
pub mod iac;
pub mod identity;
pub mod local_state;
pub mod plans;
pub mod state;
pub mod tools;

use super::catalogue::Group;
use super::context::Context;
use super::model::GroupRun;

/// Runs one group.
pub fn run(group: Group, ctx: &Context) -> GroupRun {
    if ctx.offline && group.needs_network() {
        return GroupRun::skipped(group, "-", "skipped: --offline");
    }
    match group {
        Group::Tools => tools::run(ctx),
        Group::Config => config::run(ctx),
        Group::LocalState => local_state::run(ctx),
        Group::Identity => identity::run(ctx),
        Group::State => state::run(ctx),
        Group::Iac => iac::run(ctx),
        Group::Chart => chart::run(ctx),
        Group::Cluster => cluster::run(ctx),
        Group::Edge => edge::run(ctx),
    }
}

/// The config, or every check of `group` skipped because it does not load.
pub fn need_config(ctx: &Context, group: Group) -> Result<&crate::config::Loaded, GroupRun> {
    ctx.loaded()
        .ok_or_else(|| GroupRun::skipped(group, "-", "skipped: the config does not load"))
}
