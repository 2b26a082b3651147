//! Query string → [`ViewParams`].
//!
//! The syntax, the same for the JSON, CSV and stream endpoints:
//!
//! | query | meaning |
//! |---|---|
//! | `window=15m` | the window length, one of the table's allowed windows (`15m`, `1h`, `90s`, `1h 30m`) |
//! | `protocol=TCP` | only rows whose dimension `protocol` is `TCP` |
//! | `protocol=TCP&protocol=UDP` | a repeated key: rows whose `protocol` is any of the values |
//! | `trend=count` | each row also carries that metric per time step (a sparkline's data; sources with time buckets) |
//! | `group_by=source_ip,protocol` | group by these dimensions only, in this order (a roll-up; filters still apply to every dimension) |
//!
//! Every parameter has a `=`: a bare `protocol` (or `window`) is a 400, while
//! `protocol=` filters on the empty text.
//!
//! Every key other than `window`, `group_by` and `trend` names a dimension column; values are written as text
//! and converted to the column's type (numbers, `true`/`false`, RFC 3339 timestamps, IP
//! addresses), so `source_ip=10.0.0.1&source_ip=10.0.0.2` filters on two addresses.
//! Values are percent-encoded as usual (`+` is a space). Validation (allowed windows,
//! dimension names, value types) happens in [`Table::view`](livetable_core::Table::view);
//! each mistake is a 400 whose message says what is allowed.

use livetable_core::{Error, Filter, Result, Value, ViewParams};

/// The most filter values one request may carry: a bound on the work one URL can ask.
pub(crate) const MAX_VALUES: usize = 1024;

/// Parses a raw query string (without the `?`) into view parameters.
///
/// ```
/// # use livetable_http::parse_view_params;
/// let params = parse_view_params(Some("window=15m&protocol=TCP&port=80&port=443"))?;
/// assert_eq!(params.window, Some(std::time::Duration::from_secs(900)));
/// assert_eq!(params.filters.len(), 2);
/// # Ok::<(), livetable_core::Error>(())
/// ```
pub fn parse_view_params(query: Option<&str>) -> Result<ViewParams> {
    let mut params = ViewParams::default();
    // (column, values) in order of first appearance.
    let mut columns: Vec<(String, Vec<Value>)> = Vec::new();
    let mut count = 0usize;
    let query = query.unwrap_or("");
    // `form_urlencoded` reads `protocol` as `protocol=`; a bare name is a mistake.
    if let Some(bare) = query
        .split('&')
        .find(|pair| !pair.is_empty() && !pair.contains('='))
    {
        let name = form_urlencoded::parse(bare.as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default();
        return Err(Error::invalid_parameter(format!(
            "`{name}` has no value; write `{name}=value` (or `window=15m` for the window)"
        ))
        .with_context("parameter", name));
    }
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "window" {
            if params.window.is_some() {
                return Err(Error::invalid_parameter(
                    "`window` is given twice; give one window such as `window=15m`",
                )
                .with_context("parameter", "window"));
            }
            params.window = Some(ViewParams::parse_window(&value)?);
            continue;
        }
        if key == "trend" {
            if params.trend.is_some() {
                return Err(Error::invalid_parameter(
                    "`trend` is given twice; name one metric: `trend=count`",
                )
                .with_context("parameter", "trend"));
            }
            params = params.with_trend(value.trim());
            continue;
        }
        if key == "group_by" {
            if params.group_by.is_some() {
                return Err(Error::invalid_parameter(
                    "`group_by` is given twice; list the dimensions once, separated by \
                     commas: `group_by=source_ip,protocol`",
                )
                .with_context("parameter", "group_by"));
            }
            // An empty list is kept: the table says which dimensions it has.
            let names = value.split(',').map(str::trim).filter(|n| !n.is_empty());
            params = params.with_group_by(names);
            continue;
        }
        if key.is_empty() {
            return Err(Error::invalid_parameter(
                "a query parameter has no name; write `column=value` or `window=15m`",
            ));
        }
        count += 1;
        if count > MAX_VALUES {
            return Err(Error::invalid_parameter(format!(
                "too many filter values (more than {MAX_VALUES}); narrow the filter"
            )));
        }
        let value = Value::Text(value.into_owned());
        match columns.iter_mut().find(|(c, _)| *c == key) {
            Some((_, values)) => values.push(value),
            None => columns.push((key.into_owned(), vec![value])),
        }
    }
    for (column, mut values) in columns {
        let filter = if values.len() == 1 {
            Filter::eq(column, values.remove(0))
        } else {
            Filter::is_in(column, values)
        };
        params = params.with_filter(filter);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use livetable_core::ErrorKind;

    #[test]
    fn repeated_keys_become_in_filters() {
        let p = parse_view_params(Some("a=1&b=x%20y&a=2&b=z")).unwrap();
        assert_eq!(p.window, None);
        assert_eq!(
            p.filters,
            vec![
                Filter::is_in("a", ["1", "2"]),
                Filter::is_in("b", ["x y", "z"]),
            ]
        );
        let p = parse_view_params(Some("c=+")).unwrap();
        assert_eq!(p.filters, vec![Filter::eq("c", " ")]);
    }

    #[test]
    fn a_bare_name_is_a_400_like_a_bare_window_but_an_empty_value_filters() {
        let bare = parse_view_params(Some("protocol")).unwrap_err();
        let window = parse_view_params(Some("window")).unwrap_err();
        assert_eq!(bare.kind(), window.kind());
        assert!(bare.message().contains("`protocol=value`"), "{bare}");
        let p = parse_view_params(Some("protocol=")).unwrap();
        assert_eq!(p.filters, vec![Filter::eq("protocol", "")]);
        assert!(parse_view_params(Some("window=")).is_err());
    }

    #[test]
    fn group_by_is_a_comma_list_and_never_a_filter() {
        let p = parse_view_params(Some("group_by=source_ip,%20protocol&port=80")).unwrap();
        assert_eq!(
            p.group_by,
            Some(vec!["source_ip".to_owned(), "protocol".to_owned()])
        );
        assert_eq!(p.filters, vec![Filter::eq("port", "80")]);
        assert_eq!(
            parse_view_params(Some("group_by=")).unwrap().group_by,
            Some(vec![])
        );
        let twice = parse_view_params(Some("group_by=a&group_by=b")).unwrap_err();
        assert!(twice.message().contains("given twice"), "{twice}");
    }

    #[test]
    fn empty_query_is_the_default_view() {
        assert_eq!(parse_view_params(None).unwrap(), ViewParams::default());
        assert_eq!(parse_view_params(Some("")).unwrap(), ViewParams::default());
    }

    #[test]
    fn mistakes_are_invalid_parameters() {
        for bad in [
            "window=soon",
            "window=1h&window=2h",
            "=x",
            "window",
            "protocol",
            "a=1&protocol",
        ] {
            let e = parse_view_params(Some(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{bad}");
        }
        let many = vec!["a=1"; MAX_VALUES + 1].join("&");
        assert!(parse_view_params(Some(&many)).is_err());
    }
}
