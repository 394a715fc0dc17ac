//! CSRF protection of the sign-in forms, before there is a session.
//!
//! **Design: the double-submit cookie.** An anonymous visitor's sign-in page
//! sets a random token (256 bits from the operating system's CSPRNG,
//! base64url) in a cookie and puts the same token in every form's hidden
//! `csrf` field; a sign-in form is acted on only when both are present and
//! equal (compared in constant time). Another site can make a browser post
//! a form, but it can neither read the cookie nor set it, so it cannot make
//! the two match. This keeps anonymous page views stateless: nothing is
//! written until a form is posted, so page views cannot make pod write to
//! its database. It needs no server-side key either (an HMAC-signed token
//! would, shared by every server of a cluster and rotated by the operator).
//!
//! The cookie has the session cookie's attributes (`HttpOnly`,
//! `SameSite=Lax`, no `Domain`, `Secure` when configured). Served over HTTPS
//! it is `__Host-pod_csrf` with `Path=/`: the `__Host-` prefix makes the
//! browser refuse the cookie from anywhere but a secure response of this
//! very host, so a sibling subdomain cannot plant a token of its own (the
//! one weakness of the plain pattern). Over plain HTTP (development) the
//! browser would refuse that prefix, so it is `pod_csrf`, scoped to
//! `<base>/app` like the session cookie.
//!
//! Once signed in, forms carry the session's own token instead
//! ([`super::csrf_matches`]), and the cookie is removed.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{AppError, AppState};

/// The CSRF cookie's name over plain HTTP.
pub(crate) const CSRF_COOKIE: &str = "pod_csrf";
/// The CSRF cookie's name when cookies are `Secure`.
pub(crate) const SECURE_CSRF_COOKIE: &str = "__Host-pod_csrf";

/// The length of a token: 32 bytes in base64url without padding.
const TOKEN_LEN: usize = 43;

/// Whether `value` looks like a token pod made (anything else is ignored).
fn well_formed(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh token.
fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        tracing::warn!("web app: no randomness for a CSRF token");
        AppError::Unavailable
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl AppState {
    fn csrf_cookie_name(&self) -> &'static str {
        if self.web.config.secure_cookie {
            SECURE_CSRF_COOKIE
        } else {
            CSRF_COOKIE
        }
    }

    /// The CSRF cookie without a value: its name and attributes.
    /// [`CookieJar::remove`] turns it into a removal.
    pub(crate) fn csrf_cookie_attributes(&self) -> Cookie<'static> {
        let path = if self.web.config.secure_cookie {
            "/".to_owned()
        } else {
            self.web.app_path()
        };
        Cookie::build(self.csrf_cookie_name())
            .path(path)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.web.config.secure_cookie)
            .build()
    }

    /// The token of the request's CSRF cookie, if it has a well-formed one.
    fn csrf_cookie(&self, jar: &CookieJar) -> Option<String> {
        jar.get(self.csrf_cookie_name())
            .map(Cookie::value)
            .filter(|value| well_formed(value))
            .map(str::to_owned)
    }

    /// The anonymous visitor's CSRF token for the forms of a page: the one
    /// the browser has, else a fresh one. `jar` comes back with the cookie
    /// (re)set, good for a sign-in's lifetime. Writes nothing on the server.
    pub(crate) fn csrf_token(&self, jar: CookieJar) -> Result<(String, CookieJar), AppError> {
        let token = match self.csrf_cookie(&jar) {
            Some(token) => token,
            None => random_token()?,
        };
        let mut cookie = self.csrf_cookie_attributes();
        cookie.set_value(token.clone());
        let lifetime = self.web.config.sign_in_lifetime;
        cookie.set_max_age(time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX));
        Ok((token, jar.add(cookie)))
    }

    /// Whether a sign-in form's `submitted` token is the one in the
    /// request's CSRF cookie (both present, compared in constant time).
    pub(crate) fn double_submitted(&self, jar: &CookieJar, submitted: Option<&str>) -> bool {
        let (Some(cookie), Some(submitted)) = (self.csrf_cookie(jar), submitted) else {
            return false;
        };
        verify_slices_are_equal(submitted.as_bytes(), cookie.as_bytes()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", &a[..42]),
            &"é".repeat(21),
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
