//! The web console's static files and the API's OpenAPI document, built into the binary:
//! `GET /`, `GET /portal`, `GET /console/{proxy+}` and `GET /api/openapi.yaml`. They are revalidated on every
//! load (ETag, `no-cache`) so a deploy is seen at once.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

struct Asset {
    path: String,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: String,
}

/// Every file at the top of `console/`, by name, listed at build time (`build.rs`).
const CONSOLE_FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/console_files.rs"));

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&Sha256::digest(bytes)[..12]))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn asset(path: String, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset { path, content_type, bytes, etag: etag(bytes) }
}

/// The console's page at `/` (and at `/portal`, where a portal session opens it: docs/contract.md
/// 16), its other files under `/console/`, and the OpenAPI document.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let files = CONSOLE_FILES.iter().flat_map(|(name, bytes)| {
        let paths = if *name == "index.html" {
            vec!["/".to_string(), "/portal".into()]
        } else {
            vec![format!("/console/{name}")]
        };
        paths.into_iter().map(|path| asset(path, content_type(name), bytes))
    });
    let openapi = asset("/api/openapi.yaml".into(), "application/yaml", include_bytes!("../../openapi.yaml"));
    files.chain(std::iter::once(openapi)).collect()
});

/// The console page can reach only this origin: its own files and the API; no page may frame it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The page's policy: at `/portal`, the origin its `?origin=` names (the session's
/// `allowedOrigin`, which the console checks against its token) may frame it.
fn policy(request: &Request) -> String {
    let origin = (request.uri().path() == "/portal")
        .then(|| request.uri().query())
        .flatten()
        .and_then(|query| url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "origin"))
        .and_then(|(_, origin)| crate::portal::origin(&origin).ok());
    match origin {
        Some(origin) => CSP.replace("frame-ancestors 'none'", &format!("frame-ancestors {origin}")),
        None => CSP.to_string(),
    }
}

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
        .header(header::CONTENT_SECURITY_POLICY, policy(&request))
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
    use crate::testing::ApiEvent;

    fn get(path: &str, if_none_match: Option<&str>) -> Request {
        let mut event = ApiEvent::list_webhooks().route("GET", path, &[]).without_authorizer();
        if let Some(tag) = if_none_match {
            event = event.header("If-None-Match", tag);
        }
        event.request()
    }

    #[tokio::test]
    async fn serves_every_file_with_its_type_and_revalidates() {
        for asset in ASSETS.iter() {
            let response = serve_console(get(&asset.path, None)).await;
            assert_eq!(response.status(), 200, "{}", asset.path);
            assert_eq!(response.headers()["content-type"], asset.content_type);
            assert_eq!(response.headers()["cache-control"], "no-cache");
            assert!(!response.body().is_empty());
            let again = serve_console(get(&asset.path, Some(&asset.etag))).await;
            assert_eq!(again.status(), 304, "{}", asset.path);
        }
        assert_eq!(serve_console(get("/console/secrets.txt", None)).await.status(), 404);
    }

    #[tokio::test]
    async fn only_the_portal_page_may_be_framed_and_only_by_the_origin_its_url_names() {
        let framing = |path: &str, query: &[(&str, &str)]| {
            let encoded: Vec<(&str, String)> =
                query.iter().map(|(k, v)| (*k, url::form_urlencoded::byte_serialize(v.as_bytes()).collect())).collect();
            let encoded: Vec<(&str, &str)> = encoded.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let event = ApiEvent::list_webhooks().route("GET", path, &[]).query(&encoded);
            let request = event.without_authorizer().request();
            let policy = policy(&request);
            policy.split("; ").find(|d| d.starts_with("frame-ancestors")).unwrap_or_default().to_string()
        };
        assert_eq!(framing("/portal", &[("origin", "http://localhost:8123")]), "frame-ancestors http://localhost:8123");
        assert_eq!(framing("/portal", &[]), "frame-ancestors 'none'");
        let not_origins =
            ["http://localhost:8123/x", "javascript:alert(1)", "http://a.example 'self'", "*", "http://*"];
        for not_an_origin in not_origins.into_iter().chain(["https://*.example.com", "http://a;sandbox", "http://a,b"])
        {
            assert_eq!(framing("/portal", &[("origin", not_an_origin)]), "frame-ancestors 'none'", "{not_an_origin}");
        }
        assert_eq!(
            framing("/", &[("origin", "http://localhost:8123")]),
            "frame-ancestors 'none'",
            "the console's own page"
        );
        let portal = ApiEvent::list_webhooks()
            .route("GET", "/portal", &[])
            .query(&[("origin", "http%3A%2F%2Flocalhost%3A8123")]);
        let served = serve_console(portal.without_authorizer().request()).await;
        assert_eq!(served.status(), 200);
        let header = served.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(header.contains("frame-ancestors http://localhost:8123;"), "{header}");
    }

    #[test]
    fn every_file_of_the_console_folder_is_served_and_its_tests_are_not() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../console");
        let files = std::fs::read_dir(folder).expect("the console folder").filter_map(Result::ok);
        let names: Vec<String> = files
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        assert!(names.len() >= 17, "{names:?}");
        for name in names.iter().filter(|name| *name != "index.html") {
            assert!(ASSETS.iter().any(|a| a.path == format!("/console/{name}")), "{name} is not served");
        }
        assert!(ASSETS.iter().all(|a| !a.path.contains("tests")), "the browser tests are not served");
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
