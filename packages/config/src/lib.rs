//! Backstage-compatible `app-config` loading (placeholder until the loader lands).
