//! Types and rules shared by the server and the browser. Nothing here touches I/O, so
//! the browser validates with exactly the rules the server enforces.

pub mod access;
pub mod activity;
pub mod audit;
pub mod connection;
pub mod definition;
pub mod diff;
pub mod integration;
pub mod lifecycle;
pub mod name;
pub mod reconcile;
pub mod token;
pub mod transfer;
pub mod url_secrets;
pub mod user;
pub mod version;

pub use integration::{
    Actor, Description, DetailPage, History, HistoryVersion, IntegrationDetail, IntegrationId,
    IntegrationSummary, NewIntegration, Page, PageRequest, Publication, Transition, Version,
    VersionRef, VersionSummary,
};
pub use name::IntegrationName;
