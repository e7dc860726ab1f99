//! The stylesheet and the enhancement script, compiled into the binary and
//! served with long cache lifetimes (their URLs carry a content version).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The stylesheet.
pub const STYLESHEET: &str = include_str!("../assets/greenroom.css");
/// The enhancement script.
pub const SCRIPT: &str = include_str!("../assets/greenroom.js");

/// A version of the stylesheet for its URL (the length and a checksum of the text).
pub const STYLE_VERSION: u32 = checksum(STYLESHEET);
/// A version of the script for its URL.
pub const SCRIPT_VERSION: u32 = checksum(SCRIPT);

/// FNV-1a over the text, computed at compile time; any edit changes the URL.
const fn checksum(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

const CACHE: &str = "public, max-age=31536000, immutable";

/// Routes for `/static/greenroom.css` and `/static/greenroom.js`.
pub fn router() -> Router {
    Router::new()
        .route(
            crate::shell::STYLESHEET_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    STYLESHEET,
                )
                    .into_response()
            }),
        )
        .route(
            crate::shell::SCRIPT_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
}
