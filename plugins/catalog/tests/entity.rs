//! The entity page over HTTP on a whole backend (catalog, web plugin and the
//! catalog's pages) with a small YAML catalog, on SQLite and PostgreSQL: the
//! header and About card, links from annotations, the relations graph, the
//! cards per kind, escaping, a broken edit shown as an error banner over the
//! last good version, inspect, refresh, the unregister flow of a registered
//! location, the 404 page and case-insensitive lookups.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendFeature, BackendModule};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_web::{EntityCard, EntityTab, PageContext, WEB_EXTENSION_POINT};
use maud::{Markup, html};
use serde_json::{Value, json};

#[path = "import_support/harness.rs"]
mod harness;

use harness::{SourceHost, serve_dir};

const ROOT: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: root
spec:
  targets: [./all.yaml, ./fragile.yaml]
";

const ALL: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: commerce
  description: Everything that sells.
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: shop
  title: The Shop
spec:
  owner: team-a
  domain: commerce
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  profile:
    displayName: Team A
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a-sub
spec:
  type: sub-team
  parent: team-a
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jdoe
spec:
  profile:
    displayName: Jane Doe
    email: jdoe@example.com
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
  title: Web Frontend
  description: The shop's storefront.
  tags: [rust, frontend]
  links:
    - url: https://docs.example.com/web
      title: Runbook
  annotations:
    backstage.io/view-url: https://git.example.com/shop/web/blob/main/catalog-info.yaml
    backstage.io/edit-url: https://git.example.com/shop/web/edit/main/catalog-info.yaml
spec:
  type: website
  lifecycle: production
  owner: team-a
  system: shop
  providesApis: [orders-api]
  dependsOn: [component:auth-svc, resource:db]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: auth-svc
spec:
  type: service
  lifecycle: experimental
  owner: user:jdoe
  system: shop
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  system: shop
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: db
spec:
  type: database
  owner: team-a
  system: shop
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: weird
  title: <script>alert(1)</script>
  description: Has <b>markup</b> & more.
  links:
    - url: javascript:alert(2)
      title: Sneaky
spec:
  type: service
  lifecycle: production
  owner: team-a
"#;

fn fragile(tag: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: fragile\n  description: Version with tag {tag}.\n  tags: [{tag}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

const EXTRA: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: extra-one
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: extra-two
spec:
  type: library
  lifecycle: production
  owner: team-a
";

/// Entities of the config location: the root Location, the generated
/// Location of the config entry, ten in all.yaml and one in fragile.yaml.
const CONFIG_ENTITIES: u64 = 13;

/// A tab another plugin adds to components.
struct RunbookTab;

#[async_trait]
impl EntityTab for RunbookTab {
    fn id(&self) -> &str {
        "runbook"
    }
    fn title(&self) -> &str {
        "Runbook"
    }
    fn applies_to(&self, entity: &Value) -> bool {
        entity["kind"] == "Component"
    }
    async fn render(&self, _page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let name = entity["metadata"]["name"].as_str().unwrap_or_default();
        Ok(html! { p id="runbook-tab" { "Runbook of " (name) } })
    }
}

/// A card another plugin adds to every entity; it always fails.
struct FailingCard;

#[async_trait]
impl EntityCard for FailingCard {
    fn id(&self) -> &str {
        "failing-card"
    }
    fn applies_to(&self, _entity: &Value) -> bool {
        true
    }
    async fn render(&self, _page: &PageContext, _entity: &Value) -> Result<Markup, String> {
        Err("the <b>card</b> broke".to_owned())
    }
}

/// A module of the app plugin adding the tab and the card.
fn extras() -> BackendFeature {
    BackendModule::new("app", "entity-extras", |registrar| {
        registrar.register_init(|env| async move {
            let web = env.extension_point(&WEB_EXTENSION_POINT)?;
            web.add_entity_tab(std::sync::Arc::new(RunbookTab));
            web.add_entity_card(std::sync::Arc::new(FailingCard));
            Ok(())
        });
    })
    .into()
}

/// Polls `check` every 100 ms for up to 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running portal and the folders it reads.
struct Portal {
    backend: TestBackend,
    http: reqwest::Client,
    files: TestDir,
    remote_files: TestDir,
    remote: SourceHost,
}

impl Portal {
    async fn start(database: Value) -> anyhow::Result<Portal> {
        let files = TestDir::new();
        std::fs::write(files.path().join("catalog-info.yaml"), ROOT)?;
        std::fs::write(files.path().join("all.yaml"), ALL)?;
        std::fs::write(files.path().join("fragile.yaml"), fragile("good"))?;
        let remote_files = TestDir::new();
        std::fs::write(remote_files.path().join("extra.yaml"), EXTRA)?;
        let remote = serve_dir(remote_files.path().to_path_buf()).await?;
        let config = json!({
            "backend": {
                "database": database,
                "reading": { "allow": [{ "host": remote.host }] },
            },
            "catalog": {
                "rules": [{ "allow": ["Component", "Group", "User", "System", "Domain", "API", "Resource", "Location"] }],
                "locations": [{
                    "type": "file",
                    "target": files.path().join("catalog-info.yaml").display().to_string(),
                }],
            },
        });
        let backend = TestBackend::start(
            config,
            vec![
                greenroom_plugin_catalog_backend::plugin().into(),
                greenroom_plugin_catalog_backend::catalog_service_factory().into(),
                greenroom_web::plugin().into(),
                greenroom_plugin_catalog::module().into(),
                extras(),
            ],
        )
        .await?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let portal = Portal {
            backend,
            http,
            files,
            remote_files,
            remote,
        };
        portal.wait_for_catalog().await?;
        Ok(portal)
    }

    async fn api(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(self.backend.url(&format!("/api/catalog{path}")))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Waits until every entity is in and stitched with its relations.
    async fn wait_for_catalog(&self) -> anyhow::Result<()> {
        let settled = eventually("the catalog is ingested and stitched", || async {
            let (_, count) = self.api("/entities/by-query?limit=0").await?;
            if count["totalItems"] != CONFIG_ENTITIES {
                return Ok(false);
            }
            let (_, shop) = self.api("/entities/by-name/system/default/shop").await?;
            let (_, team) = self.api("/entities/by-name/group/default/team-a").await?;
            let (_, web) = self.api("/entities/by-name/component/default/web").await?;
            let count = |e: &Value| e["relations"].as_array().map_or(0, Vec::len);
            // shop: ownedBy, partOf commerce, hasPart x4; team-a: hasMember,
            // parentOf, ownerOf x6; web: ownedBy, partOf, providesApi, dependsOn x2.
            Ok(count(&shop) >= 6 && count(&team) >= 9 && count(&web) >= 5)
        })
        .await;
        if let Err(error) = settled {
            // A timeout alone does not say what was missing; the catalog's
            // entities (with their relations and status) do.
            let (_, all) = self
                .api("/entities?fields=kind,metadata.name,relations,status")
                .await?;
            bail!("{error}: {all}");
        }
        Ok(())
    }

    /// `GET path`: the status and the body.
    async fn page(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.http.get(self.backend.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// `GET path`, which must answer 200 with HTML.
    async fn ok_page(&self, path: &str) -> anyhow::Result<String> {
        let (status, body) = self.page(path).await?;
        ensure!(status == 200, "GET {path}: {status}\n{body}");
        Ok(body)
    }

    /// `POST path` with a form body: the status and the `Location` header.
    async fn post_form(&self, path: &str, form: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .http
            .post(self.backend.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, location))
    }

    async fn stop(self) {
        self.backend.stop().await;
        drop(self.remote);
        drop(self.files);
        drop(self.remote_files);
    }
}

/// The markup of the card titled `title` (from its `<section>` to the end).
fn card<'a>(body: &'a str, title: &str) -> anyhow::Result<&'a str> {
    let start = body
        .find(&format!(r#"<section class="card" aria-label="{title}">"#))
        .with_context(|| format!("no card {title}"))?;
    let rest = &body[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    Ok(&rest[..end])
}

async fn header_about_and_links(portal: &Portal) -> anyhow::Result<()> {
    let web = portal.ok_page("/catalog/default/component/web").await?;
    assert!(web.contains("<h1>Web Frontend</h1>"), "{web}");
    assert!(web.contains("<title>Web Frontend (Component) | Greenroom</title>"));
    let header = &web[web.find("entity-header").context("a header")?..];
    let header = &header[..header.find("</header>").context("header end")?];
    assert!(
        header.contains("<dt>Kind</dt><dd>Component</dd>"),
        "{header}"
    );
    assert!(
        header.contains(
            r#"<dt>Owner</dt><dd><a href="/catalog/default/group/team-a">team-a</a></dd>"#
        ),
        "{header}"
    );
    assert!(header.contains("<dt>Lifecycle</dt><dd>production</dd>"));
    assert!(header.contains("<dt>Type</dt><dd>website</dd>"));
    assert!(header.contains(r#"href="/catalog/default/component/web/unregister""#));

    let about = card(&web, "About")?;
    assert!(
        about.contains("The shop&#39;s storefront.") || about.contains("The shop's storefront."),
        "{about}"
    );
    assert!(
        about.contains(r#"<a href="/catalog/default/system/shop">shop</a>"#),
        "{about}"
    );
    assert!(about.contains(r#"<span class="badge">rust</span>"#));
    assert!(about.contains(r#"<span class="badge">frontend</span>"#));
    assert!(about.contains(
        r#"<a class="button secondary" href="https://git.example.com/shop/web/blob/main/catalog-info.yaml" rel="noopener noreferrer">View source</a>"#
    ), "{about}");
    assert!(about.contains(
        r#"href="https://git.example.com/shop/web/edit/main/catalog-info.yaml" rel="noopener noreferrer">Edit</a>"#
    ));
    assert!(about.contains(
        r#"<a href="https://docs.example.com/web" rel="noopener noreferrer">Runbook</a>"#
    ));
    assert!(
        about.contains(r#"<form method="post" action="/catalog/default/component/web/refresh">"#)
    );

    // The tab bar: the overview is current, inspect is offered.
    assert!(
        web.contains(
            r#"<a href="/catalog/default/component/web" aria-current="page">Overview</a>"#
        )
    );
    assert!(web.contains(r#"<a href="/catalog/default/component/web/inspect">Inspect</a>"#));

    // The relations graph: one link per target, labelled edges.
    let graph = card(&web, "Relations")?;
    assert!(graph.contains(r#"<svg class="graph""#), "{graph}");
    for (target, path, relation) in [
        (
            "group:default/team-a",
            "/catalog/default/group/team-a",
            "ownedBy",
        ),
        (
            "system:default/shop",
            "/catalog/default/system/shop",
            "partOf",
        ),
        (
            "api:default/orders-api",
            "/catalog/default/api/orders-api",
            "providesApi",
        ),
        (
            "component:default/auth-svc",
            "/catalog/default/component/auth-svc",
            "dependsOn",
        ),
        (
            "resource:default/db",
            "/catalog/default/resource/db",
            "dependsOn",
        ),
    ] {
        let link = format!(r#"<a href="{path}" aria-label="{target} ({relation})">"#);
        assert!(graph.contains(&link), "{link} in {graph}");
        assert!(
            graph.contains(&format!(">{relation}</text>")),
            "label {relation}"
        );
    }

    // Cards of a component: provided APIs, dependencies.
    let provided = card(&web, "Provided APIs")?;
    assert!(
        provided.contains(r#"href="/catalog/default/api/orders-api""#),
        "{provided}"
    );
    let depends = card(&web, "Depends on")?;
    assert!(depends.contains(r#"href="/catalog/default/component/auth-svc""#));
    assert!(depends.contains(r#"href="/catalog/default/resource/db""#));
    let dependents = portal
        .ok_page("/catalog/default/component/auth-svc")
        .await?;
    assert!(card(&dependents, "Dependents")?.contains(r#"href="/catalog/default/component/web""#));
    assert!(
        card(&dependents, "About")?.contains(
            r#"<dt>Owner</dt><dd><a href="/catalog/default/user/jdoe">user:jdoe</a></dd>"#
        ),
        "a user owner links to the user"
    );

    // Lookups ignore case; the 404 page names what is missing.
    let shouting = portal.ok_page("/catalog/DEFAULT/Component/WEB").await?;
    assert!(shouting.contains("<h1>Web Frontend</h1>"));
    let (status, missing) = portal.page("/catalog/default/component/nope").await?;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing.contains("No component named &quot;nope&quot;")
            || missing.contains("No component named \"nope\""),
        "{missing}"
    );
    let (status, _) = portal
        .page("/catalog/default/component/web/no-such-tab")
        .await?;
    assert_eq!(status, 404);
    Ok(())
}

async fn cards_per_kind(portal: &Portal) -> anyhow::Result<()> {
    let shop = portal.ok_page("/catalog/default/system/shop").await?;
    assert!(shop.contains("<h1>The Shop</h1>"));
    let components = card(&shop, "Components")?;
    assert!(
        components.contains(r#"<a href="/catalog/default/component/web">Web Frontend</a>"#),
        "{components}"
    );
    assert!(components.contains(r#"href="/catalog/default/component/auth-svc""#));
    assert!(!components.contains("orders-api"), "APIs are listed apart");
    assert!(card(&shop, "APIs")?.contains(r#"href="/catalog/default/api/orders-api""#));
    assert!(card(&shop, "Resources")?.contains(r#"href="/catalog/default/resource/db""#));
    let about = card(&shop, "About")?;
    assert!(
        about.contains(r#"<a href="/catalog/default/domain/commerce">commerce</a>"#),
        "{about}"
    );

    let domain = portal.ok_page("/catalog/default/domain/commerce").await?;
    assert!(
        card(&domain, "Systems")?
            .contains(r#"<a href="/catalog/default/system/shop">The Shop</a>"#)
    );

    let team = portal.ok_page("/catalog/default/group/team-a").await?;
    let members = card(&team, "Members")?;
    assert!(
        members.contains(r#"<a href="/catalog/default/user/jdoe">Jane Doe</a>"#),
        "{members}"
    );
    assert!(members.contains("jdoe@example.com"));
    assert!(card(&team, "Child groups")?.contains(r#"href="/catalog/default/group/team-a-sub""#));
    let owned = card(&team, "Owned entities")?;
    for path in [
        "/catalog/default/component/web",
        "/catalog/default/system/shop",
        "/catalog/default/api/orders-api",
        "/catalog/default/resource/db",
        "/catalog/default/domain/commerce",
    ] {
        assert!(
            owned.contains(&format!(r#"href="{path}""#)),
            "{path} in {owned}"
        );
    }
    assert!(
        !owned.contains("auth-svc"),
        "owned by the user, not the group"
    );
    let sub = portal.ok_page("/catalog/default/group/team-a-sub").await?;
    assert!(card(&sub, "About")?.contains(r#"<a href="/catalog/default/group/team-a">team-a</a>"#));

    let user = portal.ok_page("/catalog/default/user/jdoe").await?;
    assert!(card(&user, "Groups")?.contains(r#"href="/catalog/default/group/team-a""#));
    assert!(
        card(&user, "Owned entities")?.contains(r#"href="/catalog/default/component/auth-svc""#)
    );
    Ok(())
}

async fn escaping_and_inspect(portal: &Portal) -> anyhow::Result<()> {
    let weird = portal.ok_page("/catalog/default/component/weird").await?;
    assert!(!weird.contains("<script>alert(1)"), "unescaped title");
    assert!(
        weird.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"),
        "{weird}"
    );
    assert!(weird.contains("Has &lt;b&gt;markup&lt;/b&gt; &amp; more."));
    assert!(
        !weird.contains(r#"href="javascript:"#),
        "a script link never becomes an href"
    );
    assert!(weird.contains("<span>Sneaky</span>"));

    let inspect = portal
        .ok_page("/catalog/default/component/web/inspect")
        .await?;
    assert!(inspect.contains(
        r#"<a href="/catalog/default/component/web/inspect" aria-current="page">Inspect</a>"#
    ));
    let yaml_start = inspect
        .find(r#"id="entity-yaml""#)
        .context("a YAML block")?;
    let yaml = &inspect[yaml_start
        ..inspect[yaml_start..]
            .find("</pre>")
            .map_or(inspect.len(), |e| yaml_start + e)];
    assert!(yaml.contains("kind: Component"), "{yaml}");
    assert!(yaml.contains("name: web"));
    assert!(yaml.contains("lifecycle: production"));
    assert!(inspect.contains(r#"<pre class="code" id="entity-yaml""#));
    let json_start = inspect
        .find(r#"<pre class="code" id="entity-json""#)
        .context("a JSON block")?;
    let json = &inspect[json_start..];
    assert!(
        json.contains("&quot;kind&quot;: &quot;Component&quot;")
            || json.contains(r#""kind": "Component""#),
        "{json}"
    );
    let ancestry = card(&inspect, "Ancestry")?;
    assert!(
        ancestry.contains(r#"href="/catalog/default/location/"#),
        "{ancestry}"
    );
    Ok(())
}

async fn refresh_and_broken_edit(portal: &Portal) -> anyhow::Result<()> {
    let (status, location) = portal
        .post_form("/catalog/default/component/fragile/refresh", "")
        .await?;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        "/catalog/default/component/fragile?notice=refreshed"
    );
    let refreshed = portal.ok_page(&location).await?;
    assert!(
        refreshed.contains(r#"<div class="banner-notice" role="status">A refresh was scheduled."#),
        "{refreshed}"
    );
    assert!(!refreshed.contains("banner-error"));

    // A broken edit: the page shows the error over the last good version.
    std::fs::write(
        portal.files.path().join("fragile.yaml"),
        fragile("Bad <Tag>"),
    )?;
    let (status, _) = portal
        .post_form("/catalog/default/component/fragile/refresh", "")
        .await?;
    assert_eq!(status, 303);
    eventually("the broken edit shows on the page", || async {
        Ok(portal
            .ok_page("/catalog/default/component/fragile")
            .await?
            .contains("banner-error"))
    })
    .await?;
    let (_, entity) = portal
        .api("/entities/by-name/component/default/fragile")
        .await?;
    let error = &entity["status"]["items"][0]["error"];
    let name = error["name"].as_str().context("an error name")?;
    let page = portal.ok_page("/catalog/default/component/fragile").await?;
    let banner = &page[page.find("banner-error").context("banner")?..];
    let banner = &banner[..banner.find("</div>").unwrap_or(banner.len())];
    assert!(
        banner.contains(&format!(r#"<strong class="error-name">{name}</strong>"#)),
        "{banner}"
    );
    assert!(
        banner.contains("Bad &lt;Tag&gt;"),
        "the message is escaped: {banner}"
    );
    assert!(!page.contains("Bad <Tag>"));
    assert!(
        card(&page, "About")?.contains("Version with tag good."),
        "last good version shown"
    );
    Ok(())
}

async fn unregister_a_location(portal: &Portal) -> anyhow::Result<()> {
    let target = format!("{}/extra.yaml", portal.remote.base);
    let created = portal
        .http
        .post(portal.backend.url("/api/catalog/locations"))
        .json(&json!({"type": "url", "target": target}))
        .send()
        .await?;
    ensure!(
        created.status().as_u16() == 201,
        "{}",
        created.text().await?
    );
    eventually("the registered location is ingested", || async {
        Ok(portal
            .api("/entities/by-name/component/default/extra-two")
            .await?
            .0
            == 200
            && portal
                .api("/entities/by-name/component/default/extra-one")
                .await?
                .0
                == 200)
    })
    .await?;

    let confirm = portal
        .ok_page("/catalog/default/component/extra-one/unregister")
        .await?;
    let card_html = card(&confirm, "Unregister entity")?;
    assert!(
        card_html.contains(&format!(
            r#"<code class="location-ref">url:{target}</code>"#
        )),
        "{card_html}"
    );
    assert!(card_html.contains(r#"href="/catalog/default/component/extra-one""#));
    assert!(card_html.contains(r#"href="/catalog/default/component/extra-two""#));
    assert!(card_html.contains(r#"<form method="post" action="/catalog/default/component/extra-one/unregister" data-confirm="Unregister the location"#));
    assert!(card_html.contains(r#"<input type="hidden" name="action" value="location">"#));

    let (status, location) = portal
        .post_form(
            "/catalog/default/component/extra-one/unregister",
            "action=location",
        )
        .await?;
    assert_eq!(
        (status, location.as_str()),
        (303, "/catalog?notice=location-unregistered")
    );
    eventually("the location's entities are gone", || async {
        Ok(portal
            .api("/entities/by-name/component/default/extra-one")
            .await?
            .0
            == 404
            && portal
                .api("/entities/by-name/component/default/extra-two")
                .await?
                .0
                == 404)
    })
    .await?;
    assert_eq!(portal.api("/locations").await?.1, json!([]));
    assert_eq!(
        portal.page("/catalog/default/component/extra-two").await?.0,
        404
    );
    // The catalog page says what happened; an unknown code shows nothing.
    let landing = portal
        .ok_page("/catalog?notice=location-unregistered")
        .await?;
    assert!(
        landing
            .contains(r#"<div class="banner-notice" role="status">The location was unregistered"#),
        "{landing}"
    );
    let unknown = portal.ok_page("/catalog?notice=%3Cb%3Ehi").await?;
    assert!(!unknown.contains("banner-notice"));

    // An entity of the configuration has no registered location: only the
    // entity itself can be deleted.
    let confirm = portal
        .ok_page("/catalog/default/component/weird/unregister")
        .await?;
    let card_html = card(&confirm, "Unregister entity")?;
    assert!(
        card_html.contains(r#"<input type="hidden" name="action" value="entity">"#),
        "{card_html}"
    );
    assert!(!card_html.contains(r#"value="location""#));
    let (status, _) = portal
        .post_form(
            "/catalog/default/component/weird/unregister",
            "action=nonsense",
        )
        .await?;
    assert_eq!(status, 400);
    let (status, location) = portal
        .post_form(
            "/catalog/default/component/weird/unregister",
            "action=entity",
        )
        .await?;
    assert_eq!(
        (status, location.as_str()),
        (303, "/catalog?notice=entity-deleted")
    );
    assert_eq!(
        portal
            .api("/entities/by-name/component/default/weird")
            .await?
            .0,
        404
    );
    Ok(())
}

async fn run(database: Value) -> anyhow::Result<()> {
    let portal = Portal::start(database).await?;
    let outcome = async {
        header_about_and_links(&portal)
            .await
            .context("header, about and links")?;
        cards_per_kind(&portal).await.context("cards per kind")?;
        escaping_and_inspect(&portal)
            .await
            .context("escaping and inspect")?;
        refresh_and_broken_edit(&portal)
            .await
            .context("refresh and broken edit")?;
        unregister_a_location(&portal).await.context("unregister")?;
        anyhow::Ok(())
    }
    .await;
    portal.stop().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_pages_on_sqlite() -> anyhow::Result<()> {
    let data = TestDir::new();
    run(data.sqlite_database_config()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_pages_on_postgres() -> anyhow::Result<()> {
    let pg = TestPostgres::new();
    let outcome = run(pg.database_config(json!({}))).await;
    pg.cleanup().await;
    outcome
}
