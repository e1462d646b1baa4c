//! Aggregates of a bundle's results for charts, computed where the rows are:
//! a heatmap over two axes of the variant number and a density grid of two
//! metrics. The caller (the API) knows what the axes mean; the store only
//! does the arithmetic on variant numbers (see `queries/heatmap.sql`).

use bt_metrics::{Better, MetricName};
use sqlx::Row;
use uuid::Uuid;

use crate::Store;
use crate::types::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// An axis of the variant number: a variant's level is `(variant / stride) %
/// radix`, its bin `level * bins / radix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisBins {
    pub stride: i64,
    pub radix: i64,
    pub bins: i64,
}

/// One non-empty heatmap cell: statistics over its finite values (`None`
/// when it has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatCell {
    pub x: i64,
    pub y: i64,
    pub count: i64,
    pub max: Option<f64>,
    pub median: Option<f64>,
    pub best: Option<i64>,
}

/// The finite ranges of a density grid's metrics (`None` when no row has
/// both finite) and the rows left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScatterRange {
    pub x: Option<(f64, f64)>,
    pub y: Option<(f64, f64)>,
    pub excluded: i64,
}

/// One non-empty bin of a density grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScatterBin {
    pub bx: i64,
    pub by: i64,
    pub count: i64,
    pub best: i64,
}

fn order(m: MetricName) -> &'static str {
    match m.better() {
        Better::Higher => "DESC",
        Better::Lower => "ASC",
    }
}

impl Store {
    /// The non-empty cells of `metric` over axes `x` and `y` of bundle
    /// `bundle`'s results, by (y, x).
    pub async fn heatmap(
        &self,
        bundle: Uuid,
        metric: MetricName,
        x: AxisBins,
        y: AxisBins,
    ) -> Result<Vec<HeatCell>> {
        let text = sql!("heatmap").replace("{metric}", metric.as_str()).replace("{order}", order(metric));
        let rows = sqlx::query(&text)
            .bind(bundle)
            .bind(x.stride)
            .bind(x.radix)
            .bind(x.bins)
            .bind(y.stride)
            .bind(y.radix)
            .bind(y.bins)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HeatCell {
                    x: r.try_get("x")?,
                    y: r.try_get("y")?,
                    count: r.try_get("count")?,
                    max: r.try_get("max")?,
                    median: r.try_get("median")?,
                    best: r.try_get("best")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The finite ranges of metrics `x` and `y` over bundle `bundle`'s results.
    pub async fn scatter_range(&self, bundle: Uuid, x: MetricName, y: MetricName) -> Result<ScatterRange> {
        let text = sql!("scatter_range").replace("{x}", x.as_str()).replace("{y}", y.as_str());
        let r = sqlx::query(&text).bind(bundle).fetch_one(self.pool()).await?;
        let pair = |a: Option<f64>, b: Option<f64>| a.zip(b);
        Ok(ScatterRange {
            x: pair(r.try_get("x_min")?, r.try_get("x_max")?),
            y: pair(r.try_get("y_min")?, r.try_get("y_max")?),
            excluded: r.try_get("excluded")?,
        })
    }

    /// The non-empty bins of an `nx` x `ny` density grid of metrics `x` and
    /// `y` over the ranges `range` ([`Store::scatter_range`]), by (by, bx).
    pub async fn scatter(
        &self,
        bundle: Uuid,
        x: MetricName,
        y: MetricName,
        (nx, ny): (i64, i64),
        range: ((f64, f64), (f64, f64)),
    ) -> Result<Vec<ScatterBin>> {
        let text = sql!("scatter")
            .replace("{x}", x.as_str())
            .replace("{y}", y.as_str())
            .replace("{order}", order(y));
        let ((x0, x1), (y0, y1)) = range;
        let rows = sqlx::query(&text)
            .bind(bundle)
            .bind(nx)
            .bind(ny)
            .bind(x0)
            .bind(x1)
            .bind(y0)
            .bind(y1)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ScatterBin {
                    bx: r.try_get("bx")?,
                    by: r.try_get("by")?,
                    count: r.try_get("count")?,
                    best: r.try_get("best")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
