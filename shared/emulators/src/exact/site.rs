//! Exact Online sites (reference §1.1): one host per country — `start.exactonline.nl`, `.be`, `.de`, `.fr`,
//! `.es`, `.co.uk`, `.com` — each serving OAuth and the REST API. Credentials are bound to the site that
//! issued them: a code, access token or refresh token from one site is unknown on another (401 on the API,
//! `invalid_grant` at the token endpoint), as client codebases report for accounts on another country's host.
//!
//! The emulator serves every site at once and tells them apart by the request's `Host` (any port), or, for
//! clients that cannot choose a host name, by a path prefix: `/{site}/api/...` with `nl`, `be`, `de`, `fr`,
//! `es`, `uk` or `us`. A request matching neither is on the Dutch site, the default of every client.

use axum::http::HeaderMap;

/// (site code, host) of every country site.
pub const SITES: &[(&str, &str)] = &[
    ("nl", "start.exactonline.nl"),
    ("be", "start.exactonline.be"),
    ("de", "start.exactonline.de"),
    ("fr", "start.exactonline.fr"),
    ("es", "start.exactonline.es"),
    ("uk", "start.exactonline.co.uk"),
    ("us", "start.exactonline.com"),
];

/// The site of requests that name none, and of tokens issued through the admin surface.
pub const DEFAULT_SITE: &str = "nl";

/// The path prefix a request came through (`None`: the root paths).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SitePrefix(pub Option<&'static str>);

/// The site code of `code` when it names one (case-insensitive).
pub(crate) fn known(code: &str) -> Option<&'static str> {
    SITES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(c, _)| *c)
}

/// The site a request is on: its path prefix, else its `Host`, else the default.
pub(crate) fn resolve(prefix: SitePrefix, headers: &HeaderMap) -> &'static str {
    if let Some(code) = prefix.0 {
        return code;
    }
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .and_then(|host| {
            SITES
                .iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(host))
                .map(|(c, _)| *c)
        })
        .unwrap_or(DEFAULT_SITE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(
            "host",
            HeaderValue::from_str(h).unwrap_or(HeaderValue::from_static("x")),
        );
        m
    }

    #[test]
    fn the_prefix_wins_then_the_host_then_the_dutch_default() {
        assert_eq!(
            resolve(SitePrefix(Some("be")), &host("start.exactonline.de")),
            "be"
        );
        assert_eq!(
            resolve(SitePrefix(None), &host("start.exactonline.co.uk:8443")),
            "uk"
        );
        assert_eq!(resolve(SitePrefix(None), &host("127.0.0.1:4000")), "nl");
        assert_eq!(known("US"), Some("us"));
        assert_eq!(known("xx"), None);
    }
}
