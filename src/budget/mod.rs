//! Per-remote daily ledger of bytes and requests (DESIGN.md §3 "Budgets").
