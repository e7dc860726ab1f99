//! Location analyzers that modules add to the catalog (Backstage's
//! `CatalogAnalysisExtensionPoint` and `ScmLocationAnalyzer`): `POST
//! /analyze-location` asks the first analyzer that supports the URL, and falls
//! back to the catalog's default analyzer when none does or the one asked
//! finds nothing.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, ExtensionPointRef};
use greenroom_catalog_client::AnalyzeLocationResponse;

/// What an analyzer is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzeRequest {
    /// The location's target, e.g. a repository URL.
    pub url: String,
    /// `catalogFilename` of the request, when given.
    pub catalog_filename: Option<String>,
}

/// Finds catalog files in, or proposes entities for, locations of one kind of
/// source host.
#[async_trait]
pub trait ScmLocationAnalyzer: Send + Sync {
    /// A unique name, for logs.
    fn name(&self) -> &str;
    /// Whether this analyzer knows URLs like `url`.
    fn supports(&self, url: &str) -> bool;
    /// The existing entity files found and the entities proposed; both empty
    /// lets the default analyzer answer instead.
    async fn analyze(
        &self,
        request: &AnalyzeRequest,
    ) -> Result<AnalyzeLocationResponse, BackendError>;
}

/// The `catalog.analysis` extension point: modules add location analyzers.
#[derive(Default)]
pub struct CatalogAnalysisExtension {
    analyzers: Mutex<Vec<Arc<dyn ScmLocationAnalyzer>>>,
}

impl std::fmt::Debug for CatalogAnalysisExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogAnalysisExtension")
            .field(
                "analyzers",
                &self
                    .analyzers()
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CatalogAnalysisExtension {
    pub fn add_location_analyzer(&self, analyzer: Arc<dyn ScmLocationAnalyzer>) {
        self.analyzers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(analyzer);
    }

    /// The analyzers added so far, in the order they were added.
    pub fn analyzers(&self) -> Vec<Arc<dyn ScmLocationAnalyzer>> {
        self.analyzers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first analyzer that supports `url`.
    pub fn analyzer_for(&self, url: &str) -> Option<Arc<dyn ScmLocationAnalyzer>> {
        self.analyzers()
            .into_iter()
            .find(|analyzer| analyzer.supports(url))
    }
}

/// The catalog's analysis extension point, for modules of the `catalog` plugin.
pub const CATALOG_ANALYSIS_EXTENSION_POINT: ExtensionPointRef<CatalogAnalysisExtension> =
    ExtensionPointRef::new("catalog.analysis");
