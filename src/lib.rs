//! Ferry: a DVC-compatible data version control tool built for several remotes at once.
//!
//! Data flows one way: `cli` → `repo`/`transfer` → `odb`/`remote`. See DESIGN.md §4.
pub mod budget;
pub mod cli;
pub mod config;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod hash;
pub mod interrupt;
pub mod odb;
pub mod remote;
pub mod repo;
pub mod transfer;
pub mod ui;
