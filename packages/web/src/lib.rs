//! The portal's web UI toolkit, server-rendered with maud: the app shell,
//! shared components, light and dark themes, and the registries that frontend
//! plugins fill, plus the `app` plugin that serves them at the site's root.
//!
//! A frontend plugin is a `BackendModule` of the plugin `app`: in its init it
//! takes [`WEB_EXTENSION_POINT`] and registers routes (absolute paths, handlers
//! take a [`PageContext`]), sidebar items, home cards, and entity-page tabs and
//! cards. Pages render through [`shell::respond`], so every page has the same
//! sidebar, search box and theme. Every page works without JavaScript; the one
//! script only saves clicks.

pub mod assets;
pub mod components;
pub mod context;
pub mod icons;
pub mod plugin;
pub mod registry;
pub mod shell;

pub use context::{PageContext, Theme};
pub use plugin::plugin;
pub use registry::{
    EntityCard, EntityTab, HomeCard, NavGroup, NavItem, WEB_EXTENSION_POINT, WebExtension,
    WebRegistry,
};
pub use shell::Page;
