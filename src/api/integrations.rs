//! Server functions for integrations.

use leptos::prelude::*;

use crate::domain::IntegrationSummary;
use crate::error::AppError;

/// Every integration, newest first.
#[server(endpoint = "list_integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationSummary>, AppError> {
    Ok(super::store()?.list_integrations().await?)
}

/// Creates an integration from the "New integration" form.
#[server(endpoint = "create_integration")]
pub async fn create_integration(
    name: String,
    description: String,
) -> Result<IntegrationSummary, AppError> {
    use crate::domain::{Actor, NewIntegration};

    let result = async {
        let new = NewIntegration::parse(&name, &description)?;
        Ok(super::store()?
            .create_integration(&new, None, &Actor::user(""))
            .await?)
    }
    .await;
    super::reply_to_form(result, &[("name", &name), ("description", &description)]).await
}
