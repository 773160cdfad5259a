//! Wrappers around the external tools ecomctl drives.

pub mod helm;
pub mod process;
pub mod terraform;
pub mod version;
