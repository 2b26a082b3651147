//! Conditional formatting rules: serialisable, validated against a schema, applied by
//! front ends (the live page applies every kind).

use serde::{Deserialize, Serialize};

use crate::aggregate::Direction;
use crate::error::{Error, Result, one_of};
use crate::schema::Schema;
use crate::value::Value;

/// A CSS colour: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, a named colour such as
/// `crimson`, or a custom property such as `var(--warn)`. Anything else is refused, so a
/// rule can never inject CSS into a page.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Color(String);

impl Color {
    /// Parses a colour; see the type's documentation for the accepted forms.
    pub fn new(css: impl Into<String>) -> Result<Self> {
        let css = css.into();
        let hex = css.strip_prefix('#').is_some_and(|h| {
            matches!(h.len(), 3 | 4 | 6 | 8) && h.bytes().all(|b| b.is_ascii_hexdigit())
        });
        let named =
            !css.is_empty() && css.len() <= 32 && css.bytes().all(|b| b.is_ascii_alphabetic());
        let var = css
            .strip_prefix("var(--")
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|n| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if hex || named || var {
            Ok(Color(css))
        } else {
            Err(Error::invalid_spec(format!(
                "`{css}` is not a colour; use #rrggbb, a CSS colour name or var(--name)"
            )))
        }
    }

    /// The CSS text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Color {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Color::new(s)
    }
}

impl From<Color> for String {
    fn from(c: Color) -> String {
        c.0
    }
}

/// How a matching cell is drawn.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CellStyle {
    /// Text colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// Background colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Color>,
    /// Bold text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
}

impl CellStyle {
    /// A style with a background colour.
    pub fn background(color: Color) -> Self {
        CellStyle {
            background: Some(color),
            ..Default::default()
        }
    }

    /// A style with a text colour.
    pub fn color(color: Color) -> Self {
        CellStyle {
            color: Some(color),
            ..Default::default()
        }
    }

    /// Makes the text bold too.
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
}

/// A comparison for threshold rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// A conditional formatting rule attached to a table.
///
/// ```
/// use livetable_core::{CellStyle, Color, Comparison, FormatRule, Value};
/// let rule = FormatRule::Threshold {
///     column: "total_size".into(),
///     op: Comparison::Gt,
///     value: Value::Int(1_000_000),
///     style: CellStyle::background(Color::new("#ffe0e0")?).bold(),
/// };
/// assert_eq!(
///     serde_json::to_string(&rule).unwrap(),
///     r##"{"rule":"threshold","column":"total_size","op":"gt","value":1000000,"style":{"background":"#ffe0e0","bold":true}}"##
/// );
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FormatRule {
    /// Style cells whose value compares to `value` by `op`.
    Threshold {
        /// The column whose cells are styled (any type).
        column: String,
        /// How a cell compares with `value` to match (`gt`, `gte`, `lt`, `lte`, `eq`, `ne`).
        op: Comparison,
        /// The value compared with (of the column's type).
        value: Value,
        /// The style of matching cells.
        style: CellStyle,
    },
    /// Style the cells of the `n` rows with the largest (or smallest) values.
    TopN {
        /// The column ranked and styled; `Null` cells never rank.
        column: String,
        /// How many rows are styled: exactly `n`, a tie at the edge cut in sort order.
        n: usize,
        /// `desc` for the largest (default), `asc` for the smallest.
        #[serde(default = "desc")]
        direction: Direction,
        /// The style of those cells.
        style: CellStyle,
    },
    /// Colour each cell's background on a scale from the column's smallest value
    /// (`low`) to its largest (`high`).
    ColorScale {
        /// A numeric column.
        column: String,
        /// The colour of the smallest value.
        low: Color,
        /// The colour of the largest value.
        high: Color,
    },
    /// Draw a bar in each cell proportional to its value over the column's largest.
    DataBar {
        /// A numeric column.
        column: String,
        /// The bar's colour (its length is the cell's share of the column's largest).
        color: Color,
    },
}

fn desc() -> Direction {
    Direction::Desc
}

impl FormatRule {
    /// The column the rule reads.
    pub fn column(&self) -> &str {
        match self {
            FormatRule::Threshold { column, .. }
            | FormatRule::TopN { column, .. }
            | FormatRule::ColorScale { column, .. }
            | FormatRule::DataBar { column, .. } => column,
        }
    }

    /// Checks the rule against a schema: the column exists, a threshold value has the
    /// column's type (and is converted to it), scales and bars are on numeric columns,
    /// top-N has `n > 0`.
    pub fn validate(mut self, schema: &Schema) -> Result<Self> {
        let column = self.column().to_owned();
        let Some(col) = schema.column(&column) else {
            return Err(Error::invalid_spec(format!(
                "formatting rule on unknown column `{column}`; {}",
                one_of(schema.columns().iter().map(|c| c.name.as_str()))
            ))
            .with_context("column", column));
        };
        let data_type = col.data_type;
        match &mut self {
            FormatRule::Threshold { value, .. } => {
                let shown = format!("{value:?}");
                *value = data_type
                    .coerce(std::mem::take(value))
                    .filter(|v| !v.is_null())
                    .ok_or_else(|| {
                        Error::invalid_spec(format!(
                            "threshold on `{column}`: {shown} is not a {data_type}"
                        ))
                        .with_context("column", &column)
                    })?;
            }
            FormatRule::TopN { n, .. } if *n == 0 => {
                return Err(Error::invalid_spec(format!(
                    "top-N rule on `{column}` has n = 0; give a positive n"
                ))
                .with_context("column", column));
            }
            FormatRule::ColorScale { .. } | FormatRule::DataBar { .. }
                if !data_type.is_numeric() =>
            {
                return Err(Error::invalid_spec(format!(
                    "colour scales and data bars need a numeric column; `{column}` is {data_type}"
                ))
                .with_context("column", column));
            }
            _ => {}
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, DataType, ErrorKind};

    fn schema() -> Schema {
        Schema::new(vec![
            Column::dimension("host", DataType::Text),
            Column::metric("bytes", DataType::Int),
        ])
        .unwrap()
    }

    #[test]
    fn colours_refuse_css_injection() {
        assert!(Color::new("#0af").is_ok());
        assert!(Color::new("crimson").is_ok());
        assert!(Color::new("var(--warn-bg)").is_ok());
        assert!(Color::new("red; background: url(x)").is_err());
        assert!(Color::new("#12345").is_err());
        assert!(serde_json::from_str::<Color>(r#""expression(alert(1))""#).is_err());
    }

    #[test]
    fn rules_validate_against_the_schema() {
        let red = Color::new("red").unwrap();
        let unknown = FormatRule::DataBar {
            column: "nope".into(),
            color: red.clone(),
        }
        .validate(&schema())
        .unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::InvalidSpec);
        assert!(unknown.message().contains("`host`, `bytes`"), "{unknown}");

        let text_bar = FormatRule::DataBar {
            column: "host".into(),
            color: red.clone(),
        }
        .validate(&schema())
        .unwrap_err();
        assert!(text_bar.message().contains("numeric"), "{text_bar}");

        let coerced = FormatRule::Threshold {
            column: "bytes".into(),
            op: Comparison::Gte,
            value: Value::from("1000"),
            style: CellStyle::color(red.clone()),
        }
        .validate(&schema())
        .unwrap();
        assert!(matches!(
            coerced,
            FormatRule::Threshold {
                value: Value::Int(1000),
                ..
            }
        ));

        let zero = FormatRule::TopN {
            column: "bytes".into(),
            n: 0,
            direction: Direction::Desc,
            style: CellStyle::default(),
        };
        assert!(zero.validate(&schema()).is_err());
    }

    #[test]
    fn top_n_defaults_to_largest() {
        let rule: FormatRule = serde_json::from_str(
            r#"{"rule":"top_n","column":"bytes","n":3,"style":{"bold":true}}"#,
        )
        .unwrap();
        assert!(matches!(
            rule,
            FormatRule::TopN {
                direction: Direction::Desc,
                n: 3,
                ..
            }
        ));
    }
}
