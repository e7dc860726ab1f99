//! The HTTP layer: health, lifecycle gate, mounting, 404s, error bodies,
//! body limit, CORS and security headers (checklist 17–22, 27, 29–31).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use greenroom_backend_defaults::http::router::DefaultRootHttpRouter;
use greenroom_backend_defaults::{ApiError, Json};
use greenroom_backend_plugin_api::services::{ROOT_HTTP_ROUTER, RootHttpRouterService};
use greenroom_backend_plugin_api::{BackendError, BackendPlugin, ErrorName};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use crate::support::{config, get_json, read_json, routed_plugin, slow_plugin, start, url, url_at};

fn hello_router() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

#[tokio::test(flavor = "multi_thread")]
async fn c18_liveness_answers_ok() {
    let running = start(config(json!({})), vec![]).await;
    let (status, body) = get_json(&url(&running, "/.backstage/health/v1/liveness")).await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c19_c29_readiness_and_held_requests_follow_startup() {
    let (address_tx, address_rx) = oneshot::channel();
    let release = Arc::new(Notify::new());
    let backend = tokio::spawn(start(
        config(json!({})),
        vec![slow_plugin(
            "slow",
            hello_router,
            address_tx,
            Arc::clone(&release),
        )],
    ));
    let addr = address_rx.await.expect("plugin reports the address");

    let (status, body) = get_json(&url_at(addr, "/.backstage/health/v1/readiness")).await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({ "message": "Backend has not started yet", "status": "error" })
        ),
        "readiness during plugin init"
    );
    let (status, _) = get_json(&url_at(addr, "/.backstage/health/v1/liveness")).await;
    assert_eq!(status, 200, "liveness during plugin init");

    // A plugin request made now is held until startup completes.
    let held = tokio::spawn(async move {
        let response = reqwest::get(url_at(addr, "/api/slow/hello"))
            .await
            .expect("held request");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "the request waits for startup");
    release.notify_one();
    let running = backend.await.expect("start task");
    assert_eq!(held.await.expect("held task"), (200, "hello".to_owned()));

    let (status, body) = get_json(&url(&running, "/.backstage/health/v1/readiness")).await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c29_held_request_fails_after_pause_timeout() {
    let (address_tx, address_rx) = oneshot::channel();
    let release = Arc::new(Notify::new());
    let backend = tokio::spawn(start(
        config(json!({ "backend": { "lifecycle": { "startupRequestPauseTimeout": 150 } } })),
        vec![slow_plugin(
            "slow",
            hello_router,
            address_tx,
            Arc::clone(&release),
        )],
    ));
    let addr = address_rx.await.expect("plugin reports the address");
    let (status, body) = get_json(&url_at(addr, "/api/slow/hello?x=1")).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({
            "error": { "name": "ServiceUnavailableError", "message": "Service has not started up yet" },
            "request": { "method": "GET", "url": "/api/slow/hello?x=1" },
            "response": { "statusCode": 503 },
        })
    );
    release.notify_one();
    backend.await.expect("start task").stop().await;
}

fn app_router() -> Router {
    Router::new().route(
        "/{*rest}",
        get(|Path(rest): Path<String>| async move { format!("app:{rest}") }),
    )
}

/// One routing case: a path, the expected status and body text.
async fn check_route(
    base: &greenroom_backend_defaults::RunningBackend,
    case: &str,
    path: &str,
    status: u16,
    body: &str,
) {
    let response = reqwest::get(url(base, path)).await.expect("request");
    let got_status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(
        (got_status, text.as_str()),
        (status, body),
        "case {case}: GET {path}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c20_routes_live_under_api_plugin_id() {
    let running = start(
        config(json!({})),
        vec![
            routed_plugin("alpha", hello_router),
            routed_plugin("beta", hello_router),
        ],
    )
    .await;
    let rows = [
        ("R01 own route", "/api/alpha/hello", 200, "hello"),
        ("R02 other plugin", "/api/beta/hello", 200, "hello"),
        ("R03 unknown route", "/api/alpha/missing", 404, ""),
        ("R04 unknown plugin", "/api/gamma/hello", 404, ""),
        ("R05 outside /api, no index", "/hello", 404, ""),
        ("R06 prefix is not a mount", "/api/alphabet/hello", 404, ""),
    ];
    for (case, path, status, body) in rows {
        check_route(&running, case, path, status, body).await;
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c21_index_route_serves_non_api_paths() {
    let running = start(
        config(json!({})),
        vec![
            routed_plugin("app", app_router),
            routed_plugin("alpha", hello_router),
        ],
    )
    .await;
    let rows = [
        (
            "I01 non-api path",
            "/catalog/default",
            200,
            "app:catalog/default",
        ),
        (
            "I02 unknown api path is not forwarded",
            "/api/nothing/here",
            404,
            "",
        ),
        ("I03 the app's own mount", "/api/app/x", 200, "app:x"),
        (
            "I04 plugin routes still win",
            "/api/alpha/hello",
            200,
            "hello",
        ),
    ];
    for (case, path, status, body) in rows {
        check_route(&running, case, path, status, body).await;
    }
    running.stop().await;
}

#[test]
fn c22_root_route_conflicts() {
    // (case, existing mount, new mount, expected error or None)
    let rows: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "P01 nested under existing",
            "/api/x",
            "/api/x/y",
            Some("Path /api/x/y conflicts with the existing path /api/x"),
        ),
        (
            "P02 parent of existing",
            "/api/x/y",
            "/api/x",
            Some("Path /api/x conflicts with the existing path /api/x/y"),
        ),
        (
            "P03 same with slash",
            "/api/x",
            "/api/x/",
            Some("Path /api/x/ conflicts with the existing path /api/x"),
        ),
        ("P04 sibling with shared prefix", "/api/x", "/api/xy", None),
        (
            "P05 empty",
            "/api/x",
            "",
            Some("Root router path may not be empty"),
        ),
        (
            "P06 root",
            "/api/x",
            "/",
            Some("Root router path may not be empty"),
        ),
    ];
    for (case, existing, new, expected) in rows {
        let router = DefaultRootHttpRouter::default();
        router
            .use_router(existing, Router::new())
            .expect("first mount");
        let got = router
            .use_router(new, Router::new())
            .err()
            .map(|e| e.message);
        assert_eq!(got.as_deref(), *expected, "case {case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c22_root_router_is_a_service_plugins_can_use() {
    let plugin = BackendPlugin::new("rooted", |registrar| {
        registrar.register_init(|ctx| async move {
            let root = ctx.get(&ROOT_HTTP_ROUTER).await?;
            root.use_router(
                "/custom",
                Router::new().route("/", get(|| async { "root route" })),
            )?;
            // Plugins are mounted at /api/<id>, so a root route there conflicts.
            match root.use_router("/api/rooted/x", Router::new()) {
                Err(e)
                    if e.message
                        .contains("conflicts with the existing path /api/rooted") =>
                {
                    Ok(())
                }
                other => Err(BackendError::internal(format!(
                    "expected a conflict, got {other:?}"
                ))),
            }
        });
    });
    let running = start(config(json!({})), vec![plugin.into()]).await;
    check_route(&running, "root route", "/custom", 200, "root route").await;
    running.stop().await;
}

fn error_name(name: &str) -> Option<ErrorName> {
    [
        ErrorName::NotModifiedError,
        ErrorName::InputError,
        ErrorName::AuthenticationError,
        ErrorName::NotAllowedError,
        ErrorName::NotFoundError,
        ErrorName::ConflictError,
        ErrorName::NotImplementedError,
        ErrorName::ServiceUnavailableError,
        ErrorName::Error,
    ]
    .into_iter()
    .find(|n| n.as_str() == name)
}

fn errors_router() -> Router {
    Router::new()
        .route(
            "/fail/{name}",
            get(|Path(name): Path<String>| async move {
                let name = error_name(&name)
                    .ok_or_else(|| ApiError(BackendError::input("unknown name")))?;
                Err::<(), ApiError>(ApiError(BackendError::new(
                    name,
                    "went wrong: secret detail",
                )))
            }),
        )
        .route(
            "/echo",
            post(|Json(body): Json<Value>| async move { Json(json!({ "got": body })) }),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn c27_error_bodies_and_status_mapping() {
    let running = start(
        config(json!({})),
        vec![routed_plugin("errs", errors_router)],
    )
    .await;
    // (case, error name, status)
    let rows = [
        ("E01", "InputError", 400),
        ("E02", "AuthenticationError", 401),
        ("E03", "NotAllowedError", 403),
        ("E04", "NotFoundError", 404),
        ("E05", "ConflictError", 409),
        ("E06", "NotImplementedError", 501),
        ("E07", "ServiceUnavailableError", 503),
    ];
    for (case, name, status) in rows {
        let path = format!("/api/errs/fail/{name}?q=1");
        let (got_status, body) = get_json(&url(&running, &path)).await;
        assert_eq!(
            (got_status, body),
            (
                status,
                json!({
                    "error": { "name": name, "message": "went wrong: secret detail" },
                    "request": { "method": "GET", "url": path },
                    "response": { "statusCode": status },
                })
            ),
            "case {case}"
        );
    }
    // E08: NotModifiedError is a bare 304.
    let response = reqwest::get(url(&running, "/api/errs/fail/NotModifiedError"))
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 304, "case E08");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c28_internal_errors_are_hidden_behind_a_log_id() {
    let running = start(
        config(json!({})),
        vec![routed_plugin("errs", errors_router)],
    )
    .await;
    let (status, body) = get_json(&url(&running, "/api/errs/fail/Error")).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["name"], "Error");
    assert_eq!(body["response"]["statusCode"], 500);
    let message = body["error"]["message"]
        .as_str()
        .expect("message is a string");
    let log_id = message
        .strip_prefix("An internal error occurred logId=")
        .unwrap_or_else(|| panic!("unexpected message {message}"));
    assert_eq!(log_id.len(), 20, "{message}");
    assert!(log_id.bytes().all(|b| b.is_ascii_hexdigit()), "{message}");
    assert!(
        !message.contains("secret"),
        "the internal message does not leak"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_rejections_and_body_limit_use_the_error_body() {
    let running = start(
        config(json!({ "backend": { "server": { "bodyLimit": 64 } } })),
        vec![routed_plugin("errs", errors_router)],
    )
    .await;
    let client = reqwest::Client::new();
    let send = |body: String| {
        client
            .post(url(&running, "/api/errs/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (status, body) = read_json(send("{\"a\":1}".to_owned()).await.expect("request")).await;
    assert_eq!(
        (status, body),
        (200, json!({ "got": { "a": 1 } })),
        "J01 valid body"
    );

    let (status, body) = read_json(send("{not json".to_owned()).await.expect("request")).await;
    assert_eq!(status, 400, "J02 invalid JSON");
    assert_eq!(body["error"]["name"], "InputError", "J02");
    assert_eq!(body["request"]["url"], "/api/errs/echo", "J02");

    let (status, body) = read_json(
        send(format!("{{\"a\":\"{}\"}}", "x".repeat(100)))
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 413, "J03 over the limit");
    assert_eq!(body["error"]["name"], "PayloadTooLargeError", "J03");
    running.stop().await;
}

/// A preflight request from `origin`; returns the Access-Control-Allow-Origin answer.
async fn preflight(
    running: &greenroom_backend_defaults::RunningBackend,
    origin: &str,
) -> (Option<String>, bool) {
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, url(running, "/api/alpha/hello"))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    let allow = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let any_cors = response
        .headers()
        .keys()
        .any(|k| k.as_str().starts_with("access-control-"));
    (allow, any_cors)
}

#[tokio::test(flavor = "multi_thread")]
async fn c30_cors_follows_backend_cors() {
    let running = start(
        config(json!({ "backend": { "cors": {
            "origin": ["https://*.example.com", "http://localhost:3000"],
            "credentials": true,
            "methods": ["GET", "POST"],
        } } })),
        vec![routed_plugin("alpha", hello_router)],
    )
    .await;
    let rows = [
        (
            "C01 glob match",
            "https://a.example.com",
            Some("https://a.example.com"),
        ),
        (
            "C02 case-insensitive",
            "https://A.Example.COM",
            Some("https://A.Example.COM"),
        ),
        ("C03 other host", "https://evil.com", None),
        (
            "C04 exact entry",
            "http://localhost:3000",
            Some("http://localhost:3000"),
        ),
        (
            "C05 the suffix must match",
            "https://a.example.com.evil.net",
            None,
        ),
    ];
    for (case, origin, expected) in rows {
        let (allow, _) = preflight(&running, origin).await;
        assert_eq!(allow.as_deref(), expected, "case {case}");
    }
    running.stop().await;

    let running = start(
        config(json!({})),
        vec![routed_plugin("alpha", hello_router)],
    )
    .await;
    let (allow, any_cors) = preflight(&running, "https://a.example.com").await;
    assert_eq!(
        (allow, any_cors),
        (None, false),
        "C06 no backend.cors, no CORS headers"
    );
    let response = reqwest::Client::new()
        .get(url(&running, "/api/alpha/hello"))
        .header("origin", "https://a.example.com")
        .send()
        .await
        .expect("request");
    assert!(
        !response
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "C07 simple request without backend.cors"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c31_security_headers_and_csp() {
    let running = start(
        config(json!({})),
        vec![routed_plugin("alpha", hello_router)],
    )
    .await;
    let response = reqwest::get(url(&running, "/api/alpha/hello"))
        .await
        .expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let csp = header("content-security-policy").expect("CSP is set");
    assert!(csp.contains("script-src 'self' 'unsafe-eval'"), "{csp}");
    assert!(!csp.contains("form-action"), "{csp}");
    assert!(csp.contains("upgrade-insecure-requests"), "{csp}");
    assert!(csp.starts_with("default-src 'self';"), "{csp}");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("x-frame-options").as_deref(), Some("SAMEORIGIN"));
    assert!(header("strict-transport-security").is_some());
    assert_eq!(header("cross-origin-embedder-policy"), None);
    assert_eq!(header("cross-origin-opener-policy"), None);
    assert_eq!(header("cross-origin-resource-policy"), None);
    assert_eq!(header("origin-agent-cluster"), None);
    running.stop().await;

    let running = start(
        config(json!({ "backend": { "csp": {
            "upgrade-insecure-requests": false,
            "imgSrc": ["'self'", "https://img.example.com"],
        } } })),
        vec![],
    )
    .await;
    let response = reqwest::get(url(&running, "/.backstage/health/v1/liveness"))
        .await
        .expect("request");
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!csp.contains("upgrade-insecure-requests"), "{csp}");
    assert!(
        csp.contains("img-src 'self' https://img.example.com"),
        "{csp}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_headers_are_added() {
    let running = start(
        config(json!({ "backend": { "health": { "headers": { "x-health": "yes" } } } })),
        vec![],
    )
    .await;
    let response = reqwest::get(url(&running, "/.backstage/health/v1/readiness"))
        .await
        .expect("request");
    assert_eq!(
        response
            .headers()
            .get("x-health")
            .and_then(|v| v.to_str().ok()),
        Some("yes")
    );
    running.stop().await;
}
