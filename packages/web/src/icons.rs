//! The sidebar's and components' icons: a few constant inline SVGs, hidden from
//! assistive technology because every icon sits next to a text label.

use maud::{Markup, html};

/// The icon called `name`; an unknown name draws a neutral dot.
pub fn icon(name: &str) -> Markup {
    let path = match name {
        "logo" => {
            "M12 2 3 7v10l9 5 9-5V7l-9-5Zm0 2.3 6.7 3.7L12 11.7 5.3 8 12 4.3ZM5 9.7l6 3.3v6.6l-6-3.3V9.7Zm8 9.9V13l6-3.3v6.6l-6 3.3Z"
        }
        "home" => "M12 3 2 12h3v8h6v-6h2v6h6v-8h3L12 3Z",
        "catalog" => "M4 5h16v2H4V5Zm0 6h16v2H4v-2Zm0 6h16v2H4v-2Z",
        "api" => {
            "M7 7 2 12l5 5 1.4-1.4L4.8 12l3.6-3.6L7 7Zm10 0-1.4 1.4 3.6 3.6-3.6 3.6L17 17l5-5-5-5Zm-6.5 11h2l3-12h-2l-3 12Z"
        }
        "create" => "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6V5Z",
        "settings" => {
            "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8Zm9 5v-2l-2.2-.4a7 7 0 0 0-.7-1.7l1.3-1.8-1.4-1.4-1.8 1.3a7 7 0 0 0-1.7-.7L14 3h-2l-.4 2.2a7 7 0 0 0-1.7.7L8.1 4.6 6.7 6l1.3 1.8a7 7 0 0 0-.7 1.7L5 10v2l2.2.4c.2.6.4 1.2.7 1.7l-1.3 1.8 1.4 1.4 1.8-1.3c.5.3 1.1.5 1.7.7L12 21h2l.4-2.2c.6-.2 1.2-.4 1.7-.7l1.8 1.3 1.4-1.4-1.3-1.8c.3-.5.5-1.1.7-1.7L21 13Z"
        }
        "search" => {
            "M10 4a6 6 0 1 0 3.7 10.7l5.3 5.3 1.4-1.4-5.3-5.3A6 6 0 0 0 10 4Zm0 2a4 4 0 1 1 0 8 4 4 0 0 1 0-8Z"
        }
        "import" => "M11 3h2v9l3.3-3.3 1.4 1.4L12 15.8 6.3 10.1l1.4-1.4L11 12V3ZM4 18h16v2H4v-2Z",
        _ => "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6Z",
    };
    html! {
        svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false" {
            path d=(path) {}
        }
    }
}
