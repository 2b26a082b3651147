//! What every backend's configuration shares: URLs shown without their secrets, and
//! durations written as (fractional) seconds in serde formats.

/// `url` with any password replaced by `***`: the password of the user info
/// (`scheme://user:password@host`, up to the last `@` of the authority, so a password
/// holding `@` or `:` is hidden whole) and a `password=` query parameter.
///
/// For `Debug` output and error messages: a configuration's URL may carry credentials.
///
/// ```
/// use livetable_core::config::redact_url;
/// assert_eq!(redact_url("postgres://app:p@ss@db/x"), "postgres://app:***@db/x");
/// assert_eq!(redact_url("http://db/x?password=pw&a=1"), "http://db/x?password=***&a=1");
/// ```
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    // The user info ends at the last `@` of the authority, which ends at the first `/`,
    // `?` or `#` after `://`.
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = auth_start..auth_start + at;
            if let Some(colon) = out[userinfo.clone()].find(':') {
                out.replace_range(userinfo.start + colon + 1..userinfo.end, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// A [`Duration`](std::time::Duration) as a number of seconds (`1.5`), for
/// `#[serde(with = "livetable_core::config::secs")]`.
pub mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes `d` as seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Reads seconds; a negative, infinite or NaN number is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_query_passwords() {
        assert_eq!(
            redact_url("postgres://app:p@ss:w@rd@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=hunter2&sslmode=disable"),
            "postgres://db/x?user=a&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("https://elastic:hunter2@es:9200"),
            "https://elastic:***@es:9200"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
