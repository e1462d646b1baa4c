//! `GET /`: the dashboard, one HTML page with its scripts and styles inline
//! (`bt_report::dashboard_html`), compiled into the binary. It reads only
//! the public `/v1` API with the key a person gives it; the server adds no
//! other way in.

use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

static PAGE: LazyLock<String> = LazyLock::new(bt_report::dashboard_html);

/// Everything inline, nothing from elsewhere: scripts and styles only from
/// the page itself, requests only to this origin.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub async fn index() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}
