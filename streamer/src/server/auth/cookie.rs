//! The session cookie: `HttpOnly` (page scripts never see it), `SameSite=Strict` (no other
//! site's page can make the browser send it), `Secure` whenever the browser reached us over
//! https, and scoped to the base path.

use hyper::HeaderMap;
use hyper::header::COOKIE;

pub const NAME: &str = "skerry_session";

/// A `Set-Cookie` value that stores `value` for `max_age` seconds.
pub fn set(value: &str, path: &str, secure: bool, max_age: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{NAME}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear(path: &str, secure: bool) -> String {
    set("", path, secure, 0)
}

/// The session cookie's value among the request's cookies.
pub fn find(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == NAME)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_have_the_safe_attributes() {
        let c = set("abc.def", "/desk/", true, 3600);
        assert_eq!(
            c,
            "skerry_session=abc.def; Path=/desk/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set("v", "/", false, 1).contains("Secure"));
        assert!(clear("/", false).contains("Max-Age=0"));
    }

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            "theme=dark; skerry_session=tok.en".parse().expect("v"),
        );
        assert_eq!(find(&h), Some("tok.en"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1".parse().expect("v"));
        h.append(COOKIE, "skerry_session=x".parse().expect("v"));
        assert_eq!(find(&h), Some("x"));
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            "skerry_sessionX=1; skerry_session=".parse().expect("v"),
        );
        assert_eq!(find(&h), None);
        assert_eq!(find(&HeaderMap::new()), None);
    }
}
