//! The web console's static files and the API's OpenAPI document, built into the binary:
//! `GET /`, `GET /console/{proxy+}` and `GET /api/openapi.yaml`. They are revalidated on every
//! load (ETag, `no-cache`) so a deploy is seen at once.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: String,
}

macro_rules! assets {
    ($(($path:literal, $file:literal, $type:literal)),* $(,)?) => {
        vec![$(Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../../", $file)),
            etag: etag(include_bytes!(concat!("../../", $file))),
        }),*]
    };
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&Sha256::digest(bytes)[..12]))
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    assets![
        ("/", "console/index.html", "text/html; charset=utf-8"),
        ("/console/app.js", "console/app.js", "text/javascript; charset=utf-8"),
        ("/console/api.js", "console/api.js", "text/javascript; charset=utf-8"),
        ("/console/auth.js", "console/auth.js", "text/javascript; charset=utf-8"),
        ("/console/dom.js", "console/dom.js", "text/javascript; charset=utf-8"),
        ("/console/pages.js", "console/pages.js", "text/javascript; charset=utf-8"),
        ("/console/globals.js", "console/globals.js", "text/javascript; charset=utf-8"),
        ("/console/rotation.js", "console/rotation.js", "text/javascript; charset=utf-8"),
        ("/console/replay.js", "console/replay.js", "text/javascript; charset=utf-8"),
        ("/console/health.js", "console/health.js", "text/javascript; charset=utf-8"),
        ("/console/catalog.js", "console/catalog.js", "text/javascript; charset=utf-8"),
        ("/console/delivery.js", "console/delivery.js", "text/javascript; charset=utf-8"),
        ("/console/events.js", "console/events.js", "text/javascript; charset=utf-8"),
        ("/console/json.js", "console/json.js", "text/javascript; charset=utf-8"),
        ("/console/test-event.js", "console/test-event.js", "text/javascript; charset=utf-8"),
        ("/console/style.css", "console/style.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "console/favicon.svg", "image/svg+xml"),
        ("/api/openapi.yaml", "openapi.yaml", "application/yaml"),
    ]
});

/// The console page can reach only this origin: its own files and the API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn serve_console(request: Request) -> Response<Body> {
    let path = request.uri().path();
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let fresh = request.headers().get(header::IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == asset.etag.as_bytes());
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::Empty)
    } else {
        (StatusCode::OK, Body::Binary(asset.bytes.to_vec()))
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, asset.content_type)
        .header(header::ETAG, &asset.etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .body(body)
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(text.into()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fixtures::Event;

    fn get(path: &str, if_none_match: Option<&str>) -> Request {
        let mut event = Event::list_webhooks().route("GET", path, &[]).without_authorizer();
        if let Some(tag) = if_none_match {
            event = event.header("If-None-Match", tag);
        }
        event.request()
    }

    #[tokio::test]
    async fn serves_every_file_with_its_type_and_revalidates() {
        for asset in ASSETS.iter() {
            let response = serve_console(get(asset.path, None)).await;
            assert_eq!(response.status(), 200, "{}", asset.path);
            assert_eq!(response.headers()["content-type"], asset.content_type);
            assert_eq!(response.headers()["cache-control"], "no-cache");
            assert!(!response.body().is_empty());
            let again = serve_console(get(asset.path, Some(&asset.etag))).await;
            assert_eq!(again.status(), 304, "{}", asset.path);
        }
        assert_eq!(serve_console(get("/console/secrets.txt", None)).await.status(), 404);
    }

    #[test]
    fn loads_nothing_from_elsewhere() {
        let remote = ["src=\"http", "href=\"http", "url(http", "url(//", "from \"http", "@import", "//fonts."];
        for asset in ASSETS.iter().filter(|a| a.path != "/api/openapi.yaml") {
            let text = String::from_utf8_lossy(asset.bytes);
            for pattern in remote {
                assert!(!text.contains(pattern), "{} loads from another origin ({pattern})", asset.path);
            }
        }
    }
}
