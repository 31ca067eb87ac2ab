//! RFC 3339 timestamps for audit records and headers, from times the caller gives.

use chrono::{DateTime, SecondsFormat, Utc};

/// `now_ns` (ns since the epoch) as RFC 3339 UTC with nanoseconds when not whole
/// (`2026-11-26T10:00:00.000000001Z`).
pub fn rfc3339_from_ns(now_ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(now_ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Whole seconds since the epoch as RFC 3339 UTC (`2026-11-26T11:00:00Z`); seconds
/// beyond what a date can show (token times go up to 2^53) saturate.
pub fn rfc3339_from_secs(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    match DateTime::<Utc>::from_timestamp(secs, 0) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => "+262142-12-31T23:59:59Z".to_string(),
    }
}

/// Parses RFC 3339 (`2026-11-26T10:00:00Z`, any offset) or integer Unix seconds into
/// nanoseconds since the epoch.
pub fn parse_time_ns(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return secs.checked_mul(1_000_000_000);
    }
    DateTime::parse_from_rfc3339(text).ok()?.timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339_from_ns(1_764_151_200_000_000_000), "2025-11-26T10:00:00Z");
        assert_eq!(
            rfc3339_from_ns(1_764_151_200_000_000_001),
            "2025-11-26T10:00:00.000000001Z"
        );
        assert_eq!(rfc3339_from_secs(1_764_151_200), "2025-11-26T10:00:00Z");
        assert_eq!(parse_time_ns("2025-11-26T10:00:00Z"), Some(1_764_151_200_000_000_000));
        assert_eq!(
            parse_time_ns("2025-11-26T11:00:00+01:00"),
            Some(1_764_151_200_000_000_000)
        );
        assert_eq!(parse_time_ns("1764151200"), Some(1_764_151_200_000_000_000));
        assert_eq!(parse_time_ns("yesterday"), None);
    }
}
