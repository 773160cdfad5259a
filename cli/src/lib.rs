//! ecomctl: one config file to a secure, compliant ecommerce platform on AWS.
//!
//! The binary is a thin shell over this library: `config` loads and validates `ecomctl.yaml`,
//! `render` turns it into every stage's inputs, `commands` holds one module per subcommand, and
//! `ui` is the only place that prints.

pub mod aws;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dev;
pub mod diag;
pub mod doctor;
pub mod exit;
pub mod limits;
pub mod oci;
pub mod policy;
pub mod render;
pub mod stages;
pub mod tools;
pub mod ui;
