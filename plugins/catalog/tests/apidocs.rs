//! API docs end to end and its renderers: the `/api-docs` table over a real
//! catalog (SQLite and PostgreSQL) with its type, owner, lifecycle and tag
//! filters, search, paging and escaping; and the entity page's "Definition"
//! tab, taken from the web registry the app plugin froze, rendering OpenAPI
//! 2 and 3, AsyncAPI 2 and 3, GraphQL, gRPC and broken definitions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::routing::get as get_route;
use greenroom_backend_plugin_api::{BackendFeature, BackendModule};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_catalog_client::{CatalogApi, CatalogClient};
use greenroom_web::{EntityTab, PageContext, WEB_EXTENSION_POINT, WebRegistry};
use serde_json::{Value, json};

#[path = "import_support/harness.rs"]
mod harness;

use harness::{get, page};

const PETSTORE: &str = r##"openapi: 3.0.3
info:
  title: Petstore
  version: 1.0.0
  description: "Sells pets. <script>alert('desc')</script>"
servers:
  - url: https://petstore.example.com/v1
    description: Production
tags:
  - name: pets
    description: Everything about pets
paths:
  /pets:
    get:
      tags: [pets]
      operationId: listPets
      summary: List all pets
      parameters:
        - name: limit
          in: query
          required: false
          description: How many items to return at one time
          schema:
            type: integer
            format: int32
        - $ref: '#/components/parameters/Status'
      responses:
        '200':
          description: A paged array of pets
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pets'
        default:
          $ref: '#/components/responses/Error'
    post:
      tags: [pets]
      operationId: createPet
      summary: Create a pet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/NewPet'
      responses:
        '201':
          description: Created
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        description: The id of the pet to retrieve
        schema:
          type: string
    get:
      tags: [pets]
      operationId: showPetById
      summary: Info for a specific pet
      responses:
        '200':
          description: Expected response to a valid request
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pet'
    delete:
      tags: [pets]
      operationId: deletePet
      deprecated: true
      responses:
        '204':
          description: Deleted
components:
  parameters:
    Status:
      name: status
      in: query
      description: Filter by status
      schema:
        type: string
        enum: [available, pending, sold]
  responses:
    Error:
      description: unexpected error
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
  schemas:
    Pet:
      type: object
      required: [id, name]
      properties:
        id:
          type: integer
          format: int64
        name:
          type: string
          description: The pet's name
        category:
          $ref: '#/components/schemas/Category'
        tag:
          type: string
    Category:
      type: object
      properties:
        label:
          type: string
        parent:
          $ref: '#/components/schemas/Category'
    NewPet:
      allOf:
        - $ref: '#/components/schemas/Pet'
        - type: object
          properties:
            ownerEmail:
              type: string
              format: email
    Pets:
      type: array
      items:
        $ref: '#/components/schemas/Pet'
    Error:
      type: object
      required: [code, message]
      properties:
        code:
          type: integer
        message:
          type: string
"##;

const SWAGGER: &str = r##"swagger: "2.0"
info:
  title: Legacy Inventory
  version: "0.9"
host: inventory.example.com
basePath: /v1
schemes: [https]
consumes: [application/json]
produces: [application/json]
paths:
  /items/{itemId}:
    put:
      summary: Replace an item
      parameters:
        - name: itemId
          in: path
          required: true
          type: string
        - name: body
          in: body
          required: true
          schema:
            $ref: '#/definitions/Item'
      responses:
        '200':
          description: The stored item
          schema:
            $ref: '#/definitions/Item'
definitions:
  Item:
    type: object
    properties:
      sku:
        type: string
        description: Stock keeping unit
      quantity:
        type: integer
"##;

const ASYNCAPI: &str = r##"asyncapi: 2.6.0
info:
  title: Order events
  version: 1.0.0
servers:
  production:
    url: broker.example.com:9092
    protocol: kafka
channels:
  orders.created:
    description: An order was placed.
    subscribe:
      operationId: onOrderCreated
      message:
        $ref: '#/components/messages/OrderCreated'
  orders.cancel:
    publish:
      operationId: cancelOrder
      message:
        name: CancelOrder
        payload:
          type: object
          properties:
            orderId:
              type: string
components:
  messages:
    OrderCreated:
      name: OrderCreated
      title: Order created
      payload:
        $ref: '#/components/schemas/Order'
  schemas:
    Order:
      type: object
      properties:
        orderId:
          type: string
        total:
          type: number
"##;

const GRAPHQL: &str = r#"# The shop's graph
"""A pet for sale"""
type Pet implements Node {
  id: ID!
  name: String
  tags(first: Int = 10): [String!]! @deprecated(reason: "use labels")
}
type Query {
  pets(status: Status): [Pet]
}
enum Status { AVAILABLE SOLD }
"#;

const PROTO: &str = r#"syntax = "proto3";
service Telemetry {
  rpc Stream (Request) returns (stream Reading);
}
message Reading {
  map<string, double> values = 1;
}
"#;

/// Broken on purpose: the flow sequence on line 4 is never closed.
const BROKEN: &str = "openapi: 3.0.0\ninfo:\n  title: Broken\n  version: [1, 2\npaths: {}\n";

/// `(name, title, type, lifecycle, owner, system, tags, definition)`.
type ApiRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
);

const APIS: [ApiRow; 6] = [
    (
        "petstore",
        Some("Petstore API"),
        "openapi",
        "production",
        "team-a",
        Some("shop"),
        "[rest, pets]",
        PETSTORE,
    ),
    (
        "legacy-inventory",
        None,
        "openapi",
        "deprecated",
        "team-b",
        None,
        "[rest]",
        SWAGGER,
    ),
    (
        "order-events",
        None,
        "asyncapi",
        "production",
        "team-b",
        Some("shop"),
        "[events, kafka]",
        ASYNCAPI,
    ),
    (
        "shop-graph",
        None,
        "graphql",
        "experimental",
        "team-a",
        None,
        "[graphql]",
        GRAPHQL,
    ),
    (
        "telemetry",
        None,
        "grpc",
        "production",
        "team-b",
        None,
        "[]",
        PROTO,
    ),
    (
        "broken-api",
        Some("<script>alert(1)</script>"),
        "openapi",
        "experimental",
        "team-a",
        None,
        "[]",
        BROKEN,
    ),
];

/// A YAML block scalar holding `text`, indented under `definition:`.
fn block(text: &str) -> String {
    let mut out = String::from("|\n");
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str("    ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn write_catalog(dir: &TestDir) -> anyhow::Result<String> {
    let mut docs = vec![
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n".to_owned(),
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-b\nspec:\n  type: team\n  children: []\n".to_owned(),
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: shop\nspec:\n  owner: team-a\n".to_owned(),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shop-frontend\nspec:\n  type: website\n  lifecycle: production\n  owner: team-a\n  providesApis: [petstore]\n".to_owned(),
    ];
    for (name, title, kind, lifecycle, owner, system, tags, definition) in APIS {
        let mut doc = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n  description: The {name} interface\n  tags: {tags}\n"
        );
        if let Some(title) = title {
            doc.push_str(&format!("  title: {}\n", serde_json::to_string(title)?));
        }
        doc.push_str(&format!(
            "spec:\n  type: {kind}\n  lifecycle: {lifecycle}\n  owner: {owner}\n"
        ));
        if let Some(system) = system {
            doc.push_str(&format!("  system: {system}\n"));
        }
        doc.push_str(&format!("  definition: {}", block(definition)));
        docs.push(doc);
    }
    let root = dir.path().join("catalog-info.yaml");
    std::fs::write(&root, docs.join("---\n"))?;
    Ok(root.display().to_string())
}

/// A module of the app plugin that hands the frozen registry to the test
/// through a route, so the test can call the registered tab directly.
fn registry_probe(slot: Arc<Mutex<Option<Arc<WebRegistry>>>>) -> BackendFeature {
    BackendModule::new("app", "apidocs-probe", move |registrar| {
        registrar.register_init(move |env| async move {
            let web = env.extension_point(&WEB_EXTENSION_POINT)?;
            web.add_routes(Router::new().route(
                "/__apidocs-probe",
                get_route(move |ctx: PageContext| async move {
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.registry);
                    "ok"
                }),
            ));
            Ok(())
        });
    })
    .into()
}

/// The registry of a running backend that has the probe.
async fn registry_of(
    backend: &TestBackend,
    slot: &Arc<Mutex<Option<Arc<WebRegistry>>>>,
) -> anyhow::Result<Arc<WebRegistry>> {
    let status = reqwest::get(backend.url("/__apidocs-probe"))
        .await?
        .status();
    anyhow::ensure!(status == 200, "probe answered {status}");
    slot.lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .context("the probe saw the registry")
}

fn api_tab(registry: &WebRegistry) -> anyhow::Result<Arc<dyn EntityTab>> {
    registry
        .tabs
        .iter()
        .find(|t| t.id() == "api")
        .cloned()
        .context("the api tab is registered")
}

struct Portal {
    backend: TestBackend,
    catalog: CatalogClient,
    registry: Arc<WebRegistry>,
}

async fn start_portal(database: Value, files: &TestDir) -> anyhow::Result<Portal> {
    let root = write_catalog(files)?;
    let config = json!({
        "backend": { "database": database },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "Location", "System", "API"] }],
            "locations": [{ "type": "file", "target": root }],
        },
    });
    let slot = Arc::new(Mutex::new(None));
    let backend = TestBackend::start(
        config,
        vec![
            greenroom_plugin_catalog_backend::plugin().into(),
            greenroom_plugin_catalog_backend::catalog_service_factory().into(),
            greenroom_web::plugin().into(),
            greenroom_plugin_catalog::module().into(),
            registry_probe(Arc::clone(&slot)),
        ],
    )
    .await?;
    // Owners and systems come from stitched relations: wait for all six
    // owner relations and the two partOf relations of the APIs.
    let http = reqwest::Client::new();
    let facets = backend.url(
        "/api/catalog/entity-facets?facet=relations.ownedBy&facet=relations.partOf&filter=kind=api",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer: Value = http.get(&facets).send().await?.json().await?;
        let sum = |facet: &str| -> u64 {
            answer["facets"][facet]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["count"].as_u64())
                .sum()
        };
        if sum("relations.ownedBy") == 6 && sum("relations.partOf") == 2 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the catalog was not ingested in time: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let registry = registry_of(&backend, &slot).await?;
    let catalog = CatalogClient::new(backend.url("/api/catalog"));
    Ok(Portal {
        backend,
        catalog,
        registry,
    })
}

/// The API names the table lists, in order (from their entity links).
fn listed(body: &str) -> Vec<String> {
    let Some(start) = body.find("<tbody>") else {
        return Vec::new();
    };
    let end = body[start..]
        .find("</tbody>")
        .map_or(body.len(), |e| start + e);
    body[start..end]
        .split("<a href=\"/catalog/default/api/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The `href` of the pager's "Next page" link, unescaped.
fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let before = &body[..at];
    let href = before.rfind("href=\"")?;
    let value = &before[href + 6..];
    let value = &value[..value.find('"')?];
    Some(value.replace("&amp;", "&"))
}

async fn table_checks(portal: &Portal, name: &str) -> anyhow::Result<()> {
    let backend = &portal.backend;
    let body = page(backend, "/api-docs").await?;
    let mut all = listed(&body);
    all.sort();
    assert_eq!(
        all,
        [
            "broken-api",
            "legacy-inventory",
            "order-events",
            "petstore",
            "shop-graph",
            "telemetry"
        ],
        "{name}: every API and nothing else"
    );
    assert!(body.contains("All APIs (6)"), "{name}: total");
    assert!(!body.contains("shop-frontend"), "{name}: no components");
    // The sidebar item is current; the columns are Backstage's.
    assert!(body.contains(r#"<a href="/api-docs" aria-current="page">"#));
    for column in [
        "Name",
        "System",
        "Owner",
        "Type",
        "Lifecycle",
        "Description",
        "Tags",
    ] {
        assert!(
            body.contains(&format!(">{column}<")),
            "{name}: column {column}"
        );
    }
    // Row contents: title as link text, owner and system links, tags.
    assert!(body.contains(r#"<a href="/catalog/default/api/petstore">Petstore API</a>"#));
    assert!(body.contains(r#"<a href="/catalog/default/group/team-a">team-a</a>"#));
    assert!(body.contains(r#"<a href="/catalog/default/system/shop">shop</a>"#));
    assert!(body.contains(r#"<span class="badge">kafka</span>"#));
    // Facet counts in the selects, all labelled.
    assert!(body.contains(">openapi (3)</option>"), "{name}: type facet");
    assert!(body.contains(">team-b (3)</option>"), "{name}: owner facet");
    assert!(body.contains(">experimental (2)</option>"));
    assert!(body.contains(">rest (2)</option>"));
    for filter in ["type", "owner", "lifecycle", "tag"] {
        assert!(body.contains(&format!(r#"<label for="filter-{filter}">"#)));
    }
    assert!(body.contains(r#"<label for="api-search">"#));
    assert!(body.contains(r#"href="/catalog-import">Register existing API</a>"#));
    // The `<script>` title is text.
    assert!(!body.contains("<script>alert(1)"), "{name}: escaped title");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    for (query, expected) in [
        (
            "type=openapi",
            vec!["broken-api", "legacy-inventory", "petstore"],
        ),
        (
            "type=OpenAPI",
            vec!["broken-api", "legacy-inventory", "petstore"],
        ),
        (
            "owner=team-b",
            vec!["legacy-inventory", "order-events", "telemetry"],
        ),
        (
            "owner=group:default/team-a",
            vec!["broken-api", "petstore", "shop-graph"],
        ),
        ("lifecycle=experimental", vec!["broken-api", "shop-graph"]),
        ("tag=events", vec!["order-events"]),
        ("type=openapi&owner=team-a", vec!["broken-api", "petstore"]),
        ("q=order", vec!["order-events"]),
        ("q=pets&type=openapi", vec!["petstore"]),
    ] {
        let body = page(backend, &format!("/api-docs?{query}")).await?;
        let mut got = listed(&body);
        got.sort();
        assert_eq!(got, expected, "{name}: {query}");
        assert!(
            body.contains(&format!("All APIs ({})", expected.len())),
            "{name}: {query} total"
        );
    }
    // The selected filter stays selected in the form.
    let body = page(backend, "/api-docs?lifecycle=deprecated").await?;
    assert!(body.contains(r#"<option value="deprecated" selected>deprecated (1)</option>"#));
    // Nothing matches: an empty state, not an error.
    let body = page(backend, "/api-docs?tag=nothing-has-this").await?;
    assert!(body.contains("No APIs match these filters."));

    // Sorting by type, descending; then paging two at a time.
    let body = page(backend, "/api-docs?sort=-type").await?;
    let order = listed(&body);
    assert_eq!(order.len(), 6, "{name}: every API when sorted");
    let types: Vec<&str> = order
        .iter()
        .map(|n| APIS.iter().find(|a| a.0 == n).map_or("", |a| a.2))
        .collect();
    let mut sorted = types.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(types, sorted, "{name}: sorted by type descending");

    let mut seen = Vec::new();
    let mut path = "/api-docs?limit=2".to_owned();
    for _ in 0..5 {
        let body = page(backend, &path).await?;
        let names = listed(&body);
        assert!(names.len() <= 2, "{name}: page size");
        assert!(body.contains("All APIs (6)"), "{name}: total on every page");
        seen.extend(names);
        match next_link(&body) {
            Some(next) => path = next,
            None => break,
        }
    }
    let mut expected_all: Vec<String> = APIS.iter().map(|a| a.0.to_owned()).collect();
    expected_all.sort();
    assert_eq!(seen, expected_all, "{name}: paged by name, every API once");

    // Bad input answers 400 with an error state, never a panic.
    for query in ["limit=0", "limit=abc", "sort=bogus", "cursor=not-a-cursor"] {
        let (status, body) = get(backend, &format!("/api-docs?{query}")).await?;
        assert_eq!(status, 400, "{name}: {query}: {body}");
        assert!(body.contains(r#"role="alert""#), "{name}: {query}");
    }
    let long = "x".repeat(500);
    let (status, _) = get(backend, &format!("/api-docs?q={long}")).await?;
    assert_eq!(status, 400);
    Ok(())
}

async fn render(portal: &Portal, name: &str) -> anyhow::Result<String> {
    let entity = portal
        .catalog
        .get_entity_by_ref(&format!("api:default/{name}"))
        .await?
        .with_context(|| format!("{name} exists"))?;
    let tab = api_tab(&portal.registry)?;
    assert!(tab.applies_to(&entity));
    let ctx = PageContext::detached(
        &format!("/catalog/default/api/{name}/api"),
        "",
        Arc::clone(&portal.registry),
    );
    let markup = tab
        .render(&ctx, &entity)
        .await
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok(markup.into_string())
}

async fn tab_checks(portal: &Portal) -> anyhow::Result<()> {
    let tab = api_tab(&portal.registry)?;
    assert_eq!(tab.title(), "Definition");
    let component = portal
        .catalog
        .get_entity_by_ref("component:default/shop-frontend")
        .await?
        .context("component")?;
    assert!(!tab.applies_to(&component), "only API entities get the tab");

    let html = render(portal, "petstore").await?;
    check_petstore(&html);
    let html = render(portal, "legacy-inventory").await?;
    check_swagger(&html);
    let html = render(portal, "order-events").await?;
    check_asyncapi(&html);
    let html = render(portal, "shop-graph").await?;
    check_graphql(&html);
    let html = render(portal, "telemetry").await?;
    assert!(
        html.contains(r#"<pre class="code">syntax = &quot;proto3&quot;;"#),
        "{html}"
    );
    assert!(html.contains("map&lt;string, double&gt; values = 1;"));
    assert!(html.contains("Definitions of type <code>grpc</code> are shown as text."));
    let html = render(portal, "broken-api").await?;
    assert!(
        html.contains("This definition could not be rendered."),
        "{html}"
    );
    assert!(html.contains("Not valid OpenAPI: line "), "{html}");
    assert!(html.contains(r#"<pre class="code">openapi: 3.0.0"#));
    Ok(())
}

fn check_petstore(html: &str) {
    // Info and servers; the description's markup is text.
    assert!(html.contains("Petstore"), "{html}");
    assert!(html.contains(r#"<span class="badge">1.0.0</span>"#));
    assert!(
        !html.contains("<script>alert('desc')"),
        "escaped description"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#39;desc&#39;)&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert('desc')&lt;/script&gt;")
    );
    assert!(html.contains("<code>https://petstore.example.com/v1</code> — Production"));
    // Operations grouped under their tag, with method badges.
    assert!(html.contains("<h3>pets</h3>"));
    assert!(html.contains(
        r#"<span class="api-method api-method-get">GET</span> <code class="api-path">/pets</code>"#
    ));
    assert!(html.contains(r#"<span class="api-method api-method-delete">DELETE</span> <code class="api-path">/pets/{petId}</code>"#));
    assert!(html.contains("List all pets"));
    assert!(html.contains(r#"id="op-listPets""#));
    assert!(html.contains(r##"<a href="#op-listPets"><span class="api-method api-method-get">GET</span> <code>/pets</code></a>"##));
    assert!(html.contains(r##"<a href="#op-deletePet">"##));
    assert!(html.contains("deprecated"));
    // Parameters: inline, `$ref`ed and path-level (merged into each operation).
    assert!(html.contains("<td><code>limit</code></td><td>query</td><td>no</td><td><code>integer (int32)</code></td><td>How many items to return at one time</td>"), "{html}");
    assert!(html.contains(
        "<td><code>status</code></td><td>query</td><td>no</td><td><code>string</code></td>"
    ));
    assert!(html.contains("<code>available</code>, <code>pending</code>, <code>sold</code>"));
    assert_eq!(
        html.matches("<td><code>petId</code></td><td>path</td><td>yes</td>")
            .count(),
        2,
        "the path parameter on both of its operations"
    );
    // Request body and responses with resolved schemas.
    assert!(html.contains("Request body"));
    assert!(html.contains("<code>NewPet</code>"));
    assert!(html.contains("All of"));
    assert!(html.contains(r#"<code class="api-prop-name">ownerEmail</code> <span class="api-prop-type">string (email)</span>"#));
    assert!(html.contains(r#"<code class="api-prop-name">name</code> <span class="api-prop-type">string</span> <span class="badge badge-warn">required</span>"#), "{html}");
    assert!(html.contains("The pet&#39;s name") || html.contains("The pet's name"));
    assert!(html.contains(r#"<span class="api-prop-type">Category</span>"#));
    assert!(html.contains("array of Pet"));
    assert!(html.contains(r#"<span class="badge badge-ok">200</span>"#));
    assert!(html.contains(r#"<span class="badge badge-info">default</span>"#));
    assert!(html.contains("unexpected error"), "the $ref'd response");
    assert!(html.contains(r#"<code class="api-prop-name">code</code>"#));
    // Category refers to itself: drawn once, then marked as circular.
    assert!(html.contains("(circular reference, shown above)"));
    assert!(!html.contains("Unresolved reference"));
}

fn check_swagger(html: &str) {
    assert!(html.contains("Legacy Inventory"), "{html}");
    assert!(html.contains("Swagger 2.0"));
    // An operation without an id gets one from its method and path.
    assert!(
        html.contains(r##"<a href="#op-put--items--itemId-">"##),
        "{html}"
    );
    assert!(html.contains(r#"id="op-put--items--itemId-""#));
    assert!(html.contains("<code>https://inventory.example.com/v1</code>"));
    assert!(html.contains(r#"<span class="api-method api-method-put">PUT</span> <code class="api-path">/items/{itemId}</code>"#));
    assert!(html.contains(
        "<td><code>itemId</code></td><td>path</td><td>yes</td><td><code>string</code></td>"
    ));
    // The body parameter is the request body, not a table row.
    assert!(!html.contains("<td><code>body</code></td>"));
    assert!(html.contains("Request body"));
    assert!(html.contains("<code>application/json</code>"));
    assert!(html.contains(r#"<code class="api-prop-name">sku</code>"#));
    assert!(html.contains("Stock keeping unit"));
    assert!(
        html.contains("<code>Item</code>"),
        "#/definitions ref resolved"
    );
}

fn check_asyncapi(html: &str) {
    assert!(html.contains("Order events"), "{html}");
    assert!(html.contains("<code>broker.example.com:9092</code>"));
    assert!(html.contains(r#"<span class="badge">kafka</span>"#));
    assert!(html.contains("<code>orders.created</code>"));
    assert!(html.contains("An order was placed."));
    assert!(html.contains(r#"<span class="api-method api-action-subscribe">SUBSCRIBE</span> <code>onOrderCreated</code>"#));
    assert!(html.contains(
        r#"<span class="api-method api-action-publish">PUBLISH</span> <code>cancelOrder</code>"#
    ));
    assert!(html.contains("<code>OrderCreated</code> Order created"));
    assert!(html.contains("<code>CancelOrder</code>"));
    assert!(html.contains(
        r#"<code class="api-prop-name">total</code> <span class="api-prop-type">number</span>"#
    ));
    assert!(html.contains(r#"<code class="api-prop-name">orderId</code>"#));
}

fn check_graphql(html: &str) {
    assert!(html.contains(r#"<pre class="code graphql">"#), "{html}");
    assert!(
        html.contains(r#"<span class="gql-comment"># The shop&#39;s graph</span>"#)
            || html.contains(r#"<span class="gql-comment"># The shop's graph</span>"#),
        "{html}"
    );
    assert!(html.contains(
        r#"<span class="gql-string">&quot;&quot;&quot;A pet for sale&quot;&quot;&quot;</span>"#
    ));
    assert!(html.contains(r#"<span class="gql-keyword">type</span> <span class="gql-type">Pet</span> <span class="gql-keyword">implements</span> <span class="gql-type">Node</span>"#));
    assert!(
        html.contains(r#"<span class="gql-field">id</span>: <span class="gql-type">ID</span>!"#)
    );
    assert!(html.contains(r#"<span class="gql-field">tags</span>(<span class="gql-arg">first</span>: <span class="gql-type">Int</span> = <span class="gql-number">10</span>): [<span class="gql-type">String</span>!]!"#), "{html}");
    assert!(html.contains(r#"<span class="gql-directive">@deprecated</span>"#));
    assert!(html.contains(r#"<span class="gql-string">&quot;use labels&quot;</span>"#));
    assert!(html.contains(r#"<span class="gql-keyword">enum</span> <span class="gql-type">Status</span> { AVAILABLE SOLD }"#));
}

async fn run(database: Value, name: &str) -> anyhow::Result<()> {
    let files = TestDir::new();
    let portal = start_portal(database, &files).await?;
    let outcome = async {
        table_checks(&portal, name).await?;
        tab_checks(&portal).await
    }
    .await;
    portal.backend.stop().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_docs_table_and_definition_tab_on_sqlite() -> anyhow::Result<()> {
    let dir = TestDir::new();
    run(dir.sqlite_database_config(), "sqlite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_docs_table_and_definition_tab_on_postgres() -> anyhow::Result<()> {
    let pg = TestPostgres::new();
    let outcome = run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
    outcome
}

// ---------------------------------------------------------------------------
// Renderer tests: definitions given directly to the registered tab.

/// A backend with only the web plugin and the catalog's pages (over a client
/// that is never called: the tab reads nothing from the catalog).
async fn tab_only() -> anyhow::Result<(TestBackend, Arc<dyn EntityTab>, Arc<WebRegistry>)> {
    let slot = Arc::new(Mutex::new(None));
    let unused: Arc<dyn CatalogApi> =
        Arc::new(CatalogClient::new("http://127.0.0.1:9/api/catalog"));
    let backend = TestBackend::start(
        json!({}),
        vec![
            greenroom_web::plugin().into(),
            greenroom_plugin_catalog::module_with(unused).into(),
            registry_probe(Arc::clone(&slot)),
        ],
    )
    .await?;
    let registry = registry_of(&backend, &slot).await?;
    let tab = api_tab(&registry)?;
    Ok((backend, tab, registry))
}

async fn render_api(
    tab: &Arc<dyn EntityTab>,
    registry: &Arc<WebRegistry>,
    kind: &str,
    definition: Value,
) -> String {
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": { "name": "x", "namespace": "default" },
        "spec": { "type": kind, "lifecycle": "production", "owner": "team-a", "definition": definition },
    });
    let ctx = PageContext::detached("/catalog/default/api/x/api", "", Arc::clone(registry));
    match tab.render(&ctx, &entity).await {
        Ok(markup) => markup.into_string(),
        Err(e) => panic!("the tab failed: {e}"),
    }
}

fn example(path: &str) -> anyhow::Result<String> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path);
    std::fs::read_to_string(&full).with_context(|| format!("read {}", full.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_the_example_definitions_and_json_openapi() -> anyhow::Result<()> {
    let (backend, tab, registry) = tab_only().await?;

    // The repository's examples: an OpenAPI 3 with components and an AsyncAPI 2.
    let html = render_api(
        &tab,
        &registry,
        "openapi",
        json!(example("apis/sailings-api.openapi.yaml")?),
    )
    .await;
    assert!(html.contains("Sailings API"), "{html}");
    assert!(html.contains("Search scheduled crossings"));
    assert!(
        html.contains(
            "<td><code>from</code></td><td>query</td><td>yes</td><td><code>PortCode</code></td>"
        ),
        "{html}"
    );
    assert!(html.contains("<h3>timetable</h3>") && html.contains("<h3>bookings</h3>"));
    assert!(html.contains("<code>BookingRequest</code>"));
    assert!(!html.contains("Unresolved reference"), "{html}");
    let html = render_api(
        &tab,
        &registry,
        "asyncapi",
        json!(example("apis/cargo-events.asyncapi.yaml")?),
    )
    .await;
    assert!(
        html.contains("<code>cargo.manifest.submitted</code>"),
        "{html}"
    );
    assert!(html.contains("<code>ManifestSubmitted</code>"));
    assert!(html.contains(r#"<span class="badge">kafka-secure</span>"#));

    // The same petstore as JSON renders the same operations.
    let json_text =
        serde_json::to_string_pretty(&greenroom_catalog_model::yaml::parse_value(PETSTORE)?)?;
    let html = render_api(&tab, &registry, "openapi", json!(json_text)).await;
    check_petstore(&html);

    // AsyncAPI 2: an operation with several messages (`oneOf`).
    let one_of = r##"asyncapi: 2.0.0
info: {title: Mixed, version: '1'}
channels:
  updates:
    publish:
      message:
        oneOf:
          - $ref: '#/components/messages/Created'
          - name: Deleted
            payload: {type: object, properties: {id: {type: string}}}
components:
  messages:
    Created:
      payload: {type: object, properties: {createdAt: {type: string, format: date-time}}}
"##;
    let html = render_api(&tab, &registry, "asyncapi", json!(one_of)).await;
    assert!(html.contains("<code>Created</code>"), "{html}");
    assert!(html.contains("<code>Deleted</code>"));
    assert!(html.contains(
        r#"<code class="api-prop-name">createdAt</code> <span class="api-prop-type">string (date-time)</span>"#
    ));

    // AsyncAPI 3: channels with addresses, send/receive operations, messages.
    let v3 = r##"asyncapi: 3.0.0
info:
  title: Lights
  version: 2.0.0
servers:
  mosquitto:
    host: test.mosquitto.org
    protocol: mqtt
channels:
  lightMeasured:
    address: smartylighting/streetlights/{streetlightId}/lighting/measured
    messages:
      lightMeasuredMessage:
        $ref: '#/components/messages/LightMeasured'
operations:
  onLightMeasured:
    action: receive
    summary: Inform about environmental lighting conditions.
    channel:
      $ref: '#/channels/lightMeasured'
    messages:
      - $ref: '#/channels/lightMeasured/messages/lightMeasuredMessage'
components:
  messages:
    LightMeasured:
      name: LightMeasured
      payload:
        type: object
        properties:
          lumens:
            type: integer
            minimum: 0
"##;
    let html = render_api(&tab, &registry, "asyncapi", json!(v3)).await;
    assert!(
        html.contains("<code>smartylighting/streetlights/{streetlightId}/lighting/measured</code>"),
        "{html}"
    );
    assert!(html.contains(r#"<span class="api-method api-action-receive">RECEIVE</span>"#));
    assert!(html.contains("Inform about environmental lighting conditions."));
    assert!(html.contains("<code>LightMeasured</code>"));
    assert!(html.contains(
        r#"<code class="api-prop-name">lumens</code> <span class="api-prop-type">integer</span>"#
    ));
    assert!(html.contains("<code>test.mosquitto.org</code>"));

    backend.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_hostile_and_odd_definitions_fall_back_safely() -> anyhow::Result<()> {
    let (backend, tab, registry) = tab_only().await?;

    // Invalid JSON names its line and column.
    let html = render_api(
        &tab,
        &registry,
        "openapi",
        json!("{\n  \"openapi\": \"3.0.0\",\n  \"info\": }\n"),
    )
    .await;
    assert!(
        html.contains("Not valid OpenAPI: line 3, column 11: invalid JSON: expected value<"),
        "{html}"
    );
    assert!(html.contains(r#"<pre class="code">{"#));
    // Leading blank lines count in the position.
    let html = render_api(&tab, &registry, "openapi", json!("\n\n{\"openapi\": }")).await;
    assert!(html.contains("line 3, column 13"), "{html}");
    // Broken YAML names its position too.
    let html = render_api(
        &tab,
        &registry,
        "asyncapi",
        json!(BROKEN.replace("openapi: 3.0.0", "asyncapi: 2.6.0")),
    )
    .await;
    assert!(
        html.contains("Not valid AsyncAPI: line 5, column 6: invalid YAML"),
        "{html}"
    );
    // Parsable, but not the format its type claims.
    let html = render_api(&tab, &registry, "openapi", json!("just: yaml\n")).await;
    assert!(
        html.contains("neither an &#39;openapi&#39; nor a &#39;swagger&#39;")
            || html.contains("neither an 'openapi' nor a 'swagger'"),
        "{html}"
    );
    let html = render_api(
        &tab,
        &registry,
        "openapi",
        json!("openapi: 1.0.0\npaths: {}\n"),
    )
    .await;
    assert!(html.contains("unsupported OpenAPI version"), "{html}");
    let html = render_api(&tab, &registry, "openapi", json!("- a\n- b\n")).await;
    assert!(html.contains("not a mapping"), "{html}");
    let html = render_api(
        &tab,
        &registry,
        "openapi",
        json!("openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths: [1]\n"),
    )
    .await;
    assert!(
        html.contains("&#39;paths&#39; is not a mapping")
            || html.contains("'paths' is not a mapping"),
        "{html}"
    );

    // Unknown types and missing types are shown raw, escaped.
    let html = render_api(&tab, &registry, "trpc", json!("<b>router</b>")).await;
    assert!(
        html.contains(r#"<pre class="code">&lt;b&gt;router&lt;/b&gt;</pre>"#),
        "{html}"
    );
    assert!(html.contains("<code>trpc</code>"));
    // No definition, or one that is not text.
    let html = render_api(&tab, &registry, "openapi", Value::Null).await;
    assert!(html.contains("This API has no definition."));
    let html = render_api(&tab, &registry, "openapi", json!({"openapi": "3.0.0"})).await;
    assert!(html.contains("definition is not text"));

    // Hostile nesting is refused before any parser recurses.
    let deep = format!("openapi: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let html = render_api(&tab, &registry, "openapi", json!(deep)).await;
    assert!(
        html.contains("nests more than"),
        "deep flow nesting refused"
    );
    let deep_json = format!(
        "{{\"openapi\": \"3.0.0\", \"x\": {}1{}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let html = render_api(&tab, &registry, "openapi", json!(deep_json)).await;
    assert!(html.contains("nests more than"));
    let compact = format!("openapi: 3.0.0\nx:\n  {}deep\n", "- ".repeat(200_000));
    let html = render_api(&tab, &registry, "openapi", json!(compact)).await;
    assert!(
        html.contains("nests more than"),
        "compact block nesting refused"
    );
    // A stray quote does not hide brackets from the bound.
    let quoted = format!(
        "openapi: 3.0.0\nx: 5\" screen\ny: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let html = render_api(&tab, &registry, "openapi", json!(quoted)).await;
    assert!(html.contains("nests more than"));
    // Block nesting by indentation within the size bound is parsed, then
    // refused by depth before any renderer walks it.
    let mut indented =
        String::from("openapi: 3.0.0\ninfo: {title: Deep, version: '1'}\npaths: {}\nx:\n");
    for level in 1..200 {
        indented.push_str(&" ".repeat(level));
        indented.push_str("k:\n");
    }
    let html = render_api(&tab, &registry, "openapi", json!(indented)).await;
    assert!(html.contains("nests more than 100 levels"), "{html}");
    // An oversized definition is shown raw, cut at the bound, with a notice.
    let huge = format!("openapi: 3.0.0\ndescription: {}\n", "é".repeat(1_500_000));
    let html = render_api(&tab, &registry, "openapi", json!(huge)).await;
    assert!(html.contains("bytes this page renders"), "size notice");
    assert!(html.len() < 2_200_000 + 10_000, "the raw text is cut");

    // Cycles and chains of refs: a ref to itself, a two-schema loop, a ref to
    // nowhere, and a schema that refers to its own array items.
    let cyclic = r##"openapi: 3.0.0
info: {title: Cycles, version: '1'}
paths:
  /a:
    get:
      parameters:
        - $ref: '#/components/parameters/Loop'
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/A'
        '404':
          $ref: '#/components/responses/Missing'
        '500':
          description: self
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Self'
components:
  parameters:
    Loop:
      $ref: '#/components/parameters/Loop'
  schemas:
    A:
      type: object
      properties:
        b:
          $ref: '#/components/schemas/B'
        list:
          type: array
          items:
            $ref: '#/components/schemas/A'
        ghost:
          $ref: '#/components/schemas/Nowhere'
    B:
      type: object
      properties:
        a:
          $ref: '#/components/schemas/A'
    Self:
      $ref: '#/components/schemas/Self'
"##;
    let html = render_api(&tab, &registry, "openapi", json!(cyclic)).await;
    assert!(
        html.contains(r#"<code class="api-path">/a</code>"#),
        "{html}"
    );
    assert!(html.contains("(circular reference, shown above)"));
    assert!(html.contains("Unresolved reference <code>#/components/responses/Missing</code>"));
    assert!(html.contains(r#"<span class="api-prop-type">Nowhere</span>"#));
    assert!(html.contains("Unresolved reference <code>#/components/schemas/Nowhere</code>"));

    // A wide and deep generated schema stays bounded.
    let mut schemas = serde_json::Map::new();
    for i in 0..200 {
        let mut properties = serde_json::Map::new();
        for j in 0..20 {
            properties.insert(
                format!("p{j}"),
                json!({ "$ref": format!("#/components/schemas/S{}", (i + j + 1) % 200) }),
            );
        }
        schemas.insert(
            format!("S{i}"),
            json!({ "type": "object", "properties": properties }),
        );
    }
    let wide = json!({
        "openapi": "3.0.0",
        "info": { "title": "Wide", "version": "1" },
        "paths": { "/w": { "get": { "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/S0" } } } } } } } },
        "components": { "schemas": schemas },
    });
    let html = render_api(&tab, &registry, "openapi", json!(wide.to_string())).await;
    assert!(
        html.contains("(more of this schema is not shown)") || html.contains("nested too deep"),
        "bounded"
    );
    assert!(
        html.len() < 5_000_000,
        "bounded output: {} bytes",
        html.len()
    );

    // GraphQL with odd input still reproduces the text (escaped).
    let odd = "type Q { s: String = \"unterminated\n  emoji: String # ☃ <b>\n}\n\"\"\"never closed";
    let html = render_api(&tab, &registry, "graphql", json!(odd)).await;
    assert!(html.contains("☃ &lt;b&gt;"), "{html}");
    assert!(html.contains("never closed"));

    let unicode = "\"\"\"Grüße ☃ from the \\\"\"\" café\"\"\"\ntype Ü { naïve: String }\n";
    let html = render_api(&tab, &registry, "graphql", json!(unicode)).await;
    assert!(html.contains("Grüße ☃"), "{html}");
    assert!(html.contains("naïve"));

    // Every prefix of real definitions (cut at any character) renders
    // without a panic: as a fallback notice or as a partial document.
    for (kind, text) in [
        ("openapi", PETSTORE),
        ("openapi", SWAGGER),
        ("asyncapi", ASYNCAPI),
        ("graphql", GRAPHQL),
        ("graphql", unicode),
    ] {
        let cuts: Vec<usize> = (0..=text.len())
            .step_by(7)
            .filter(|i| text.is_char_boundary(*i))
            .collect();
        for cut in cuts {
            let html = render_api(&tab, &registry, kind, json!(&text[..cut])).await;
            assert!(html.contains("api-definition-card"), "{kind} cut at {cut}");
        }
    }

    backend.stop().await;
    Ok(())
}
