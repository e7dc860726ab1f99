//! The admin routes: task listing with lease and worker state, trigger and
//! cancel with Backstage's error bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenroom_backend_plugin_api::services::{Frequency, SchedulerService, TaskScope};
use greenroom_backend_scheduler::admin_router;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Behaviour, KINDS, Recorder, TestDb, eventually, instance, task};

async fn call(router: &axum::Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("json body")
    };
    (status, body)
}

const TASKS: &str = "/.backstage/scheduler/v1/tasks";

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_list_trigger_and_cancel() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let a = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let global = task(
            "sync",
            Frequency::Manual,
            Duration::from_secs(60),
            TaskScope::Global,
            recorder.body(0, Behaviour::UntilCancelled),
        );
        let mut local = task(
            "tidy",
            Frequency::Cron("0 3 * * *".to_owned()),
            Duration::from_secs(90),
            TaskScope::Local,
            recorder.body(1, Behaviour::Work(Duration::ZERO)),
        );
        local.initial_delay = Some(Duration::from_secs(3600));
        a.scheduler.schedule_task(global).await.expect("schedule");
        a.scheduler.schedule_task(local).await.expect("schedule");
        let router = admin_router(Arc::clone(&a.scheduler));

        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, body) = call(&router, "GET", TASKS).await;
        assert_eq!(status, StatusCode::OK, "{kind:?}");
        assert_eq!(
            body,
            json!({ "tasks": [
                {
                    "taskId": "sync",
                    "pluginId": "demo",
                    "scope": "global",
                    "settings": { "version": 2, "cadence": "manual", "timeoutAfterDuration": "PT1M" },
                    "taskState": { "status": "idle" },
                    "workerState": { "status": "idle" },
                },
                {
                    "taskId": "tidy",
                    "pluginId": "demo",
                    "scope": "local",
                    "settings": {
                        "version": 2,
                        "cadence": "0 3 * * *",
                        "timeoutAfterDuration": "PT1M30S",
                        "initialDelayDuration": "PT1H",
                    },
                    "taskState": { "status": "idle" },
                    "workerState": { "status": "initial-wait" },
                },
            ]}),
            "{kind:?}"
        );

        let (status, body) = call(&router, "POST", &format!("{TASKS}/sync/trigger")).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null), "43 {kind:?}");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{kind:?}"
        );

        let (status, body) = call(&router, "GET", TASKS).await;
        assert_eq!(status, StatusCode::OK);
        let state = &body["tasks"][0]["taskState"];
        assert_eq!(state["status"], "running", "{kind:?}: {body}");
        assert!(
            state["startedAt"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z')),
            "{state}"
        );
        assert!(state["timesOutAt"].as_str().is_some(), "{state}");
        assert_eq!(
            body["tasks"][0]["workerState"]["status"], "running",
            "{kind:?}"
        );

        let (status, body) = call(&router, "POST", &format!("{TASKS}/sync/trigger")).await;
        assert_eq!(status, StatusCode::CONFLICT, "43 {kind:?}");
        assert_eq!(
            body,
            json!({
                "error": { "name": "ConflictError", "message": "Task sync is currently running" },
                "request": { "method": "POST", "url": format!("{TASKS}/sync/trigger") },
                "response": { "statusCode": 409 },
            }),
            "{kind:?}"
        );

        let (status, _) = call(&router, "POST", &format!("{TASKS}/sync/cancel")).await;
        assert_eq!(status, StatusCode::OK, "{kind:?}");
        assert!(
            eventually(Duration::from_secs(2), || recorder.runs()[0].end.is_some()).await,
            "{kind:?}: cancel did not reach the run"
        );
        let (status, body) = call(&router, "GET", TASKS).await;
        assert_eq!(status, StatusCode::OK);
        let state = &body["tasks"][0]["taskState"];
        assert_eq!(state["status"], "idle", "{kind:?}: {body}");
        assert!(
            state["lastRunError"]
                .as_str()
                .is_some_and(|e| e.contains("Task was cancelled")),
            "{kind:?}: {state}"
        );
        assert!(
            state["lastRunEndedAt"].as_str().is_some(),
            "{kind:?}: {state}"
        );
        // A cancelled manual task waits for the next trigger.
        assert!(state.get("startsAt").is_none(), "{kind:?}: {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            recorder.count(),
            1,
            "{kind:?}: the cancelled task started again"
        );

        let (status, body) = call(&router, "POST", &format!("{TASKS}/sync/cancel")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind:?}: {body}");
        let (status, body) = call(&router, "POST", &format!("{TASKS}/nope/trigger")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind:?}");
        assert_eq!(body["error"]["name"], "NotFoundError", "{kind:?}");
        let (status, _) = call(&router, "POST", &format!("{TASKS}/nope/cancel")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind:?}");

        a.shutdown.cancel();
        a.scheduler.stopped().await;
    }
}
