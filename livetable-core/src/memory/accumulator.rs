//! Per-group partial aggregates ("slots") and the plan that updates, merges, subtracts
//! and finishes them for one [`Aggregate`].
//!
//! Every group holds `1 + (metrics other than count)` slots; slot 0 counts the group's
//! events (it backs `count` and tells when a merged group has become empty).

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

use crate::aggregate::{Aggregate, MetricKind};
use crate::bucket::Partial;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{DataType, Value};

/// One partial aggregate. Kept small (40 bytes): sums are split into two words rather
/// than an `i128`, whose 16-byte alignment would grow every slot to 48 bytes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    /// Number of events.
    Count(u64),
    /// Exact integer sum as a 128-bit number (`hi:lo`), and how many values it holds.
    IntSum { hi: i64, lo: u64, n: u64 },
    /// Float sum of the finite values, the non-finite ones counted apart so that a
    /// bucket holding `inf` can be subtracted again without turning the sum into NaN.
    FloatSum {
        sum: f64,
        n: u64,
        pos_inf: u32,
        neg_inf: u32,
        nan: u32,
    },
    /// The smallest or largest value so far (`Null` when none).
    Extreme(Value),
    /// Distinct values: in a bucket each maps to 1; in a merged aggregate to the number
    /// of merged buckets holding it, so a bucket can be subtracted exactly.
    Distinct(FxHashMap<Value, u32>),
}

impl Slot {
    fn int_sum(&self) -> i128 {
        match *self {
            Slot::IntSum { hi, lo, .. } => (i128::from(hi) << 64) | i128::from(lo),
            _ => 0,
        }
    }
}

fn set_int_sum(hi: &mut i64, lo: &mut u64, v: i128) {
    // Truncation on purpose: the two halves of a 128-bit number.
    *hi = (v >> 64) as i64;
    *lo = v as u64;
}

/// What one metric reads and where it keeps its state.
#[derive(Clone, Copy, Debug)]
struct MetricPlan {
    kind: MetricKind,
    /// Position of the input in an event.
    input: usize,
    /// Slot index within a group (0 for count).
    slot: usize,
    float: bool,
}

/// How to aggregate events for one [`Aggregate`].
#[derive(Clone, Debug)]
pub(crate) struct AccumulatorPlan {
    metrics: Vec<MetricPlan>,
    /// The metrics with a slot of their own (all but `count`): what an event updates
    /// besides the event count.
    updates: Vec<MetricPlan>,
    names: Vec<String>,
    init: Vec<Slot>,
    /// Number of dimensions: the key is `event[1..=dims]`.
    pub(super) dims: usize,
    /// Output positions and directions of the order keys.
    order: Vec<(usize, bool)>,
    /// The type of each event column (to check a store's partial min/max).
    input_types: Vec<DataType>,
}

impl AccumulatorPlan {
    pub(super) fn new(spec: &Aggregate) -> Self {
        let types: Vec<DataType> = spec.event_columns().map(|(_, t)| t).collect();
        let mut init = vec![Slot::Count(0)];
        let mut metrics = Vec::with_capacity(spec.metrics().len());
        for (m, input) in spec.metrics().iter().zip(spec.metric_inputs()) {
            let input = input.unwrap_or(0);
            let float = types.get(input) == Some(&DataType::Float);
            let slot = match m.kind {
                MetricKind::Count => 0,
                kind => {
                    init.push(match kind {
                        MetricKind::Sum | MetricKind::Avg if float => Slot::FloatSum {
                            sum: 0.0,
                            n: 0,
                            pos_inf: 0,
                            neg_inf: 0,
                            nan: 0,
                        },
                        MetricKind::Sum | MetricKind::Avg => Slot::IntSum { hi: 0, lo: 0, n: 0 },
                        MetricKind::CountDistinct => Slot::Distinct(FxHashMap::default()),
                        _ => Slot::Extreme(Value::Null),
                    });
                    init.len() - 1
                }
            };
            metrics.push(MetricPlan {
                kind: m.kind,
                input,
                slot,
                float,
            });
        }
        let schema = spec.schema();
        let order = spec
            .order_by()
            .iter()
            .filter_map(|o| {
                schema
                    .index_of(&o.column)
                    .map(|i| (i, o.direction == crate::Direction::Desc))
            })
            .collect();
        AccumulatorPlan {
            updates: metrics.iter().filter(|m| m.slot != 0).copied().collect(),
            metrics,
            names: spec.metrics().iter().map(|m| m.name.clone()).collect(),
            init,
            dims: spec.dimensions().len(),
            order,
            input_types: types.clone(),
        }
    }

    /// The slots of a group from a store's partial aggregates for one bucket (see
    /// [`BucketRow`](crate::BucketRow)), checked against the spec: the error names the
    /// metric whose partial does not fit.
    pub(crate) fn slots_from_partials(
        &self,
        events: u64,
        partials: &[Partial],
    ) -> Result<Vec<Slot>> {
        if partials.len() != self.metrics.len() {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "a bucket row holds {} partials but the spec has {} metrics; return one \
                     partial per metric, in the spec's order",
                    partials.len(),
                    self.metrics.len()
                ),
            ));
        }
        let mut slots = self.init.clone();
        slots[0] = Slot::Count(events);
        for ((m, name), partial) in self.metrics.iter().zip(&self.names).zip(partials) {
            let bad = |expected: &str| {
                Err(Error::new(
                    ErrorKind::Unexpected,
                    format!(
                        "the bucket query returned {partial:?} for the {} metric `{name}`; \
                         expected {expected}",
                        m.kind.as_str()
                    ),
                )
                .with_context("column", name))
            };
            let slot = &mut slots[m.slot];
            match (m.kind, partial, slot) {
                (MetricKind::Count, Partial::Count, _) => {}
                (MetricKind::Count, ..) => return bad("Partial::Count"),
                (MetricKind::Sum | MetricKind::Avg, Partial::Sum { sum, values }, slot) => {
                    match (sum, slot) {
                        (Value::Null, _) if *values == 0 => {}
                        (Value::Int(x), Slot::IntSum { hi, lo, n }) => {
                            set_int_sum(hi, lo, i128::from(*x));
                            *n = *values;
                        }
                        (
                            Value::Int(_) | Value::Float(_),
                            Slot::FloatSum {
                                sum: s,
                                n,
                                pos_inf,
                                neg_inf,
                                nan,
                            },
                        ) => {
                            let x = match sum {
                                Value::Int(i) => *i as f64,
                                Value::Float(f) => *f,
                                _ => 0.0,
                            };
                            *n = *values;
                            if x.is_finite() {
                                *s = x;
                            } else if x.is_nan() {
                                *nan = 1;
                            } else if x > 0.0 {
                                *pos_inf = 1;
                            } else {
                                *neg_inf = 1;
                            }
                        }
                        (_, Slot::IntSum { .. }) => {
                            return bad("an integer sum (or Null with values = 0)");
                        }
                        _ => return bad("a float sum (or Null with values = 0)"),
                    }
                }
                (MetricKind::Sum | MetricKind::Avg, ..) => {
                    return bad("Partial::Sum { sum, values }");
                }
                (MetricKind::Min | MetricKind::Max, Partial::Extreme(v), Slot::Extreme(cur)) => {
                    if !v.is_null() && !self.input_types.get(m.input).is_none_or(|t| v.fits(*t)) {
                        return bad("a value of the input column's type");
                    }
                    *cur = v.clone();
                }
                (MetricKind::Min | MetricKind::Max, ..) => return bad("Partial::Extreme(value)"),
                (MetricKind::CountDistinct, ..) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "`{name}` is a count_distinct, which cannot be merged from time \
                             buckets; serve this table in the direct mode"
                        ),
                    )
                    .with_context("column", name));
                }
            }
        }
        Ok(slots)
    }

    /// Slots per group.
    pub(super) fn stride(&self) -> usize {
        self.init.len()
    }

    /// Fresh slots for a new group.
    pub(super) fn init(&self) -> &[Slot] {
        &self.init
    }

    /// Adds one (validated) event to a group's slots.
    #[inline]
    pub(super) fn add_event(&self, slots: &mut [Slot], event: &[Value]) {
        if let Slot::Count(n) = &mut slots[0] {
            *n += 1;
        }
        for m in &self.updates {
            let v = &event[m.input];
            match (&mut slots[m.slot], v) {
                (_, Value::Null) => {}
                (Slot::IntSum { hi, lo, n }, Value::Int(x)) => {
                    let s = (i128::from(*hi) << 64) | i128::from(*lo);
                    set_int_sum(hi, lo, s + i128::from(*x));
                    *n += 1;
                }
                (
                    Slot::FloatSum {
                        sum,
                        n,
                        pos_inf,
                        neg_inf,
                        nan,
                    },
                    Value::Float(x),
                ) => {
                    *n += 1;
                    if x.is_finite() {
                        *sum += x;
                    } else if x.is_nan() {
                        *nan += 1;
                    } else if *x > 0.0 {
                        *pos_inf += 1;
                    } else {
                        *neg_inf += 1;
                    }
                }
                (Slot::Extreme(cur), v) if better(m.kind, v, cur) => *cur = v.clone(),
                (Slot::Distinct(set), v) if !set.contains_key(v) => {
                    set.insert(v.clone(), 1);
                }
                // Validation guarantees the input type matches the slot.
                _ => {}
            }
        }
    }

    /// Adds a bucket's group state into a merged group (`dst += src`).
    pub(super) fn merge(&self, dst: &mut [Slot], src: &[Slot]) {
        for (d, s) in dst.iter_mut().zip(src) {
            match (d, s) {
                (Slot::Count(a), Slot::Count(b)) => *a += b,
                (Slot::IntSum { hi, lo, n }, s @ Slot::IntSum { n: bn, .. }) => {
                    let a = (i128::from(*hi) << 64) | i128::from(*lo);
                    set_int_sum(hi, lo, a + s.int_sum());
                    *n += bn;
                }
                (
                    Slot::FloatSum {
                        sum,
                        n,
                        pos_inf,
                        neg_inf,
                        nan,
                    },
                    Slot::FloatSum {
                        sum: bs,
                        n: bn,
                        pos_inf: bp,
                        neg_inf: bneg,
                        nan: bnan,
                    },
                ) => {
                    *sum += bs;
                    *n += bn;
                    *pos_inf += bp;
                    *neg_inf += bneg;
                    *nan += bnan;
                }
                (Slot::Distinct(a), Slot::Distinct(b)) => {
                    for v in b.keys() {
                        *a.entry(v.clone()).or_insert(0) += 1;
                    }
                }
                // Min/max: below, per metric.
                _ => {}
            }
        }
        self.merge_extremes(dst, src);
    }

    /// Merges only the min/max slots.
    pub(super) fn merge_extremes(&self, dst: &mut [Slot], src: &[Slot]) {
        for m in &self.metrics {
            if let (Slot::Extreme(cur), Slot::Extreme(v)) = (&mut dst[m.slot], &src[m.slot])
                && better(m.kind, v, cur)
            {
                *cur = v.clone();
            }
        }
    }

    /// Resets the min/max slots to "no value" (before recomputing them).
    pub(super) fn reset_extremes(&self, dst: &mut [Slot]) {
        for s in dst {
            if let Slot::Extreme(v) = s {
                *v = Value::Null;
            }
        }
    }

    /// Takes a bucket's group state out of a merged group (`dst -= src`). Returns
    /// whether a min/max of the group came from `src` and must be recomputed.
    pub(super) fn subtract(&self, dst: &mut [Slot], src: &[Slot]) -> bool {
        let mut recompute = false;
        for (d, s) in dst.iter_mut().zip(src) {
            match (d, s) {
                (Slot::Count(a), Slot::Count(b)) => *a -= b,
                (Slot::IntSum { hi, lo, n }, s @ Slot::IntSum { n: bn, .. }) => {
                    let a = (i128::from(*hi) << 64) | i128::from(*lo);
                    set_int_sum(hi, lo, a - s.int_sum());
                    *n -= bn;
                }
                (
                    Slot::FloatSum {
                        sum,
                        n,
                        pos_inf,
                        neg_inf,
                        nan,
                    },
                    Slot::FloatSum {
                        sum: bs,
                        n: bn,
                        pos_inf: bp,
                        neg_inf: bneg,
                        nan: bnan,
                    },
                ) => {
                    *n -= bn;
                    // An emptied sum restarts from an exact zero (no rounding residue).
                    *sum = if *n == 0 { 0.0 } else { *sum - bs };
                    *pos_inf -= bp;
                    *neg_inf -= bneg;
                    *nan -= bnan;
                }
                (Slot::Distinct(a), Slot::Distinct(b)) => {
                    for v in b.keys() {
                        if let Some(c) = a.get_mut(v) {
                            *c -= 1;
                            if *c == 0 {
                                a.remove(v);
                            }
                        }
                    }
                }
                // The merged extreme is unaffected unless it came from `src`.
                (Slot::Extreme(cur), Slot::Extreme(v)) if !v.is_null() && cur == v => {
                    recompute = true;
                }
                _ => {}
            }
        }
        recompute
    }

    /// The number of events of a group.
    pub(super) fn events(slots: &[Slot]) -> u64 {
        match slots[0] {
            Slot::Count(n) => n,
            _ => 0,
        }
    }

    /// Fails when an integer sum of the group does not fit an `i64`.
    pub(super) fn check(&self, slots: &[Slot], key: &[Value]) -> Result<()> {
        for (m, name) in self.metrics.iter().zip(&self.names) {
            if m.kind == MetricKind::Sum
                && !m.float
                && i64::try_from(slots[m.slot].int_sum()).is_err()
            {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "sum `{name}` overflows a 64-bit integer for the group {key:?}; sum \
                         smaller units or declare the field as a float"
                    ),
                )
                .with_context("column", name));
            }
        }
        Ok(())
    }

    /// The value of metric `i` for a group (call [`AccumulatorPlan::check`] first: an overflowing
    /// integer sum shows as `Null` here).
    pub(super) fn metric(&self, i: usize, slots: &[Slot]) -> Value {
        let m = &self.metrics[i];
        let s = &slots[m.slot];
        match (m.kind, s) {
            (MetricKind::Count, Slot::Count(n)) => {
                Value::Int(i64::try_from(*n).unwrap_or(i64::MAX))
            }
            (MetricKind::CountDistinct, Slot::Distinct(set)) => {
                Value::Int(i64::try_from(set.len()).unwrap_or(i64::MAX))
            }
            (_, Slot::Extreme(v)) => v.clone(),
            (_, Slot::IntSum { n: 0, .. }) | (_, Slot::FloatSum { n: 0, .. }) => Value::Null,
            (MetricKind::Sum, s @ Slot::IntSum { .. }) => {
                i64::try_from(s.int_sum()).map_or(Value::Null, Value::Int)
            }
            (MetricKind::Avg, s @ Slot::IntSum { n, .. }) => {
                Value::Float(s.int_sum() as f64 / *n as f64)
            }
            (kind, s @ Slot::FloatSum { n, .. }) => {
                let sum = float_sum(s);
                if kind == MetricKind::Avg {
                    Value::Float(sum / *n as f64)
                } else {
                    Value::Float(sum)
                }
            }
            _ => Value::Null,
        }
    }

    /// The output value at output position `i` (dimensions, then metrics).
    pub(super) fn output(&self, i: usize, key: &[Value], slots: &[Slot]) -> Value {
        if i < self.dims {
            key[i].clone()
        } else {
            self.metric(i - self.dims, slots)
        }
    }

    /// A full output row.
    pub(super) fn row(&self, key: &[Value], slots: &[Slot]) -> Vec<Value> {
        let mut row = Vec::with_capacity(self.dims + self.metrics.len());
        row.extend_from_slice(key);
        row.extend((0..self.metrics.len()).map(|i| self.metric(i, slots)));
        row
    }

    /// The first order key when it can be read as an integer straight from a group's
    /// slots (a `count`, or a `sum` of integers): its output position, slot and
    /// direction. Lets the top-N turn most groups away with one integer comparison.
    pub(super) fn leading_score(&self) -> Option<LeadingScore> {
        let &(pos, desc) = self.order.first()?;
        let m = self.metrics.get(pos.checked_sub(self.dims)?)?;
        let integer = m.kind == MetricKind::Count || (m.kind == MetricKind::Sum && !m.float);
        integer.then_some(LeadingScore {
            position: pos,
            slot: m.slot,
            desc,
        })
    }

    /// Compares a group with an output row in table order, exactly as
    /// [`Aggregate::compare_rows`] would compare the group's row with `row`.
    pub(super) fn cmp_with_row(&self, key: &[Value], slots: &[Slot], row: &[Value]) -> Ordering {
        for &(i, desc) in &self.order {
            let ord = if i < self.dims {
                key[i].cmp(&row[i])
            } else {
                self.metric(i - self.dims, slots).cmp(&row[i])
            };
            let ord = if desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        key.cmp(&row[..self.dims])
    }
}

/// See [`AccumulatorPlan::leading_score`]. Scores order as the output values do: `Null` (a sum of
/// no value) below every number.
#[derive(Clone, Copy, Debug)]
pub(super) struct LeadingScore {
    pub(super) position: usize,
    slot: usize,
    pub(super) desc: bool,
}

impl LeadingScore {
    /// The group's score.
    #[inline]
    pub(super) fn of(&self, slots: &[Slot]) -> i128 {
        match &slots[self.slot] {
            Slot::Count(n) => i128::from(*n),
            Slot::IntSum { n: 0, .. } => i128::MIN,
            s @ Slot::IntSum { .. } => s.int_sum(),
            _ => i128::MIN,
        }
    }

    /// The score of an output value (the worst row kept).
    pub(super) fn of_value(v: &Value) -> i128 {
        v.as_i64().map_or(i128::MIN, i128::from)
    }
}

/// Whether two groups' slots hold the same partials, float sums equal within a relative
/// 1e-9: a store may add the same floats in another order between two reads, which
/// changes the last bits, not the data.
pub(crate) fn same_partials(a: &[Slot], b: &[Slot]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (
                Slot::FloatSum {
                    sum: s1,
                    n: n1,
                    pos_inf: p1,
                    neg_inf: m1,
                    nan: z1,
                },
                Slot::FloatSum {
                    sum: s2,
                    n: n2,
                    pos_inf: p2,
                    neg_inf: m2,
                    nan: z2,
                },
            ) => {
                (n1, p1, m1, z1) == (n2, p2, m2, z2)
                    && (s1 - s2).abs() <= 1e-9 * s1.abs().max(s2.abs()).max(1.0)
            }
            (x, y) => x == y,
        })
}

/// Whether `v` replaces `cur` as the min (or max): `Null` never does and always loses.
#[inline]
fn better(kind: MetricKind, v: &Value, cur: &Value) -> bool {
    !v.is_null()
        && (cur.is_null()
            || if kind == MetricKind::Min {
                v < cur
            } else {
                v > cur
            })
}

fn float_sum(s: &Slot) -> f64 {
    match *s {
        Slot::FloatSum {
            sum,
            pos_inf,
            neg_inf,
            nan,
            ..
        } => {
            if nan > 0 || (pos_inf > 0 && neg_inf > 0) {
                f64::NAN
            } else if pos_inf > 0 {
                f64::INFINITY
            } else if neg_inf > 0 {
                f64::NEG_INFINITY
            } else {
                sum
            }
        }
        _ => 0.0,
    }
}
