//! The embedded assets: the vendored htmx (0BSD, `assets/htmx.LICENSE`),
//! our script and stylesheet. Nothing is fetched from elsewhere.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::ConsoleError;

const HTMX: &str = include_str!("../assets/htmx.min.js");
const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");

/// `GET /console/assets/{name}`.
pub(crate) async fn serve(name: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ConsoleError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}
