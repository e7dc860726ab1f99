//! The registries frontend plugins fill: routes, sidebar items, home cards,
//! and the tabs and cards of the entity page (Backstage's entity page extension
//! model), collected through the app plugin's extension point.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::Router;
use greenroom_backend_plugin_api::ExtensionPointRef;
use maud::Markup;
use serde_json::Value;

use crate::context::PageContext;

/// The app plugin's extension point; frontend modules (`BackendModule`s of the
/// plugin `app`) register their pages and entity-page content through it.
pub const WEB_EXTENSION_POINT: ExtensionPointRef<WebExtension> = ExtensionPointRef::new("app.web");

/// Where a sidebar item sits: the main group at the top, or the bottom group
/// (Settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NavGroup {
    Main,
    Bottom,
}

/// One sidebar link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavItem {
    /// The visible label, also the accessible name.
    pub title: String,
    /// The absolute path the item links to, e.g. `/catalog`.
    pub path: String,
    /// An icon name from [`crate::icons`].
    pub icon: &'static str,
    pub group: NavGroup,
    /// Items sort by `order`, then title.
    pub order: i32,
}

/// A tab of the entity page: its own sub-route `/catalog/:ns/:kind/:name/<id>`.
#[async_trait]
pub trait EntityTab: Send + Sync {
    /// The path segment of the tab (`api`, `dependencies`, ...); the overview
    /// tab, owned by the catalog plugin, has the empty id.
    fn id(&self) -> &str;
    /// The tab's label.
    fn title(&self) -> &str;
    /// Whether the tab is shown for `entity`.
    fn applies_to(&self, entity: &Value) -> bool;
    /// Tabs sort by `order`, then id.
    fn order(&self) -> i32 {
        100
    }
    /// The tab's content; errors render as an error panel inside the page.
    async fn render(&self, page: &PageContext, entity: &Value) -> Result<Markup, String>;
}

/// A card on the entity page's overview tab.
#[async_trait]
pub trait EntityCard: Send + Sync {
    fn id(&self) -> &str;
    fn applies_to(&self, entity: &Value) -> bool;
    /// Cards sort by `order`, then id.
    fn order(&self) -> i32 {
        100
    }
    /// Whether the card spans the whole width of the overview grid.
    fn wide(&self) -> bool {
        false
    }
    async fn render(&self, page: &PageContext, entity: &Value) -> Result<Markup, String>;
}

/// A card on the home page.
#[async_trait]
pub trait HomeCard: Send + Sync {
    fn id(&self) -> &str;
    fn order(&self) -> i32 {
        100
    }
    async fn render(&self, page: &PageContext) -> Result<Markup, String>;
}

/// What modules register into while the backend starts; frozen into a
/// [`WebRegistry`] when the app plugin initialises (after all its modules).
#[derive(Default)]
pub struct WebExtension {
    inner: Mutex<Collected>,
}

#[derive(Default)]
struct Collected {
    routers: Vec<Router>,
    nav: Vec<NavItem>,
    tabs: Vec<Arc<dyn EntityTab>>,
    cards: Vec<Arc<dyn EntityCard>>,
    home: Vec<Arc<dyn HomeCard>>,
}

impl fmt::Debug for WebExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebExtension").finish_non_exhaustive()
    }
}

impl WebExtension {
    fn with<R>(&self, f: impl FnOnce(&mut Collected) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds page routes at absolute paths (`/catalog`, `/api-docs`, ...).
    /// Handlers get the [`PageContext`] as an extractor.
    pub fn add_routes(&self, router: Router) {
        self.with(|c| c.routers.push(router));
    }

    pub fn add_nav_item(&self, item: NavItem) {
        self.with(|c| c.nav.push(item));
    }

    pub fn add_entity_tab(&self, tab: Arc<dyn EntityTab>) {
        self.with(|c| c.tabs.push(tab));
    }

    pub fn add_entity_card(&self, card: Arc<dyn EntityCard>) {
        self.with(|c| c.cards.push(card));
    }

    pub fn add_home_card(&self, card: Arc<dyn HomeCard>) {
        self.with(|c| c.home.push(card));
    }

    /// Takes everything registered so far: the routes to mount and the registry
    /// that pages read.
    pub fn freeze(&self) -> (Vec<Router>, WebRegistry) {
        self.with(|c| {
            let mut nav = std::mem::take(&mut c.nav);
            nav.sort_by(|a, b| (a.group, a.order, &a.title).cmp(&(b.group, b.order, &b.title)));
            let mut tabs = std::mem::take(&mut c.tabs);
            tabs.sort_by(|a, b| (a.order(), a.id()).cmp(&(b.order(), b.id())));
            let mut cards = std::mem::take(&mut c.cards);
            cards.sort_by(|a, b| (a.order(), a.id()).cmp(&(b.order(), b.id())));
            let mut home = std::mem::take(&mut c.home);
            home.sort_by(|a, b| (a.order(), a.id()).cmp(&(b.order(), b.id())));
            (
                std::mem::take(&mut c.routers),
                WebRegistry {
                    nav,
                    tabs,
                    cards,
                    home,
                },
            )
        })
    }
}

/// The frozen registrations every page can read (through [`PageContext`]).
#[derive(Default, Clone)]
pub struct WebRegistry {
    pub nav: Vec<NavItem>,
    pub tabs: Vec<Arc<dyn EntityTab>>,
    pub cards: Vec<Arc<dyn EntityCard>>,
    pub home: Vec<Arc<dyn HomeCard>>,
}

impl fmt::Debug for WebRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebRegistry")
            .field("nav", &self.nav)
            .field(
                "tabs",
                &self.tabs.iter().map(|t| t.id()).collect::<Vec<_>>(),
            )
            .field(
                "cards",
                &self.cards.iter().map(|c| c.id()).collect::<Vec<_>>(),
            )
            .field(
                "home",
                &self.home.iter().map(|c| c.id()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl WebRegistry {
    /// The tabs shown for `entity`, in order.
    pub fn tabs_for<'a>(
        &'a self,
        entity: &'a Value,
    ) -> impl Iterator<Item = &'a Arc<dyn EntityTab>> {
        self.tabs.iter().filter(move |t| t.applies_to(entity))
    }

    /// The overview cards shown for `entity`, in order.
    pub fn cards_for<'a>(
        &'a self,
        entity: &'a Value,
    ) -> impl Iterator<Item = &'a Arc<dyn EntityCard>> {
        self.cards.iter().filter(move |c| c.applies_to(entity))
    }
}
