//! Discovery URLs (checklist 45–48).

use greenroom_backend_defaults::discovery::HostDiscovery;
use greenroom_backend_plugin_api::services::DiscoveryService;
use greenroom_config::Config;
use serde_json::{Value, json};

fn discovery(config: Value) -> Result<HostDiscovery, String> {
    let config = Config::from_value(config).expect("config");
    HostDiscovery::from_config(&config, None).map_err(|e| e.message)
}

/// One discovery case: config, plugin id, expected internal and external URLs.
fn check(case: &str, config: Value, plugin: &str, internal: &str, external: &str) {
    let discovery = discovery(config).unwrap_or_else(|e| panic!("case {case}: {e}"));
    assert_eq!(
        discovery.base_url(plugin).map_err(|e| e.message).as_deref(),
        Ok(internal),
        "case {case}: internal"
    );
    assert_eq!(
        discovery
            .external_base_url(plugin)
            .map_err(|e| e.message)
            .as_deref(),
        Ok(external),
        "case {case}: external"
    );
}

#[test]
fn c45_c47_discovery_urls() {
    let base = |listen: Value| json!({ "backend": { "baseUrl": "https://p.example.net/", "listen": listen } });
    check(
        "D01 0.0.0.0 becomes 127.0.0.1",
        base(json!({ "host": "0.0.0.0", "port": 7007 })),
        "catalog",
        "http://127.0.0.1:7007/api/catalog",
        "https://p.example.net/api/catalog",
    );
    check(
        "D02 empty host becomes localhost",
        base(json!({ "host": "", "port": 7007 })),
        "catalog",
        "http://localhost:7007/api/catalog",
        "https://p.example.net/api/catalog",
    );
    check(
        "D03 :: becomes localhost",
        base(json!({ "host": "::", "port": 7010 })),
        "catalog",
        "http://localhost:7010/api/catalog",
        "https://p.example.net/api/catalog",
    );
    check(
        "D04 other IPv6 is bracketed",
        base(json!({ "host": "::1", "port": 7010 })),
        "x",
        "http://[::1]:7010/api/x",
        "https://p.example.net/api/x",
    );
    check(
        "D05 https switches the internal protocol",
        json!({ "backend": { "baseUrl": "https://p.example.net", "listen": ":7007", "https": true } }),
        "x",
        "https://localhost:7007/api/x",
        "https://p.example.net/api/x",
    );
    let endpoints = json!({
        "backend": { "baseUrl": "https://p.example.net", "listen": ":7007" },
        "discovery": { "endpoints": [
            { "target": "https://h/{{ pluginId }}", "plugins": ["*"] },
            { "target": "https://catalog.internal/api/catalog", "plugins": ["catalog"] },
            { "target": { "internal": "http://internal-only/{{pluginId}}" }, "plugins": ["search"] },
        ] }
    });
    check(
        "D06 star with spaced placeholder",
        endpoints.clone(),
        "x",
        "https://h/x",
        "https://h/x",
    );
    check(
        "D07 explicit entry wins over star",
        endpoints.clone(),
        "catalog",
        "https://catalog.internal/api/catalog",
        "https://catalog.internal/api/catalog",
    );
    check(
        "D08 internal-only entry falls back to baseUrl externally",
        endpoints.clone(),
        "search",
        "http://internal-only/search",
        "https://p.example.net/api/search",
    );
    check(
        "D09 plugin id is URL-encoded",
        endpoints,
        "a b",
        "https://h/a%20b",
        "https://h/a%20b",
    );
    let later_wins = json!({
        "backend": { "baseUrl": "https://p.example.net", "listen": ":7007" },
        "discovery": { "endpoints": [
            { "target": "https://first/{{pluginId}}", "plugins": ["x"] },
            { "target": "https://second/{{pluginId}}", "plugins": ["x"] },
        ] }
    });
    check(
        "D10 later entry wins",
        later_wins,
        "x",
        "https://second/x",
        "https://second/x",
    );
}

#[test]
fn c48_srv_external_target_fails_configuration() {
    let error = discovery(json!({
        "backend": { "baseUrl": "https://p.example.net" },
        "discovery": { "endpoints": [
            { "target": { "external": "http+srv://svc.example.net/api/{{pluginId}}" }, "plugins": ["x"] },
        ] }
    }))
    .expect_err("SRV external target is rejected");
    assert!(error.contains("discovery.endpoints[0].target"), "{error}");
}

#[test]
fn missing_base_url_names_the_key() {
    let error = discovery(json!({ "backend": {} })).expect_err("baseUrl is required");
    assert!(error.contains("backend.baseUrl"), "{error}");
}
