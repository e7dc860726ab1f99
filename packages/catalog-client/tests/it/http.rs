//! The client against a scripted HTTP server: what it sends and how it reads
//! answers, including Backstage's error body and 404 as "none".

use std::sync::{Arc, Mutex};

use greenroom_backend_plugin_api::ErrorName;
use greenroom_catalog_client::{
    AddLocationRequest, CatalogApi, CatalogClient, GetEntitiesByRefsRequest, GetEntitiesRequest,
    QueryEntitiesCursorRequest, QueryEntitiesRequest, ValidateEntityResponse,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the server saw: `METHOD path` and the body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Serves each canned `(status, body)` answer to one connection in turn.
async fn serve(answers: Vec<(u16, String)>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        for (status, body) in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, length) = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    break (pos + 4, length);
                }
            };
            while buf.len() < head_end + length {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let line = head.lines().next().unwrap_or_default();
            let request_line = line.rsplit_once(' ').map_or(line, |(l, _)| l).to_owned();
            let sent = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
            record.lock().unwrap().push((request_line, sent));
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    (format!("http://{addr}/api/catalog/"), seen)
}

fn not_found(message: &str) -> (u16, String) {
    (
        404,
        json!({"error":{"name":"NotFoundError","message":message},"request":{"method":"GET","url":"/x"},"response":{"statusCode":404}}).to_string(),
    )
}

#[tokio::test]
async fn reads_send_backstage_requests() {
    let entity = json!({"kind":"Component","metadata":{"name":"a","namespace":"default"}});
    let (base, seen) = serve(vec![
        (200, json!([entity]).to_string()),
        (200, json!({"items":[entity, null]}).to_string()),
        (
            200,
            json!({"items":[],"totalItems":3,"pageInfo":{"prevCursor":"p"}}).to_string(),
        ),
        (200, entity.to_string()),
        not_found("No entity named 'x' found, with kind 'component' in namespace 'default'"),
        not_found("No entity with uid u"),
    ])
    .await;
    let client = CatalogClient::new(base);
    let list = client
        .get_entities(GetEntitiesRequest {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.items, vec![entity.clone()]);
    let refs = client
        .get_entities_by_refs(GetEntitiesByRefsRequest {
            entity_refs: vec!["component:default/a".into(), "component:default/b".into()],
            fields: Some(vec!["kind".into()]),
            filter: None,
        })
        .await
        .unwrap();
    assert_eq!(refs.items, vec![Some(entity.clone()), None]);
    let page = client
        .query_entities(QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
            cursor: "c".into(),
            limit: Some(2),
            fields: None,
        }))
        .await
        .unwrap();
    assert_eq!(
        (
            page.total_items,
            page.page_info.prev_cursor.as_deref(),
            page.page_info.next_cursor
        ),
        (3, Some("p"), None)
    );
    assert_eq!(
        client.get_entity_by_ref("Component:a").await.unwrap(),
        Some(entity)
    );
    assert_eq!(client.get_entity_by_ref("component:x").await.unwrap(), None);
    assert_eq!(client.get_entity_by_uid("u").await.unwrap(), None);
    let seen = seen.lock().unwrap().clone();
    let expected = [
        ("GET /api/catalog/entities?limit=1", ""),
        (
            "POST /api/catalog/entities/by-refs",
            r#"{"entityRefs":["component:default/a","component:default/b"],"fields":["kind"]}"#,
        ),
        ("GET /api/catalog/entities/by-query?cursor=c&limit=2", ""),
        ("GET /api/catalog/entities/by-name/Component/default/a", ""),
        ("GET /api/catalog/entities/by-name/component/default/x", ""),
        ("GET /api/catalog/entities/by-uid/u", ""),
    ];
    let actual: Vec<(&str, &str)> = seen.iter().map(|(l, b)| (l.as_str(), b.as_str())).collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn errors_and_special_answers() {
    let (base, seen) = serve(vec![
        (
            409,
            json!({"error":{"name":"ConflictError","message":"Location url:https://h/x already exists"},"request":{},"response":{"statusCode":409}}).to_string(),
        ),
        (400, json!({"errors":[{"name":"InputError","message":"Policy check failed"}]}).to_string()),
        (200, String::new()),
        (
            201,
            json!({"exists":false,"location":{"id":"url:https://h/x","type":"url","target":"https://h/x"},"entities":[]}).to_string(),
        ),
    ])
    .await;
    let client = CatalogClient::new(base).with_token("t");
    let conflict = client
        .add_location(AddLocationRequest {
            target: "https://h/x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (conflict.name, conflict.message.as_str()),
        (
            ErrorName::ConflictError,
            "Location url:https://h/x already exists"
        )
    );
    let invalid = client
        .validate_entity(&json!({}), "url:https://h/x")
        .await
        .unwrap();
    assert!(
        matches!(&invalid, ValidateEntityResponse::Invalid(errors) if errors[0].message == "Policy check failed"),
        "{invalid:?}"
    );
    assert_eq!(
        client
            .validate_entity(&json!({}), "url:https://h/x")
            .await
            .unwrap(),
        ValidateEntityResponse::Valid
    );
    let dry = client
        .add_location(AddLocationRequest {
            target: "https://h/x".into(),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (dry.exists, dry.location.id.as_str()),
        (Some(false), "url:https://h/x")
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        (
            "POST /api/catalog/locations".to_owned(),
            r#"{"type":"url","target":"https://h/x"}"#.to_owned()
        )
    );
    assert_eq!(seen[3].0, "POST /api/catalog/locations?dryRun=true");
}
