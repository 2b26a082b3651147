//! [`PerGrouping`]: what a store-backed source builds for each grouping viewers ask
//! for (a statement, a query plan), built on first use and kept, within a bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::live::SHARED_REFRESH_MAX_VIEWS;

/// Values built per grouping (dimension positions, as in
/// [`FetchContext::group_by`](crate::FetchContext::group_by)), each built once and
/// shared. At most [`PerGrouping::BOUND`] are kept: one more clears them first, so a
/// long-lived source never grows however many groupings it is asked for over time
/// (rebuilding one is cheap next to the query it serves).
///
/// ```
/// use livetable_core::PerGrouping;
/// let plans: PerGrouping<String> = PerGrouping::default();
/// let a = plans.get_or_try_build(&[1], || Ok("by port".to_owned()))?;
/// let b = plans.get_or_try_build(&[1], || unreachable!("built once"))?;
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(plans.len(), 1);
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Debug)]
pub struct PerGrouping<T> {
    kept: Mutex<HashMap<Vec<usize>, Arc<T>>>,
}

impl<T> Default for PerGrouping<T> {
    fn default() -> Self {
        PerGrouping {
            kept: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> PerGrouping<T> {
    /// The most values kept: as many as a table over a shared-refresh source keeps
    /// views by default (each view has one grouping).
    pub const BOUND: usize = SHARED_REFRESH_MAX_VIEWS;

    /// The value for `positions`, built by `build` on first use. A failed build is
    /// not kept.
    pub fn get_or_try_build(
        &self,
        positions: &[usize],
        build: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        // Never held across an await; a panic while building leaves the map whole.
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = kept.get(positions) {
            return Ok(value.clone());
        }
        let value = Arc::new(build()?);
        if kept.len() >= Self::BOUND {
            kept.clear();
        }
        kept.insert(positions.to_vec(), value.clone());
        Ok(value)
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn kept_values_are_reused_refused_ones_not_kept_and_the_bound_clears() {
        let kept: PerGrouping<usize> = PerGrouping::default();
        assert!(
            kept.get_or_try_build(&[0, 0], || Err(Error::invalid_parameter("twice")))
                .is_err()
        );
        assert!(kept.is_empty(), "a refused grouping is not kept");
        for i in 0..PerGrouping::<usize>::BOUND {
            kept.get_or_try_build(&[i], || Ok(i)).unwrap();
        }
        assert_eq!(kept.len(), PerGrouping::<usize>::BOUND);
        assert_eq!(
            *kept.get_or_try_build(&[0], || Ok(99)).unwrap(),
            0,
            "reused"
        );
        assert_eq!(kept.len(), PerGrouping::<usize>::BOUND);
        kept.get_or_try_build(&[usize::MAX], || Ok(1)).unwrap();
        assert_eq!(kept.len(), 1, "one more clears the kept ones first");
    }
}
