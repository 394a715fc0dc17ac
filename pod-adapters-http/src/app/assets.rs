//! The web app's stylesheet and script, compiled into the binary and served
//! under content-hashed names (`app.<hash>.css`) with a one-year immutable
//! cache, and under their plain names with a short cache.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// An asset and its hashed file name.
pub(crate) struct Asset {
    pub(crate) hashed_name: String,
    body: &'static str,
    content_type: &'static str,
}

fn asset(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
    let hash: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Asset {
        hashed_name: format!("{stem}.{hash}.{ext}"),
        body,
        content_type,
    }
}

/// The stylesheet.
pub(crate) static STYLESHEET: LazyLock<Asset> =
    LazyLock::new(|| asset("app", "css", CSS, "text/css; charset=utf-8"));
/// The script.
pub(crate) static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| asset("app", "js", JS, "text/javascript; charset=utf-8"));

/// The tab icon: a tomato-red disc with a white "P", like the header's mark.
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><circle cx=\"16\" cy=\"16\" r=\"16\" fill=\"#b83a1e\"/><text x=\"16\" y=\"22\" font-family=\"system-ui,sans-serif\" font-size=\"17\" font-weight=\"700\" text-anchor=\"middle\" fill=\"#fff\">P</text></svg>";

/// `GET /app/assets/{name}`.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    if name == "icon.svg" {
        return (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            ICON,
        )
            .into_response();
    }
    for asset in [&*STYLESHEET, &*SCRIPT] {
        let plain = if asset.content_type.starts_with("text/css") {
            "app.css"
        } else {
            "app.js"
        };
        let cache = if name == asset.hashed_name {
            "public, max-age=31536000, immutable"
        } else if name == plain {
            "public, max-age=300"
        } else {
            continue;
        };
        return (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, cache),
            ],
            asset.body,
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "no such asset").into_response()
}
