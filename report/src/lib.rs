//! Pictures of a bundle: what its charts draw, computed in Rust so a page
//! stays small and quick whatever the bundle's size, and the pages
//! themselves.
//!
//! - [`axes`]: the dimensions of a bundle's variants (ticker, timeframe,
//!   strategy parameters, money fields) and how a variant number decodes
//!   into them; binning of long axes.
//! - [`aggregate`]: heatmap cells (max, median, best variant), a density
//!   grid of two metrics, histograms, the top rows of every metric.
//! - [`envelope`]: long curves reduced to per-pixel-column min/max/last
//!   (prices to per-column candles), so no spike is lost.
//! - [`page`]: the self-contained HTML report (`bt report`, `bt run
//!   --report`).
//! - The dashboard of `bt serve` ([`DASHBOARD_HTML`]): one page, served at
//!   `/`, that draws the same charts from the public `/v1` API.
//!
//! The chart code (`assets/charts.js`) is ours: plain JavaScript that
//! writes SVG, shared by the report and the dashboard, with no library and
//! nothing fetched from a network.

pub mod aggregate;
pub mod axes;
pub mod envelope;
pub mod page;

/// Chart drawing (SVG), shared by the report and the dashboard.
pub const CHARTS_JS: &str = include_str!("../assets/charts.js");
/// Styles, shared by the report and the dashboard.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

const DASHBOARD_TEMPLATE: &str = include_str!("../assets/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");

/// The dashboard page (`GET /` of `bt serve`), scripts and styles inline.
pub fn dashboard_html() -> String {
    DASHBOARD_TEMPLATE
        .replace("{{STYLE}}", STYLE_CSS)
        .replace("{{CHARTS}}", CHARTS_JS)
        .replace("{{DASHBOARD}}", DASHBOARD_JS)
}
