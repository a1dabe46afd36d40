//! One module per route.

pub mod detail;
pub mod editor;
pub mod history;
pub mod integrations;
pub mod not_found;
