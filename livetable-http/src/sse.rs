//! `GET api/tables/{name}/stream`: server-sent events.
//!
//! Events, each with `id: <epoch>-<instance>.<version>`:
//! - `snapshot`: the whole table ([`Snapshot`](livetable_core::Snapshot) as JSON) —
//!   first, and again whenever the client fell too far behind;
//! - `patch`: the change to the next version ([`Patch`](livetable_core::Patch) as
//!   JSON): inserted rows, updated rows, removed keys, and the new status, so a status
//!   change (fresh ↔ stale) is a patch too.
//!
//! A client reconnecting with `Last-Event-ID` (browsers do it by themselves) receives
//! only the patches it missed while the table still holds them, and a fresh snapshot
//! otherwise. The epoch is drawn when the process starts and the instance names the
//! live view: an id from an earlier process, or from a view that was dropped and
//! started again (whose versions mean something else), always gets a snapshot. Comments are sent as
//! keep-alives, and the stream ends when the server shuts down through
//! [`serve`](crate::serve).

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use livetable_core::{Subscription, Update};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::state::{AppState, Client};
use crate::wire;

/// Told to every stream when the server shuts down.
#[derive(Clone, Debug)]
pub(crate) struct Closing(pub(crate) watch::Receiver<bool>);

/// This process's epoch: event ids from another process are not resumed.
fn epoch() -> &'static str {
    static EPOCH: OnceLock<String> = OnceLock::new();
    EPOCH.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!(
            "{:x}",
            (nanos as u64) ^ u64::from(std::process::id()).rotate_left(40)
        )
    })
}

/// The event id of a version of a live view.
pub(crate) fn event_id(instance: u64, version: u64) -> String {
    format!("{}-{instance}.{version}", epoch())
}

/// The version in a `Last-Event-ID` of this process and live view, if it is one.
fn resume_version(headers: &HeaderMap, instance: u64) -> Option<u64> {
    let id = headers.get("last-event-id")?.to_str().ok()?;
    let (origin, version) = id.trim().rsplit_once('.')?;
    let (e, i) = origin.split_once('-')?;
    (e == epoch() && i.parse() == Ok(instance))
        .then(|| version.parse().ok())
        .flatten()
}

struct StreamState {
    subscription: Subscription,
    instance: u64,
    app: AppState,
    closing: Option<watch::Receiver<bool>>,
    first: bool,
}

/// Opens the stream.
pub(crate) async fn stream(
    State(app): State<AppState>,
    client: Client,
    name: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    closing: Option<Extension<Closing>>,
) -> Result<Response, ApiError> {
    let Path(name) = name.map_err(ApiError::bad_path)?;
    let (_, live) = app.view(&name, query.as_deref(), &client)?;
    let subscription = match resume_version(&headers, live.instance_id()) {
        Some(version) => live.subscribe_from(version),
        None => live.subscribe(),
    };
    let state = StreamState {
        subscription,
        instance: live.instance_id(),
        app,
        closing: closing.map(|Extension(Closing(rx))| rx),
        first: true,
    };
    let frames = stream::unfold(state, |mut st| async move {
        let next = tokio::time::timeout(st.app.keep_alive, next_update(&mut st)).await;
        let frame = match next {
            // Quiet for a while: a comment keeps proxies from closing the connection.
            Err(_) => Bytes::from_static(b":\n\n"),
            Ok(update) => frame(&st.app, st.instance, &update?),
        };
        let frame = if st.first {
            st.first = false;
            // The reconnection delay rides on the first event, before its blank line.
            let retry = format!("retry: {}\n\n", st.app.retry.as_millis());
            let body = frame.strip_suffix(b"\n").unwrap_or(&frame);
            [body, retry.as_bytes()].concat().into()
        } else {
            frame
        };
        Some((Ok::<_, Infallible>(frame), st))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Proxies such as nginx must pass events on at once.
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

/// The next update, or `None` when the view or the server is closing.
async fn next_update(st: &mut StreamState) -> Option<Update> {
    match st.closing.as_mut() {
        Some(closing) => tokio::select! {
            update = st.subscription.next() => update,
            _ = closing.wait_for(|c| *c) => None,
        },
        None => st.subscription.next().await,
    }
}

/// The event frame of `update` (`event:`, `id:`, one `data:` line of JSON), encoded
/// once for every stream of the view that sends it.
fn frame(app: &AppState, instance: u64, update: &Update) -> Bytes {
    let id = event_id(instance, update.version());
    let frame = |event: &str, json: String| -> Bytes {
        // Compact JSON has no line break, so one `data:` line holds it.
        format!("event: {event}\nid: {id}\ndata: {json}\n\n").into()
    };
    match update {
        Update::Snapshot(s) => app
            .snapshot_frames
            .get(s, |s| frame("snapshot", wire::snapshot_json(s))),
        Update::Patch(p) => app
            .patch_frames
            .get(p, |p| frame("patch", wire::patch_json(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn with_id(id: &[u8]) -> Option<HeaderMap> {
        let value = HeaderValue::from_bytes(id).ok()?;
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", value);
        Some(headers)
    }

    #[test]
    fn ids_of_this_process_and_view_resume() {
        let id = event_id(7, 42);
        assert_eq!(
            resume_version(&with_id(id.as_bytes()).unwrap(), 7),
            Some(42)
        );
        assert_eq!(resume_version(&with_id(id.as_bytes()).unwrap(), 8), None);
        assert_eq!(resume_version(&with_id(b"0-7.42").unwrap(), 7), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// Any header value: no panic, and a version only for this epoch and instance.
        #[test]
        fn any_last_event_id_is_read_without_panic(id in prop::collection::vec(any::<u8>(), 0..64), instance in any::<u64>()) {
            if let Some(headers) = with_id(&id)
                && resume_version(&headers, instance).is_some()
            {
                let text = std::str::from_utf8(&id).unwrap().trim();
                prop_assert!(text.starts_with(&format!("{}-", epoch())), "{}", text);
            }
        }

        /// Ids built around the real epoch, with arbitrary instance and version parts.
        #[test]
        fn near_miss_ids_never_panic(instance in "\\PC{0,24}", version in "\\PC{0,24}", sep in "[.\\-]{0,3}") {
            let id = format!("{}-{instance}{sep}{version}", epoch());
            if let Some(headers) = with_id(id.as_bytes()) {
                let _ = resume_version(&headers, 1);
            }
        }
    }
}
