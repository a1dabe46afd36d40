//! What people see: pages (one per route) and the components they share.

pub mod components;
pub mod format;
pub mod live;
pub mod pages;
