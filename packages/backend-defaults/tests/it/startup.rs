//! Dependency injection, plugins, modules, startup and shutdown
//! (checklist 49–56), plus graceful stop with a request in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use greenroom_backend_plugin_api::services::{
    HTTP_ROUTER, HealthResponse, LIFECYCLE, LOGGER, PLUGIN_METADATA, ROOT_HEALTH, ROOT_LIFECYCLE,
    RootHealthService,
};
use greenroom_backend_plugin_api::{
    BackendError, BackendFeature, BackendModule, BackendPlugin, ExtensionPointRef, ServiceFactory,
    ServiceRef,
};
use serde_json::json;
use tokio::sync::Notify;

use crate::support::{config, get_json, routed_plugin, start, start_error, url};

fn hello_router() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

/// A recorder of events, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl Events {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().expect("events lock").push(event.into());
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().expect("events lock").clone()
    }

    fn position(&self, event: &str) -> usize {
        let all = self.all();
        all.iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("event {event} missing from {all:?}"))
    }
}

const ROOT_THING: ServiceRef<String> = ServiceRef::root("test.rootThing");
const ROOT_BAD: ServiceRef<String> = ServiceRef::root("test.rootBad");
const CYCLE_A: ServiceRef<String> = ServiceRef::plugin("test.a");
const CYCLE_B: ServiceRef<String> = ServiceRef::plugin("test.b");
const MISSING: ServiceRef<String> = ServiceRef::plugin("test.missing");

/// A plugin whose init fetches `service` and fails if that fails.
fn plugin_needing(id: &'static str, service: ServiceRef<String>) -> BackendFeature {
    BackendPlugin::new(id, move |registrar| {
        registrar.register_init(move |ctx| async move {
            ctx.get(&service).await?;
            Ok(())
        });
    })
    .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn c49_to_c51_dependency_errors() {
    // (case, features, expected message fragment)
    let rows: Vec<(&str, Vec<BackendFeature>, &str)> = vec![
        (
            "S01 duplicate factories",
            vec![
                ServiceFactory::value(ROOT_THING, Arc::new("a".to_owned())).into(),
                ServiceFactory::value(ROOT_THING, Arc::new("b".to_owned())).into(),
            ],
            "Duplicate service implementations provided for test.rootThing",
        ),
        (
            "S02 root factory depending on a plugin service",
            vec![
                ServiceFactory::new(ROOT_BAD, |ctx| async move {
                    ctx.get(&LOGGER).await?;
                    Ok(Arc::new("never".to_owned()))
                })
                .into(),
            ],
            "Failed to instantiate 'root' scoped service 'test.rootBad' because it depends on 'plugin' scoped service 'core.logger'",
        ),
        (
            "S03 cycle",
            vec![
                ServiceFactory::new(CYCLE_A, |ctx| async move {
                    ctx.get(&CYCLE_B).await?;
                    Ok(Arc::new("a".to_owned()))
                })
                .into(),
                ServiceFactory::new(CYCLE_B, |ctx| async move {
                    ctx.get(&CYCLE_A).await?;
                    Ok(Arc::new("b".to_owned()))
                })
                .into(),
                plugin_needing("cyc", CYCLE_A),
            ],
            "Plugin 'cyc' startup failed; caused by Error: Circular dependency detected: test.a -> test.b -> test.a",
        ),
        (
            "S04 missing factory",
            vec![plugin_needing("needy", MISSING)],
            "Service or extension point dependencies of plugin 'needy' are missing for the following ref(s): serviceRef{test.missing}",
        ),
        (
            "S05 plugin metadata cannot be overridden",
            vec![
                ServiceFactory::new(PLUGIN_METADATA, |_| async {
                    Ok(Arc::new(
                        greenroom_backend_plugin_api::services::PluginMetadata {
                            id: "fake".to_owned(),
                        },
                    ))
                })
                .into(),
            ],
            "core.pluginMetadata service is provided by the backend and cannot be overridden",
        ),
    ];
    for (case, features, fragment) in rows {
        let message = start_error(config(json!({})), features).await;
        assert!(message.contains(fragment), "case {case}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn feature_validation_errors() {
    let no_init = || BackendPlugin::new("lazy", |_| {}).into();
    let two_inits = || {
        BackendPlugin::new("eager", |registrar| {
            registrar.register_init(|_| async { Ok(()) });
            registrar.register_init(|_| async { Ok(()) });
        })
        .into()
    };
    let module = |plugin: &'static str, id: &'static str| -> BackendFeature {
        BackendModule::new(plugin, id, |registrar| {
            registrar.register_init(|_| async { Ok(()) });
        })
        .into()
    };
    let rows: Vec<(&str, Vec<BackendFeature>, &str)> = vec![
        (
            "V01 duplicate plugin",
            vec![
                routed_plugin("dup", hello_router),
                routed_plugin("dup", hello_router),
            ],
            "Plugin 'dup' is already registered",
        ),
        (
            "V02 invalid plugin id",
            vec![routed_plugin("no/slash", hello_router)],
            "Invalid plugin id 'no/slash'",
        ),
        (
            "V03 duplicate module",
            vec![
                routed_plugin("host", hello_router),
                module("host", "m"),
                module("host", "m"),
            ],
            "Module 'm' for plugin 'host' is already registered",
        ),
        (
            "V04 module without its plugin",
            vec![module("absent", "m")],
            "Module 'm' extends plugin 'absent', which is not installed",
        ),
        (
            "V05 no init",
            vec![no_init()],
            "Plugin 'lazy' must register an init function exactly once, but registered 0",
        ),
        (
            "V06 two inits",
            vec![two_inits()],
            "Plugin 'eager' must register an init function exactly once, but registered 2",
        ),
    ];
    for (case, features, fragment) in rows {
        let message = start_error(config(json!({})), features).await;
        assert!(message.contains(fragment), "case {case}: {message}");
    }
}

/// A healthy-always root health, to show an app's factory replaces the default.
struct AlwaysReady;

impl RootHealthService for AlwaysReady {
    fn liveness(&self) -> HealthResponse {
        HealthResponse {
            status: 200,
            payload: json!({ "custom": "live" }),
        }
    }

    fn readiness(&self) -> HealthResponse {
        HealthResponse {
            status: 200,
            payload: json!({ "custom": "ready" }),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_added_factory_replaces_the_default() {
    let running = start(
        config(json!({})),
        vec![
            ServiceFactory::value(
                ROOT_HEALTH,
                Arc::new(AlwaysReady) as Arc<dyn RootHealthService>,
            )
            .into(),
        ],
    )
    .await;
    let (status, body) = get_json(&url(&running, "/.backstage/health/v1/readiness")).await;
    assert_eq!((status, body), (200, json!({ "custom": "ready" })));
    running.stop().await;
}

/// An extension point implementation: a list modules add to.
#[derive(Default)]
struct Collector(Mutex<Vec<String>>);

const COLLECTOR: ExtensionPointRef<Collector> = ExtensionPointRef::new("host.collector");

/// Plugin `host` offering [`COLLECTOR`] and recording what it saw at init.
fn host_plugin(events: Events) -> BackendFeature {
    BackendPlugin::new("host", move |registrar| {
        let collector = Arc::new(Collector::default());
        registrar.register_extension_point(COLLECTOR, Arc::clone(&collector));
        registrar.register_init(move |_| async move {
            let items = collector.0.lock().expect("collector lock").join(",");
            events.push(format!("plugin init saw [{items}]"));
            Ok(())
        });
    })
    .into()
}

fn collecting_module(plugin: &'static str, id: &'static str, events: Events) -> BackendFeature {
    BackendModule::new(plugin, id, move |registrar| {
        registrar.register_init(move |ctx| async move {
            // Give the plugin every chance to run early if the order were wrong.
            tokio::time::sleep(Duration::from_millis(20)).await;
            ctx.extension_point(&COLLECTOR)?
                .0
                .lock()
                .expect("collector lock")
                .push(id.to_owned());
            events.push(format!("module {id}"));
            Ok(())
        });
    })
    .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn c52_modules_initialise_before_their_plugin() {
    let events = Events::default();
    let running = start(
        config(json!({})),
        vec![
            collecting_module("host", "first", events.clone()),
            host_plugin(events.clone()),
            collecting_module("host", "second", events.clone()),
        ],
    )
    .await;
    assert_eq!(
        events.all(),
        vec![
            "module first",
            "module second",
            "plugin init saw [first,second]"
        ]
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c53_module_using_another_plugins_extension_point_fails() {
    let events = Events::default();
    let message = start_error(
        config(json!({})),
        vec![
            host_plugin(events.clone()),
            routed_plugin("other", hello_router),
            collecting_module("other", "foreign", events),
        ],
    )
    .await;
    assert!(
        message.contains("Plugin 'other' startup failed"),
        "{message}"
    );
    assert!(
        message.contains("Module 'foreign' for plugin 'other' startup failed"),
        "{message}"
    );
    assert!(message.contains("host.collector"), "{message}");
}

/// A plugin that mounts its routes and then fails.
fn failing_plugin(id: &'static str) -> BackendFeature {
    BackendPlugin::new(id, |registrar| {
        registrar.register_init(|ctx| async move {
            ctx.get(&HTTP_ROUTER).await?.use_router(hello_router());
            Err(BackendError::internal("boom"))
        });
    })
    .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn c54_failing_plugin_aborts_unless_allowed_to_continue() {
    let message = start_error(
        config(json!({})),
        vec![routed_plugin("good", hello_router), failing_plugin("bad")],
    )
    .await;
    assert!(
        message.contains("Plugin 'bad' startup failed; caused by Error: boom"),
        "F01: {message}"
    );

    // (case, config allowing the failure)
    let rows = [
        (
            "F02 per plugin",
            json!({ "backend": { "startup": { "plugins": { "bad": { "onPluginBootFailure": "continue" } } } } }),
        ),
        (
            "F03 default",
            json!({ "backend": { "startup": { "default": { "onPluginBootFailure": "continue" } } } }),
        ),
    ];
    for (case, allow) in rows {
        let running = start(
            config(allow),
            vec![routed_plugin("good", hello_router), failing_plugin("bad")],
        )
        .await;
        let (status, _) = get_json(&url(&running, "/api/good/hello")).await;
        assert_eq!(status, 200, "case {case}: the good plugin serves");
        let (status, _) = get_json(&url(&running, "/api/bad/hello")).await;
        assert_eq!(status, 404, "case {case}: the failed plugin is absent");
        let (status, _) = get_json(&url(&running, "/.backstage/health/v1/readiness")).await;
        assert_eq!(status, 200, "case {case}: the backend is ready");
        running.stop().await;
    }

    let message = start_error(
        config(
            json!({ "backend": { "startup": { "default": { "onPluginBootFailure": "maybe" } } } }),
        ),
        vec![routed_plugin("good", hello_router)],
    )
    .await;
    assert!(
        message.contains("backend.startup.default.onPluginBootFailure"),
        "F04: {message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_module_can_be_tolerated() {
    let module = BackendModule::new("good", "broken", |registrar| {
        registrar.register_init(|_| async { Err(BackendError::internal("module boom")) });
    });
    let message = start_error(
        config(json!({})),
        vec![routed_plugin("good", hello_router), module.into()],
    )
    .await;
    assert!(
        message.contains(
            "Module 'broken' for plugin 'good' startup failed; caused by Error: module boom"
        ),
        "{message}"
    );
    let module = BackendModule::new("good", "broken", |registrar| {
        registrar.register_init(|_| async { Err(BackendError::internal("module boom")) });
    });
    let running = start(
        config(
            json!({ "backend": { "startup": { "plugins": { "good": { "modules": { "broken": {
            "onPluginModuleBootFailure": "continue"
        } } } } } } }),
        ),
        vec![routed_plugin("good", hello_router), module.into()],
    )
    .await;
    let (status, _) = get_json(&url(&running, "/api/good/hello")).await;
    assert_eq!(status, 200);
    running.stop().await;
}

/// A plugin that records its init and registers plugin (and, if `root`, root) hooks.
fn hooked_plugin(id: &'static str, events: Events, root: bool) -> BackendFeature {
    BackendPlugin::new(id, move |registrar| {
        registrar.register_init(move |ctx| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            events.push(format!("init {id}"));
            let lifecycle = ctx.get(&LIFECYCLE).await?;
            let e = events.clone();
            lifecycle.add_startup_hook(Box::new(move || {
                Box::pin(async move { e.push(format!("startup {id}")) })
            }));
            let e = events.clone();
            lifecycle.add_shutdown_hook(Box::new(move || {
                Box::pin(async move { e.push(format!("shutdown {id}")) })
            }));
            if root {
                let root = ctx.get(&ROOT_LIFECYCLE).await?;
                let e = events.clone();
                root.add_startup_hook(Box::new(move || {
                    Box::pin(async move { e.push("root startup") })
                }));
                let e = events.clone();
                root.add_before_shutdown_hook(Box::new(move || {
                    Box::pin(async move { e.push("root before shutdown") })
                }));
                let e = events.clone();
                root.add_shutdown_hook(Box::new(move || {
                    Box::pin(async move { e.push("root shutdown") })
                }));
            }
            Ok(())
        });
    })
    .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn c55_hooks_run_in_order() {
    let events = Events::default();
    let running = start(
        config(json!({})),
        vec![
            hooked_plugin("one", events.clone(), true),
            hooked_plugin("two", events.clone(), false),
        ],
    )
    .await;
    let last_init = events.position("init one").max(events.position("init two"));
    let first_startup = events
        .position("startup one")
        .min(events.position("startup two"));
    assert!(
        last_init < first_startup,
        "startup hooks after every init: {:?}",
        events.all()
    );
    assert!(
        events
            .position("startup one")
            .max(events.position("startup two"))
            < events.position("root startup"),
        "plugin startup hooks before root ones: {:?}",
        events.all()
    );
    assert!(
        !events.all().iter().any(|e| e.contains("shutdown")),
        "no shutdown yet"
    );
    running.stop().await;
    let before = events.position("root before shutdown");
    let plugin_max = events
        .position("shutdown one")
        .max(events.position("shutdown two"));
    let plugin_min = events
        .position("shutdown one")
        .min(events.position("shutdown two"));
    assert!(before < plugin_min, "{:?}", events.all());
    assert!(
        plugin_max < events.position("root shutdown"),
        "{:?}",
        events.all()
    );
    // A second stop is harmless and runs nothing again.
    let count = events.all().len();
    running.stop().await;
    assert_eq!(events.all().len(), count);
}

/// A plugin-scoped service recording which plugin it was built for.
#[derive(Debug)]
struct Scoped {
    plugin: String,
}

const SCOPED: ServiceRef<Scoped> = ServiceRef::plugin("test.scoped");

#[tokio::test(flavor = "multi_thread")]
async fn c56_plugin_services_are_shared_within_a_plugin_only() {
    let built = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let counter = Arc::clone(&built);
    let factory = ServiceFactory::new(SCOPED, move |ctx| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let metadata = ctx.get(&PLUGIN_METADATA).await?;
            Ok(Arc::new(Scoped {
                plugin: metadata.id.clone(),
            }))
        }
    });
    let user = |who: &'static str, seen: Arc<Mutex<Vec<(String, usize)>>>| {
        move |ctx: greenroom_backend_plugin_api::InitContext| async move {
            let scoped = ctx.get(&SCOPED).await?;
            seen.lock().expect("seen lock").push((
                format!("{who}:{}", scoped.plugin),
                Arc::as_ptr(&scoped) as usize,
            ));
            Ok(())
        }
    };
    let (s1, s2, s3) = (Arc::clone(&seen), Arc::clone(&seen), Arc::clone(&seen));
    let features: Vec<BackendFeature> = vec![
        factory.into(),
        BackendPlugin::new("one", move |r| r.register_init(user("plugin", s1))).into(),
        BackendModule::new("one", "helper", move |r| {
            r.register_init(user("module", s2))
        })
        .into(),
        BackendPlugin::new("two", move |r| r.register_init(user("plugin", s3))).into(),
    ];
    let running = start(config(json!({})), features).await;
    let mut seen = seen.lock().expect("seen lock").clone();
    seen.sort();
    let labels: Vec<&str> = seen.iter().map(|(label, _)| label.as_str()).collect();
    assert_eq!(labels, vec!["module:one", "plugin:one", "plugin:two"]);
    assert_eq!(seen[0].1, seen[1].1, "plugin and module share one instance");
    assert_ne!(seen[1].1, seen[2].1, "plugins get distinct instances");
    assert_eq!(built.load(Ordering::SeqCst), 2, "one instance per plugin");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_stop_finishes_in_flight_requests() {
    static ENTERED: Notify = Notify::const_new();
    fn slow_router() -> Router {
        Router::new().route(
            "/slow",
            get(|| async {
                ENTERED.notify_one();
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        )
    }
    let running = Arc::new(
        start(
            config(json!({})),
            vec![routed_plugin("sluggish", slow_router)],
        )
        .await,
    );
    let slow_url = url(&running, "/api/sluggish/slow");
    let request = tokio::spawn(async move {
        let response = reqwest::get(slow_url).await.expect("slow request");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    });
    ENTERED.notified().await;
    let stopper = Arc::clone(&running);
    let stop = tokio::spawn(async move { stopper.stop().await });
    assert_eq!(
        request.await.expect("request task"),
        (200, "done".to_owned())
    );
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("stop returns")
        .expect("stop task");
    let after = reqwest::get(url(&running, "/.backstage/health/v1/liveness")).await;
    assert!(after.is_err(), "the server no longer accepts connections");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_during_shutdown_get_503() {
    let release = Arc::new(Notify::new());
    let hold = Arc::clone(&release);
    let holder = BackendPlugin::new("holder", move |registrar| {
        registrar.register_init(move |ctx| async move {
            ctx.get(&HTTP_ROUTER).await?.use_router(hello_router());
            let root = ctx.get(&ROOT_LIFECYCLE).await?;
            root.add_before_shutdown_hook(Box::new(move || {
                Box::pin(async move { hold.notified().await })
            }));
            Ok(())
        });
    });
    let running = Arc::new(start(config(json!({})), vec![holder.into()]).await);
    let stopper = Arc::clone(&running);
    let stop = tokio::spawn(async move { stopper.stop().await });
    // The before-shutdown hook holds the server open while it drains.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = get_json(&url(&running, "/api/holder/hello")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["message"], "Service is shutting down");
    let (status, body) = get_json(&url(&running, "/.backstage/health/v1/readiness")).await;
    assert_eq!(
        (status, body["message"].clone()),
        (503, json!("Backend has not started yet"))
    );
    release.notify_one();
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("stop returns")
        .expect("stop task");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_shutdown_delay_keeps_serving_503_readiness() {
    let running = Arc::new(
        start(
            config(json!({ "backend": { "lifecycle": { "serverShutdownDelay": 400 } } })),
            vec![],
        )
        .await,
    );
    let stopper = Arc::clone(&running);
    let stop = tokio::spawn(async move { stopper.stop().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = get_json(&url(&running, "/.backstage/health/v1/readiness")).await;
    assert_eq!(status, 503, "still serving, but not ready");
    assert!(!stop.is_finished(), "stop waits for the delay");
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("stop returns")
        .expect("stop task");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_lifecycle_durations_name_the_key() {
    let rows = [
        (
            "T01",
            json!({ "backend": { "lifecycle": { "serverShutdownDelay": "soon" } } }),
            "backend.lifecycle.serverShutdownDelay",
        ),
        (
            "T02",
            json!({ "backend": { "lifecycle": { "startupRequestPauseTimeout": "soon" } } }),
            "backend.lifecycle.startupRequestPauseTimeout",
        ),
    ];
    for (case, extra, key) in rows {
        let message = start_error(config(extra), vec![]).await;
        assert!(message.contains(key), "case {case}: {message}");
    }
}
