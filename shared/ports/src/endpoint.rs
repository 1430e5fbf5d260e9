//! The identity of a remote endpoint that credentials and tokens are bound to.
//!
//! A token is sent only to the endpoint that issued it, and a secret only to the endpoint it was entered
//! for. Both compare [`issuer_of`] strings: scheme, host, port (explicit, the scheme's default filled in) and
//! path prefix (always ending with `/`), lower-cased where URLs are case-insensitive. Query and fragment,
//! and user info, are not part of it.

/// `scheme://host:port/path/` of `url`.
pub fn issuer_of(url: &url::Url) -> String {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url
        .host_str()
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let port = url
        .port_or_known_default()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let path = url.path();
    let path = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    format!("{scheme}://{host}:{port}{path}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn issuer(s: &str) -> String {
        issuer_of(&url::Url::parse(s).unwrap())
    }

    #[test]
    fn the_issuer_names_scheme_host_port_and_path_prefix() {
        assert_eq!(
            issuer("https://VP.Example.com/Acme"),
            "https://vp.example.com:443/Acme/"
        );
        assert_eq!(
            issuer("https://vp.example.com:443/Acme/?x=1#f"),
            "https://vp.example.com:443/Acme/"
        );
        assert_eq!(issuer("http://127.0.0.1:8080"), "http://127.0.0.1:8080/");
    }

    #[test]
    fn another_port_scheme_or_path_is_another_issuer() {
        let base = issuer("https://vp.example.com/Acme");
        for other in [
            "http://vp.example.com/Acme",
            "https://vp.example.com:8443/Acme",
            "https://vp.example.com/Other",
            "https://vp.example.com.evil.test/Acme",
            "https://user:pw@vp.example.com/Acme/x",
        ] {
            assert_ne!(issuer(other), base, "{other}");
        }
    }
}
