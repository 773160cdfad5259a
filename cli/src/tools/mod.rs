//! Wrappers around the external tools ecomctl drives.

pub mod terraform;
pub mod version;
