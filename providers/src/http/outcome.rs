//! The mapping of HTTP and transport outcomes to [`ProviderError`], as pure functions.

use std::time::Duration;

use crate::ProviderError;

/// What a 409 Conflict means for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflict {
    /// The provider has no capacity for the request (e.g. MAAS allocate).
    NoCapacity,
    /// Anything else: a race on the provider's side, worth retrying later.
    #[default]
    Transient,
}

/// The error for a non-success status. `retry_after` is the parsed `Retry-After` header.
pub fn status_error(
    status: u16,
    conflict: Conflict,
    retry_after: Option<Duration>,
) -> ProviderError {
    match status {
        401 | 403 => ProviderError::Auth,
        404 => ProviderError::NotFound,
        409 => match conflict {
            Conflict::NoCapacity => ProviderError::NoCapacity,
            Conflict::Transient => ProviderError::Transient("409 conflict".to_string()),
        },
        429 => ProviderError::RateLimited { retry_after },
        500..=599 => ProviderError::Transient(format!("HTTP {status}")),
        408 => ProviderError::Transient("HTTP 408 request timeout".to_string()),
        _ => ProviderError::InvalidResponse(format!("unexpected HTTP {status}")),
    }
}

/// The error for a vendor's error message and its status: quota words (`quota`, `balance`,
/// `limit reached`, `maximum`) mean no quota, then capacity words (`unavailable`, `out of
/// stock`, `insufficient`, `not enough`, `not available`, `no available`, `capacity`) no
/// capacity; the rest follows [`status_error`]. For APIs whose error bodies carry only free
/// text.
pub fn message_error(status: u16, message: &str) -> ProviderError {
    let m = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if any(&["quota", "balance", "limit reached", "maximum"]) {
        ProviderError::NoQuota
    } else if any(&[
        "unavailable",
        "out of stock",
        "insufficient",
        "not enough",
        "not available",
        "no available",
        "capacity",
    ]) {
        ProviderError::NoCapacity
    } else {
        status_error(status, Conflict::Transient, None)
    }
}

/// The error for a request that got no response.
pub fn transport_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Transient("request timed out".to_string())
    } else if e.is_connect() {
        ProviderError::Transient("could not connect".to_string())
    } else if e.is_decode() || e.is_body() {
        ProviderError::Transient("response body interrupted".to_string())
    } else {
        ProviderError::Transient("transport failure".to_string())
    }
}

/// `Retry-After` in its delay-seconds form, capped at `cap`. The HTTP-date form is not
/// read (no provider we call sends it); it yields `None`.
pub fn retry_after(header: Option<&str>, cap: Duration) -> Option<Duration> {
    let secs: u64 = header?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(cap))
}

/// Whether an outcome says the provider is unhealthy (counts against the breaker).
pub fn is_failure(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Transient(_) | ProviderError::InvalidResponse(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_taxonomy() {
        let c = Conflict::Transient;
        assert_eq!(status_error(401, c, None), ProviderError::Auth);
        assert_eq!(status_error(403, c, None), ProviderError::Auth);
        assert_eq!(status_error(404, c, None), ProviderError::NotFound);
        assert!(matches!(
            status_error(409, c, None),
            ProviderError::Transient(_)
        ));
        assert_eq!(
            status_error(409, Conflict::NoCapacity, None),
            ProviderError::NoCapacity
        );
        assert_eq!(
            status_error(429, c, Some(Duration::from_secs(3))),
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            status_error(503, c, None),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            status_error(418, c, None),
            ProviderError::InvalidResponse(_)
        ));
    }

    #[test]
    fn free_text_messages_map_capacity_and_quota_words_before_the_status() {
        assert_eq!(
            message_error(400, "Hostnode unavailable"),
            ProviderError::NoCapacity
        );
        assert_eq!(
            message_error(400, "Insufficient balance"),
            ProviderError::NoQuota
        );
        assert_eq!(
            message_error(400, "You have reached the maximum monthly fee limit"),
            ProviderError::NoQuota
        );
        assert_eq!(message_error(401, "Invalid API key"), ProviderError::Auth);
        assert!(matches!(
            message_error(400, "Invalid plan"),
            ProviderError::InvalidResponse(_)
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_is_capped() {
        let cap = Duration::from_secs(30);
        assert_eq!(retry_after(Some("7"), cap), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some("3600"), cap), Some(cap));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), cap),
            None
        );
        assert_eq!(retry_after(None, cap), None);
    }
}
