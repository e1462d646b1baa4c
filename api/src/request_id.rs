//! A request id on every request: taken from the client's `x-request-id`
//! when it is short and plain (so a proxy's id carries through), made up
//! otherwise. It is the `request_id` field of every log line of the request
//! (a span), every response's `x-request-id` header, and the `request_id` of
//! every error body, so a client's report finds the server's log lines.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The client's id if it is 1 to 64 letters, digits, `-`, `_` or `.`.
fn from_client(v: Option<&HeaderValue>) -> Option<String> {
    let s = v?.to_str().ok()?;
    let plain =
        (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    plain.then(|| s.to_owned())
}

/// The middleware: sets the id for the request's handling and on its response.
pub async fn layer(req: Request, next: Next) -> Response {
    let id =
        from_client(req.headers().get(HEADER)).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req).instrument(span)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}

/// `f` made to run on another thread (`spawn_blocking`) within this
/// request's id and span, so its log lines and errors carry the id.
pub fn carry<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    let id = current();
    let span = tracing::Span::current();
    move || {
        let _entered = span.enter();
        match id {
            Some(id) => REQUEST_ID.sync_scope(id, f),
            None => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_client_ids_are_kept() {
        let v = |s: &str| from_client(Some(&HeaderValue::from_str(s).expect("header")));
        assert_eq!(v("abc-123_x.y"), Some("abc-123_x.y".into()));
        assert_eq!(v(""), None);
        assert_eq!(v("a b"), None);
        assert_eq!(v("a\"b"), None);
        assert_eq!(v(&"x".repeat(65)), None);
        assert_eq!(from_client(None), None);
        assert_eq!(current(), None);
    }
}
