//! The app plugin over HTTP: a module's page inside the shell, escaping, the
//! sidebar, the theme cookie, assets, the not-found page, and conflicting
//! module routes refused at start-up.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use greenroom_backend_plugin_api::{BackendFeature, BackendModule};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_web::components::{Column, Sort, Table, entity_path, humanize_ref};
use greenroom_web::{HomeCard, NavGroup, NavItem, Page, PageContext, WEB_EXTENSION_POINT};
use maud::{Markup, html};
use serde_json::json;

struct Hello;

#[async_trait]
impl HomeCard for Hello {
    fn id(&self) -> &str {
        "hello"
    }
    async fn render(&self, _page: &PageContext) -> Result<Markup, String> {
        Ok(html! { p class="hello-card" { "hello <b>card</b>" } })
    }
}

fn module(id: &str, path: &'static str) -> BackendFeature {
    BackendModule::new("app", id, move |registrar| {
        registrar.register_init(move |env| async move {
            let web = env.extension_point(&WEB_EXTENSION_POINT)?;
            web.add_routes(Router::new().route(
                path,
                get(|ctx: PageContext| async move {
                    let title = ctx.param("title").unwrap_or("Demo").to_owned();
                    greenroom_web::shell::respond(
                        &ctx,
                        Page::new(title.clone(), html! { p id="echo" { (title) } }),
                    )
                }),
            ));
            web.add_nav_item(NavItem {
                title: "Demo".to_owned(),
                path: path.to_owned(),
                icon: "catalog",
                group: NavGroup::Main,
                order: 10,
            });
            web.add_home_card(Arc::new(Hello));
            Ok(())
        });
    })
    .into()
}

async fn start(features: Vec<BackendFeature>) -> anyhow::Result<TestBackend> {
    Ok(TestBackend::start(json!({}), features).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_pages_render_inside_the_shell_with_escaping() -> anyhow::Result<()> {
    let backend = start(vec![
        greenroom_web::plugin().into(),
        module("demo", "/demo"),
    ])
    .await?;
    let http = reqwest::Client::new();

    let page = http
        .get(backend.url("/demo?title=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let body = page.text().await?;
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(
        !body.contains("<script>alert(1)"),
        "unescaped title: {body}"
    );
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The sidebar lists Home, the module's item and Settings, marking the current one.
    let home = body.find(">Home<").expect("Home in the sidebar");
    let demo = body.find(">Demo<").expect("Demo in the sidebar");
    let settings = body.find(">Settings<").expect("Settings in the sidebar");
    assert!(home < demo && demo < settings, "sidebar order");
    assert!(
        body.contains(r#"<a href="/demo" aria-current="page">"#),
        "{body}"
    );
    assert!(body.contains(r#"role="search""#) && body.contains(r#"for="global-search""#));

    // The home page shows the module's card (its markup is the module's own).
    let home_page = http.get(backend.url("/")).send().await?.text().await?;
    assert!(home_page.contains(r#"<p class="hello-card">hello &lt;b&gt;card&lt;/b&gt;</p>"#));

    // Unknown pages get the shell's 404; /api paths stay the backend's.
    let missing = http.get(backend.url("/nowhere")).send().await?;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await?.contains("This page does not exist."));
    assert_eq!(
        http.get(backend.url("/api/nowhere")).send().await?.status(),
        404
    );

    // Assets are served with their types and long caching.
    let css = http
        .get(backend.url("/static/greenroom.css"))
        .send()
        .await?;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await?.contains("[data-theme=\"dark\"]"));
    let js = http.get(backend.url("/static/greenroom.js")).send().await?;
    assert_eq!(js.status(), 200);
    backend.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_theme_is_chosen_in_settings_and_kept_in_a_cookie() -> anyhow::Result<()> {
    let backend = start(vec![greenroom_web::plugin().into()]).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let settings = http
        .get(backend.url("/settings"))
        .send()
        .await?
        .text()
        .await?;
    assert!(settings.contains(r#"data-theme="auto""#));
    assert!(settings.contains(r#"<label for="theme-dark">Dark</label>"#));

    let saved = http
        .post(backend.url("/settings/theme"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("theme=dark&return=%2Fdemo")
        .send()
        .await?;
    assert_eq!(saved.status(), 303);
    assert_eq!(saved.headers()["location"], "/demo");
    let cookie = saved.headers()["set-cookie"].to_str()?.to_owned();
    assert!(cookie.starts_with("greenroom-theme=dark;"), "{cookie}");

    let dark = http
        .get(backend.url("/settings"))
        .header("cookie", "other=1; greenroom-theme=dark")
        .send()
        .await?
        .text()
        .await?;
    assert!(dark.contains(r#"data-theme="dark""#));
    assert!(dark.contains(r#"id="theme-dark" name="theme" value="dark" checked"#));

    // An open redirect is refused: the return path must be local.
    let outside = http
        .post(backend.url("/settings/theme"))
        .body("theme=light&return=%2F%2Fevil.example")
        .send()
        .await?;
    assert_eq!(outside.headers()["location"], "/settings");
    let bad = http
        .post(backend.url("/settings/theme"))
        .body("theme=purple")
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    backend.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_modules_claiming_one_path_fail_the_start() -> anyhow::Result<()> {
    let result = start(vec![
        greenroom_web::plugin().into(),
        module("one", "/same"),
        module("two", "/same"),
    ])
    .await;
    let error = result.expect_err("overlapping routes must not start");
    assert!(error.to_string().contains("same page path"), "{error}");
    Ok(())
}

#[test]
fn tables_link_sort_headers_and_drop_the_cursor() {
    let ctx = PageContext::detached(
        "/catalog",
        "kind=component&cursor=abc&sort=name",
        Arc::default(),
    );
    let table = Table {
        caption: "Entities".to_owned(),
        columns: vec![Column::sortable("Name", "name"), Column::new("Owner")],
        rows: vec![vec![html! { "a<b" }, html! { "team" }]],
    };
    let sort = Sort::from_ctx(
        &ctx,
        Sort {
            key: "name".into(),
            descending: false,
        },
    );
    let out = table.render(&ctx, Some(&sort)).into_string();
    assert!(out.contains(r#"aria-sort="ascending""#), "{out}");
    assert!(
        out.contains(r#"href="/catalog?kind=component&amp;sort=-name""#),
        "{out}"
    );
    assert!(out.contains("<td>a&lt;b</td>"));
    assert!(out.contains(r#"<th scope="col">Owner</th>"#));
}

#[test]
fn entity_paths_and_refs_read_like_backstage() {
    assert_eq!(
        entity_path("Component", "Default", "artist web"),
        "/catalog/default/component/artist%20web"
    );
    assert_eq!(
        humanize_ref("group:default/team-a", Some("Group")),
        "team-a"
    );
    assert_eq!(
        humanize_ref("group:ops/team-a", Some("User")),
        "group:ops/team-a"
    );
    assert_eq!(humanize_ref("component:default/x", None), "component:x");
}
