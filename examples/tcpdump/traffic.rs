//! The in-memory table and what feeds it: the synthetic traffic generator (a past
//! hour at startup, then live packets at a steady rate) or tcpdump's output on
//! standard input.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use livetable::{
    Aggregate, Error, FetchContext, Fetched, MemorySource, Result, Schema, SourceProfile,
    TableQuery, Value, Window,
};
use tracing::{info, warn};

use super::capture::parse_line;
use super::workload::{Field, LiveTraffic, Packet};

/// Events pushed per batch (one lock per batch).
const BATCH: usize = 50_000;
/// How often the generator pushes packets.
const GENERATOR_TICK: Duration = Duration::from_millis(250);
/// How often the stdin reader reports its counts.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// A memory source for `spec` whose retention covers the longest window offered.
pub(crate) fn memory_source(spec: Aggregate, longest_window: Duration) -> Result<MemorySource> {
    // 10 s buckets: a 5-minute window moves in steps of at most 10 s.
    MemorySource::builder(spec)
        .bucket_width(Duration::from_secs(10))
        .retention(longest_window)
        .build()
}

/// Turns packets into the events of a spec: its event columns (see
/// [`Aggregate::event_columns`]), each read from the packet by name.
#[derive(Clone, Debug)]
pub(crate) struct EventLayout {
    columns: Vec<String>,
}

impl EventLayout {
    pub(crate) fn new(spec: &Aggregate) -> Self {
        let columns = spec.event_columns().map(|(name, _)| name.into()).collect();
        EventLayout { columns }
    }

    /// The event of one packet; fails on a column packets do not have. (The source
    /// checks the types when the event is pushed.)
    pub(crate) fn event(&self, p: &Packet) -> Result<Vec<Value>> {
        self.columns
            .iter()
            .map(|c| match p.field(c) {
                Some(Field::Time(t)) => Ok(Value::Timestamp(t)),
                Some(Field::Ip(ip)) => Ok(Value::Ip(ip)),
                Some(Field::Int(n)) => Ok(Value::Int(n)),
                Some(Field::Text(s)) => Ok(Value::from(s)),
                None => Err(Error::invalid_spec(format!("packets have no column `{c}`"))
                    .with_context("column", c)),
            })
            .collect()
    }
}

/// Pushes packets into `source` in batches; returns how many were kept.
pub(crate) fn push_packets(
    source: &MemorySource,
    layout: &EventLayout,
    packets: &[Packet],
) -> Result<usize> {
    let mut kept = 0;
    for chunk in packets.chunks(BATCH) {
        let events: Vec<Vec<Value>> = chunk
            .iter()
            .map(|p| layout.event(p))
            .collect::<Result<_>>()?;
        kept += source.push_batch(events)?;
    }
    Ok(kept)
}

/// `count` packets of the hour ending at `now`, as the live generator for `seed` would
/// have produced them, and that generator, to continue from `now`. The past hour is
/// the live stream's own (not the batch hour of the benchmarks, whose flows live in
/// random intervals of the hour): the window then holds from the start what it will
/// hold later, and the table (its groups, its memory) stays in the same state as it
/// slides instead of changing character for an hour.
pub(crate) fn past_hour(seed: u64, count: usize, now: DateTime<Utc>) -> (Vec<Packet>, LiveTraffic) {
    let mut traffic = LiveTraffic::new(seed);
    let packets = traffic.generate(count, now - TimeDelta::hours(1), now);
    (packets, traffic)
}

/// Fills `source` with `count` packets of the past hour ending at `now` (see
/// [`past_hour`]); returns the generator to continue with.
pub(crate) fn prefill(
    source: &MemorySource,
    layout: &EventLayout,
    seed: u64,
    count: usize,
    now: DateTime<Utc>,
) -> Result<LiveTraffic> {
    let started = Instant::now();
    let (packets, traffic) = past_hour(seed, count, now);
    let kept = push_packets(source, layout, &packets)?;
    info!(
        packets = kept,
        groups = source.stats().groups,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "prefilled the past hour"
    );
    Ok(traffic)
}

/// Packets per tick at `rate` per second, carrying the fraction over so a low rate
/// still produces its packets.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: f64,
    carry: f64,
}

impl Pacer {
    pub(crate) fn new(rate: f64) -> Self {
        Pacer { rate, carry: 0.0 }
    }

    /// How many packets `elapsed` is worth.
    pub(crate) fn take(&mut self, elapsed: Duration) -> usize {
        let due = self.rate * elapsed.as_secs_f64() + self.carry;
        let n = due.floor();
        self.carry = due - n;
        n as usize
    }
}

/// Feeds `source` with live synthetic packets from `traffic` at `rate` per second,
/// from `since` on, forever.
pub(crate) fn spawn_generator(
    source: MemorySource,
    layout: EventLayout,
    traffic: LiveTraffic,
    since: DateTime<Utc>,
    rate: f64,
) {
    spawn_live_traffic(traffic, since, rate, GENERATOR_TICK, move |packets| {
        std::future::ready(push_packets(&source, &layout, &packets).map(drop))
    });
}

/// Hands `rate` live synthetic packets per second from `traffic` to `write`, every
/// `tick`, from `since` on (the end of the past hour loaded: the first batch catches
/// up), forever; an error is logged and the next tick tries again. What feeds the
/// memory source here, and any store the example loads live packets into.
pub(crate) fn spawn_live_traffic<F, Fut>(
    mut traffic: LiveTraffic,
    since: DateTime<Utc>,
    rate: f64,
    tick: Duration,
    write: F,
) where
    F: Fn(Vec<Packet>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    if rate <= 0.0 {
        return;
    }
    tokio::spawn(async move {
        let mut pacer = Pacer::new(rate);
        let mut last = since;
        let mut ticker = tokio::time::interval(tick);
        ticker.tick().await; // the first tick is immediate: nothing is due yet
        loop {
            ticker.tick().await;
            let now = Utc::now();
            let n = pacer.take((now - last).to_std().unwrap_or_default());
            let packets = traffic.generate(n, last, now);
            last = now;
            if let Err(e) = write(packets).await {
                // Generated packets always fit the spec; say so loudly if not.
                warn!("cannot write live synthetic packets: {e}");
            }
        }
    });
}

/// The newest packet time seen, in milliseconds since the epoch (`i64::MIN`: none).
pub(crate) type Newest = Arc<AtomicI64>;

/// Reads `tcpdump -l -nn -tt` lines from standard input on a thread of its own, and
/// pushes every packet into `source`. Unparsable lines are counted and skipped.
pub(crate) fn spawn_stdin_reader(source: MemorySource, layout: EventLayout, newest: Newest) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let counts = read_capture(stdin.lock(), &source, &layout, &newest);
        info!(
            packets = counts.packets,
            skipped = counts.skipped,
            "end of standard input: read {} packets, skipped {} unparsable lines; still serving",
            counts.packets,
            counts.skipped
        );
    });
}

/// What [`read_capture`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) packets: u64,
    pub(crate) skipped: u64,
}

fn read_capture(
    mut input: impl BufRead,
    source: &MemorySource,
    layout: &EventLayout,
    newest: &AtomicI64,
) -> Counts {
    let mut counts = Counts::default();
    let mut line = Vec::new();
    let mut last_report = Instant::now();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                warn!("cannot read standard input: {e}");
                break;
            }
        }
        // Invalid UTF-8 is junk like any other unparsable line.
        let text = String::from_utf8_lossy(&line);
        match parse_line(text.trim_end()) {
            Some(p) => {
                newest.fetch_max(p.ts.timestamp_millis(), Ordering::Relaxed);
                match layout.event(&p).and_then(|event| source.push(&event)) {
                    Ok(()) => counts.packets += 1,
                    Err(e) => {
                        counts.skipped += 1;
                        warn!("skipping a packet: {e}");
                    }
                }
            }
            None => counts.skipped += 1,
        }
        if last_report.elapsed() >= REPORT_EVERY {
            last_report = Instant::now();
            info!(
                packets = counts.packets,
                skipped = counts.skipped,
                "reading tcpdump output: {} packets, {} unparsable lines skipped",
                counts.packets,
                counts.skipped
            );
        }
    }
    counts
}

/// A source whose window ends at the newest packet read rather than at the clock:
/// a recorded capture replays as if it were live.
#[derive(Debug)]
pub(crate) struct FollowData {
    pub(crate) source: MemorySource,
    pub(crate) newest: Newest,
}

impl TableQuery for FollowData {
    fn schema(&self) -> &Schema {
        self.source.schema()
    }

    fn profile(&self) -> SourceProfile {
        self.source.profile()
    }

    fn supports_grouping(&self) -> bool {
        self.source.supports_grouping()
    }

    fn supports_trend(&self) -> bool {
        self.source.supports_trend()
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let newest = self.newest.load(Ordering::Relaxed);
        if newest == i64::MIN {
            // Nothing read yet. Fetching a clock window now would move the source's
            // horizon to the present and make it drop an older capture as late.
            return Ok(Fetched::default());
        }
        let end = DateTime::from_timestamp_millis(newest).ok_or_else(|| {
            Error::invalid_parameter(format!("packet time {newest} ms is out of range"))
        })? + TimeDelta::milliseconds(1);
        // The same request (filters, grouping, trend), over the window ending there.
        let mut ctx = ctx.clone();
        ctx.window = Window::ending_at(end, ctx.window.length())?;
        self.source.fetch_blocking(&ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livetable::Value;

    #[test]
    fn layout_reads_the_spec_columns_from_packets() {
        let spec = super::super::packet_spec(Duration::from_secs(3600), 10).unwrap();
        let now = Utc::now();
        let p = LiveTraffic::new(3).generate(1, now - TimeDelta::seconds(1), now)[0];
        let event = EventLayout::new(&spec).event(&p).unwrap();
        assert_eq!(
            event,
            [
                Value::Timestamp(p.ts),
                Value::Ip(p.source_ip),
                Value::Int(p.source_port.into()),
                Value::Ip(p.destination_ip),
                Value::Int(p.destination_port.into()),
                Value::from(p.protocol),
                Value::Int(p.size.into()),
            ]
        );
        let host = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("host", livetable::DataType::Text)
            .metric(livetable::Metric::count("n"))
            .build()
            .unwrap();
        let err = EventLayout::new(&host).event(&p).unwrap_err();
        assert_eq!(err.context_value("column"), Some("host"));
    }

    #[test]
    fn pacer_keeps_fractions() {
        let mut p = Pacer::new(2.5);
        let total: usize = (0..8).map(|_| p.take(Duration::from_millis(250))).sum();
        assert_eq!(total, 5);
        assert_eq!(Pacer::new(0.0).take(Duration::from_secs(10)), 0);
    }

    #[tokio::test]
    async fn stdin_lines_are_counted_and_replayed_at_their_own_time() {
        let spec = super::super::packet_spec(Duration::from_secs(3600), 10).unwrap();
        let source = memory_source(spec.clone(), Duration::from_secs(3600)).unwrap();
        let layout = EventLayout::new(&spec);
        let newest: Newest = Arc::new(AtomicI64::new(i64::MIN));
        let follow = FollowData {
            source: source.clone(),
            newest: newest.clone(),
        };
        let ctx =
            FetchContext::new(Window::ending_at(Utc::now(), Duration::from_secs(3600)).unwrap());
        assert!(follow.fetch(&ctx).await.unwrap().rows.is_empty());

        let input = "\
1500000000.000001 IP 10.0.0.1.40000 > 10.0.0.2.443: Flags [S], seq 1, win 64240, length 0
1500000001.5 IP 10.0.0.1.40000 > 10.0.0.2.443: Flags [P.], seq 1:101, ack 1, win 502, length 100
junk
\u{fffd}\u{fffd}
1500000002.25 IP6 ::1 > ::1: ICMP6, echo request, id 1, seq 1, length 64
";
        let counts = read_capture(input.as_bytes(), &source, &layout, &newest);
        assert_eq!(
            counts,
            Counts {
                packets: 3,
                skipped: 2
            }
        );
        assert_eq!(newest.load(Ordering::Relaxed), 1_500_000_002_250);
        // A clock window of today sees nothing of 2017; the data-following one does.
        let got = follow.fetch(&ctx).await.unwrap();
        assert_eq!(got.rows.len(), 2);
        assert_eq!(got.rows[0][5], Value::Int(2));
        assert_eq!(got.rows[0][6], Value::Int(100));
        assert_eq!(got.rows[1][4], Value::from("ICMP"));
    }
}
