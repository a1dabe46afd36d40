//! One module per route.

pub mod account;
pub mod audit;
pub mod connections;
pub mod detail;
pub mod editor;
pub mod history;
pub mod integrations;
pub mod not_found;
pub mod tokens;
pub mod users;
