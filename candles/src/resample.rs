//! Resampling to a longer timeframe: open first, high max, low min, close
//! last, volume sum, extra columns last, buckets aligned to the epoch in UTC
//! (`1w` to Monday).

use crate::error::{Error, Result};
use crate::frame::{Candles, CandlesView, Columns, Extra};
use crate::timeframe::Timeframe;

/// Resamples `c` (bar step `step_ms`) to `to`. A bucket holds the bars whose
/// open time falls in it; buckets with no bars are absent (a gap stays a gap).
/// The last bucket is dropped when the data ends before the bucket does,
/// unless `keep_incomplete`. `to` must be longer than the source step and a
/// multiple of it.
///
/// An extra column's value of a bucket is the value of its last bar, as for
/// the close (NaN when the last bar has none): a signal known at the close of
/// the bucket's last bar is what the longer bar knows at its close.
pub fn resample(c: CandlesView<'_>, step_ms: i64, to: Timeframe, keep_incomplete: bool) -> Result<Candles> {
    let d = to.duration_ms();
    let source_name =
        Timeframe::from_duration_ms(step_ms).map_or_else(|| format!("{step_ms}ms"), |t| t.to_string());
    // 1w buckets start 4 days after the epoch; the step must divide that too.
    if step_ms <= 0
        || d <= step_ms
        || d % step_ms != 0
        || (4 * 86_400_000) % step_ms != 0 && to == Timeframe::W1
    {
        return Err(Error::Resample { from: source_name, to });
    }
    let mut out = Columns::with_capacity(c.len() / (d / step_ms) as usize + 1);
    // The last source row of each bucket kept, for the extras.
    let mut last = Vec::with_capacity(out.ts.capacity());
    let mut i = 0;
    let n = c.len();
    while i < n {
        let start = to.bucket_start(c.ts[i]);
        let end = start + d;
        let (open, mut high, mut low, mut volume) = (c.open[i], c.high[i], c.low[i], 0.0);
        let mut j = i;
        while j < n && c.ts[j] < end {
            high = high.max(c.high[j]);
            low = low.min(c.low[j]);
            volume += c.volume[j];
            j += 1;
        }
        let complete = c.ts[j - 1] + step_ms >= end;
        if j < n || complete || keep_incomplete {
            out.push(start, open, high, low, c.close[j - 1], volume);
            last.push(j - 1);
        }
        i = j;
    }
    out.extra = c
        .extra
        .iter()
        .map(|(e, values)| Extra {
            name: e.name.clone(),
            kind: e.kind,
            values: last.iter().map(|&k| values[k]).collect(),
        })
        .collect();
    Ok(Candles::from_valid(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;
    const H: i64 = 3_600_000;

    fn minutes(ts: &[i64]) -> Columns {
        let mut c = Columns::default();
        for (k, &t) in ts.iter().enumerate() {
            let p = 100.0 + k as f64;
            c.push(t, p, p + 2.0, p - 1.0, p + 1.0, 1.0 + k as f64);
        }
        c
    }

    #[test]
    fn hand_computed_buckets_with_gap_and_incomplete_tail() {
        // 15m bars: 00:00 00:15 00:30 00:45 | (01:xx missing: a gap) | 02:00 02:15 02:30 02:45 | 03:00 03:15
        let ts = [0, 15, 30, 45, 120, 135, 150, 165, 180, 195].map(|m| m * M);
        let c = minutes(&ts);
        let r = resample(c.view(), 15 * M, Timeframe::H1, false).expect("resample");
        assert_eq!(r.ts(), &[0, 2 * H]);
        // Bucket 1: rows 0..4, opens 100..103.
        assert_eq!(r.open(), &[100.0, 104.0]);
        assert_eq!(r.high(), &[105.0, 109.0]); // max(p+2) = 103+2, 107+2
        assert_eq!(r.low(), &[99.0, 103.0]);
        assert_eq!(r.close(), &[104.0, 108.0]);
        assert_eq!(r.volume(), &[1.0 + 2.0 + 3.0 + 4.0, 5.0 + 6.0 + 7.0 + 8.0]);

        let kept = resample(c.view(), 15 * M, Timeframe::H1, true).expect("resample");
        assert_eq!(kept.ts(), &[0, 2 * H, 3 * H]);
        assert_eq!(kept.open()[2], 108.0);
        assert_eq!(kept.close()[2], 110.0);
        assert_eq!(kept.volume()[2], 9.0 + 10.0);
        assert_eq!((kept.quality().gaps, kept.quality().largest_gap_ms), (1, 2 * H));
    }

    #[test]
    fn extras_take_the_last_bar_of_each_bucket() {
        let ts = [0, 15, 30, 45, 120, 135, 150, 165, 180, 195].map(|m| m * M);
        let mut c = minutes(&ts);
        // Row k holds k; the last bar of the second bucket (row 7) holds NaN.
        let sig = (0..10).map(|k| if k == 7 { f64::NAN } else { k as f64 }).collect();
        c.extra.push(Extra::new("sig", crate::ExtraKind::Number, sig));
        c.extra.push(Extra::new(
            "on",
            crate::ExtraKind::Bool,
            vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        ));
        let r = resample(c.view(), 15 * M, Timeframe::H1, true).expect("resample");
        assert_eq!(r.ts(), &[0, 2 * H, 3 * H]);
        let sig = &r.extra()[0];
        assert_eq!((sig.name.as_str(), sig.kind), ("sig", crate::ExtraKind::Number));
        assert_eq!((sig.values[0], sig.values[2]), (3.0, 9.0));
        assert!(sig.values[1].is_nan());
        assert_eq!(r.view().extra.get("on"), Some(&[0.0, 1.0, 1.0][..]));
    }

    #[test]
    fn weekly_buckets_start_monday() {
        // Daily bars from Sat 2024-01-06 to Tue 2024-01-16.
        let sat = 1_704_499_200_000;
        let ts: Vec<i64> = (0..11).map(|k| sat + k * 86_400_000).collect();
        let c = minutes(&ts);
        let r = resample(c.view(), 86_400_000, Timeframe::W1, false).expect("resample");
        // Buckets: Mon 01-01 (Sat, Sun), Mon 01-08 (7 days); Mon 01-15 incomplete, dropped.
        assert_eq!(r.ts(), &[1_704_067_200_000, 1_704_672_000_000]);
        assert_eq!(r.volume(), &[1.0 + 2.0, (3..=9).sum::<i32>() as f64]);
    }

    #[test]
    fn refuses_shorter_or_non_multiple_targets() {
        let c = minutes(&[0, 60 * M]);
        let e = resample(c.view(), H, Timeframe::M30, false).expect_err("shorter");
        assert_eq!(
            e.to_string(),
            "cannot resample 1h to 30m: the target must be a longer timeframe that is a multiple of the source"
        );
        assert!(resample(c.view(), 7 * M, Timeframe::H1, false).is_err());
    }
}
