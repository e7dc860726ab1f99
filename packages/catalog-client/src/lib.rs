//! The CatalogApi trait and an HTTP client for Backstage's catalog REST API.
