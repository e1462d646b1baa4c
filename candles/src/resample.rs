//! Resampling to a longer timeframe: open first, high max, low min, close
//! last, volume sum, extra columns last, buckets aligned to the epoch in UTC
//! (`1w` to Monday, `1M` to calendar months).

use crate::error::{Error, Result};
use crate::frame::{Candles, CandlesView, Columns, Extra};
use crate::timeframe::Timeframe;

/// Resamples `c` (bars of `from`) to `to`. A bucket holds the bars whose
/// open time falls in it and is labelled by its start (a `1M` bar by the
/// first of its month); buckets with no bars are absent (a gap stays a gap).
/// The last bucket is dropped when the data ends before the bucket does,
/// unless `keep_incomplete`. [`Timeframe::resample_check`] says what `from`
/// resamples to: a longer multiple of its step, or calendar months from a
/// step of a day or less; never from `1M` or `irregular`.
///
/// An extra column's value of a bucket is the value of its last bar, as for
/// the close (NaN when the last bar has none): a signal known at the close of
/// the bucket's last bar is what the longer bar knows at its close.
pub fn resample(
    c: CandlesView<'_>,
    from: Timeframe,
    to: Timeframe,
    keep_incomplete: bool,
) -> Result<Candles> {
    from.resample_check(to).map_err(|reason| Error::Resample { from, to, reason })?;
    let step_ms = from.step_ms().unwrap_or(1);
    let per_bucket = to.nominal_ms().unwrap_or(step_ms) / step_ms;
    let mut out = Columns::with_capacity(c.len() / per_bucket.max(1) as usize + 1);
    // The last source row of each bucket kept, for the extras.
    let mut last = Vec::with_capacity(out.ts.capacity());
    let mut i = 0;
    let n = c.len();
    while i < n {
        let start = to.bucket_start(c.ts[i]);
        let end = to.bucket_end(c.ts[i]);
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
        let r = resample(c.view(), Timeframe::M15, Timeframe::H1, false).expect("resample");
        assert_eq!(r.ts(), &[0, 2 * H]);
        // Bucket 1: rows 0..4, opens 100..103.
        assert_eq!(r.open(), &[100.0, 104.0]);
        assert_eq!(r.high(), &[105.0, 109.0]); // max(p+2) = 103+2, 107+2
        assert_eq!(r.low(), &[99.0, 103.0]);
        assert_eq!(r.close(), &[104.0, 108.0]);
        assert_eq!(r.volume(), &[1.0 + 2.0 + 3.0 + 4.0, 5.0 + 6.0 + 7.0 + 8.0]);

        let kept = resample(c.view(), Timeframe::M15, Timeframe::H1, true).expect("resample");
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
        let r = resample(c.view(), Timeframe::M15, Timeframe::H1, true).expect("resample");
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
        let r = resample(c.view(), Timeframe::D1, Timeframe::W1, false).expect("resample");
        // Buckets: Mon 01-01 (Sat, Sun), Mon 01-08 (7 days); Mon 01-15 incomplete, dropped.
        assert_eq!(r.ts(), &[1_704_067_200_000, 1_704_672_000_000]);
        assert_eq!(r.volume(), &[1.0 + 2.0, (3..=9).sum::<i32>() as f64]);
    }

    #[test]
    fn calendar_months_from_days() {
        // Daily bars 2024-01-30 .. 2024-03-01 (leap February): buckets
        // January (2 days), February (29 days), March (1 day: incomplete).
        let jan30 = 1_706_572_800_000;
        let ts: Vec<i64> = (0..32).map(|k| jan30 + k * 86_400_000).collect();
        let c = minutes(&ts);
        let r = resample(c.view(), Timeframe::D1, Timeframe::Month, false).expect("resample");
        assert_eq!(r.ts(), &[1_704_067_200_000, 1_706_745_600_000]); // 2024-01-01, 2024-02-01
        // Row k: open 100 + k, high 102 + k, low 99 + k, close 101 + k, volume 1 + k.
        assert_eq!(r.open(), &[100.0, 102.0]);
        assert_eq!(r.high(), &[103.0, 132.0]);
        assert_eq!(r.low(), &[99.0, 101.0]);
        assert_eq!(r.close(), &[102.0, 131.0]);
        assert_eq!(r.volume(), &[1.0 + 2.0, (3..=31).sum::<i32>() as f64]);
        assert_eq!(r.quality().spacing, crate::Spacing::Months(crate::MonthLabel::Start));
        let kept = resample(c.view(), Timeframe::D1, Timeframe::Month, true).expect("resample");
        assert_eq!((kept.ts()[2], kept.open()[2], kept.volume()[2]), (1_709_251_200_000, 131.0, 32.0));
    }

    #[test]
    fn refuses_shorter_or_non_multiple_targets() {
        let c = minutes(&[0, 60 * M]);
        let e = resample(c.view(), Timeframe::H1, Timeframe::M30, false).expect_err("shorter");
        assert_eq!(
            e.to_string(),
            "cannot resample 1h to 30m: the target must be a longer timeframe that is a multiple of the source"
        );
        let e = resample(c.view(), Timeframe::Irregular, Timeframe::H1, false).expect_err("irregular");
        assert_eq!(
            e.to_string(),
            "cannot resample irregular to 1h: irregular bars have no fixed step, and resampling needs one"
        );
        let e = resample(c.view(), Timeframe::Month, Timeframe::W1, false).expect_err("months");
        assert!(e.to_string().starts_with("cannot resample 1M to 1w: 1M bars are calendar months"), "{e}");
    }
}
