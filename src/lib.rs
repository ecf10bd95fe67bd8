//! Ferry: a DVC-compatible data version control tool built for several remotes at once.
//!
//! Data flows one way: `cli` → `ops` → `repo`/`transfer` → `odb`/`remote`/`budget`. `cli`
//! parses, resolves settings and renders; `ops` holds one operation per user command; every
//! request to a remote goes through its layer stack (`remote::Stack`: retry, concurrency,
//! meter, capability). See DESIGN.md §4 and ARCHITECTURE.md.
pub mod budget;
pub mod cli;
pub mod config;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod hash;
pub mod interrupt;
pub mod odb;
pub mod ops;
pub mod remote;
pub mod repo;
pub mod transfer;
pub mod ui;
