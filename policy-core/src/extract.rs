//! Finding the token in a request: the configured header, behind the configured prefix.

use crate::config::TokenConfig;
use crate::jws::MAX_TOKEN_BYTES;
use crate::request::Request;
use crate::token::{TokenError, TokenFailure};

/// Returns the token text, `Ok(None)` when the request has none, or a failure:
/// more than one token header, a value without the prefix, an empty token, stray
/// whitespace or a token over 8 KiB are malformed.
pub fn extract_token<'r>(request: &'r Request, config: &TokenConfig) -> Result<Option<&'r str>, TokenFailure> {
    let malformed = |detail: &str| TokenFailure {
        error: TokenError::Malformed,
        detail: detail.to_owned(),
    };
    let mut values = request.header_values(&config.header);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed("more than one token header"));
    }
    let token = if config.prefix.is_empty() {
        value
    } else {
        match value.get(..config.prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(&config.prefix) => {
                value.get(config.prefix.len()..).unwrap_or_default()
            }
            _ => return Err(malformed("token header does not start with the configured prefix")),
        }
    };
    if token.is_empty() {
        return Err(malformed("token header is empty"));
    }
    if token.bytes().any(|b| b.is_ascii_whitespace() || b == b',') {
        return Err(malformed("token header has whitespace or more than one token"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("token is longer than 8 KiB"));
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(prefix: &str) -> TokenConfig {
        TokenConfig {
            header: "authorization".into(),
            prefix: prefix.into(),
            forward: false,
        }
    }

    #[test]
    fn extracts_behind_prefix_case_insensitively() {
        let r = Request::new("GET", "/").header("Authorization", "bearer a.b.c");
        assert_eq!(extract_token(&r, &cfg("Bearer ")).unwrap(), Some("a.b.c"));
        let r = Request::new("GET", "/").header("authorization", "a.b.c");
        assert_eq!(extract_token(&r, &cfg("")).unwrap(), Some("a.b.c"));
        assert_eq!(extract_token(&Request::new("GET", "/"), &cfg("")).unwrap(), None);
    }

    #[test]
    fn malformed_cases() {
        let bad = |r: Request, prefix: &str| extract_token(&r, &cfg(prefix)).unwrap_err().error;
        let base = || Request::new("GET", "/");
        assert_eq!(
            bad(
                base().header("authorization", "a.b.c").header("Authorization", "d.e.f"),
                ""
            ),
            TokenError::Malformed
        );
        assert_eq!(
            bad(base().header("authorization", "Basic a.b.c"), "Bearer "),
            TokenError::Malformed
        );
        assert_eq!(
            bad(base().header("authorization", "Bearer  a.b.c"), "Bearer "),
            TokenError::Malformed
        );
        assert_eq!(bad(base().header("authorization", "a.b.c "), ""), TokenError::Malformed);
        assert_eq!(
            bad(base().header("authorization", "a.b.c,d.e.f"), ""),
            TokenError::Malformed
        );
        assert_eq!(bad(base().header("authorization", ""), ""), TokenError::Malformed);
        assert_eq!(
            bad(base().header("authorization", "Bearer "), "Bearer "),
            TokenError::Malformed
        );
        assert_eq!(
            bad(base().header("authorization", "x".repeat(8193)), ""),
            TokenError::Malformed
        );
    }
}
