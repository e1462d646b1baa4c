//! Ranked results paged by keyset: every row exactly once, in rank order, NaN
//! last either way, at any page size; the default order reads its index.

use std::cmp::Ordering;

use bt_queue::{MetricName, Metrics, RankKey, Ranking, ResultRow, Store};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{bundle, store};

/// Stores `rows` as bundle `id`'s results (straight into the table, like a
/// job's completion would).
async fn insert(pool: &PgPool, id: Uuid, rows: &[ResultRow]) {
    let col = |f: fn(&ResultRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    // Every declared metric column: the three under test from the arrays,
    // final_equity as sharpe, the rest 0.
    let (names, values): (Vec<&str>, Vec<&str>) = MetricName::ALL
        .iter()
        .map(|m| {
            let v = match m {
                MetricName::Sharpe | MetricName::FinalEquity => "u.sharpe",
                MetricName::TotalReturn => "u.total_return",
                MetricName::Trades => "u.trades",
                _ => "0",
            };
            (m.as_str(), v)
        })
        .unzip();
    sqlx::query(&format!(
        "INSERT INTO backtest_results (bundle_id, variant, job_id, {}, open_position, liquidated)
         SELECT $1, u.variant, 1, {}, false, false
         FROM UNNEST($2::bigint[], $3::float8[], $4::float8[], $5::bigint[]) AS u(variant, sharpe, total_return, trades)",
        names.join(", "),
        values.join(", ")
    ))
    .bind(id)
    .bind(rows.iter().map(|r| r.variant).collect::<Vec<i64>>())
    .bind(col(|r| r.metrics.sharpe))
    .bind(col(|r| r.metrics.total_return))
    .bind(rows.iter().map(|r| r.metrics.trades as i64).collect::<Vec<i64>>())
    .execute(pool)
    .await
    .expect("insert results");
}

fn row(variant: i64, sharpe: f64, total_return: f64, trades: i64) -> ResultRow {
    let mut metrics = Metrics::zero();
    (metrics.final_equity, metrics.sharpe, metrics.total_return, metrics.trades) =
        (sharpe, sharpe, total_return, trades as u64);
    ResultRow { variant, metrics }
}

/// Every page of `ranking` with `limit` rows, walked by keys; the variants in order.
async fn walk(s: &Store, id: Uuid, ranking: &Ranking, limit: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after: Option<RankKey> = None;
    loop {
        let page = s.results(id, ranking, after.as_ref(), limit).await.expect("page");
        assert!(page.len() as i64 <= limit);
        out.extend(page.iter().map(|r| r.variant));
        match page.last() {
            Some(last) if page.len() as i64 == limit => after = Some(ranking.key(last)),
            _ => return out,
        }
    }
}

/// A column of a row, as a float.
type Metric = fn(&ResultRow) -> f64;

/// The order the ranking promises, computed here: by value (NaN last either
/// way, -0 equal to 0), ties by variant.
fn expected(rows: &[ResultRow], value: Metric, descending: bool) -> Vec<i64> {
    let key = |r: &ResultRow| {
        let v = value(r);
        if descending { -v } else { v }
    };
    let cmp = |a: f64, b: f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    };
    let mut v: Vec<&ResultRow> = rows.iter().collect();
    v.sort_by(|a, b| cmp(key(a), key(b)).then(a.variant.cmp(&b.variant)));
    v.iter().map(|r| r.variant).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn results_rank_by_a_metric_with_nan_last(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 1, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    assert_eq!(s.bundle_spec(b.id).await.expect("spec"), Some(serde_json::json!({ "test": true })));
    assert_eq!(s.bundle_spec(Uuid::new_v4()).await.expect("spec"), None);
    let sharpe = [0.5, f64::NAN, 2.0, -1.0, 2.0, f64::INFINITY, 0.0, 1.0, f64::NEG_INFINITY, 3.0];
    let rows: Vec<ResultRow> = (0..10).map(|v| row(v, sharpe[v as usize], 0.0, 0)).collect();
    insert(&pool, b.id, &rows).await;
    let order = |r: Vec<ResultRow>| r.iter().map(|x| x.variant).collect::<Vec<_>>();
    let desc = Ranking::new("sharpe", true).expect("sharpe");
    assert_eq!(
        order(s.results(b.id, &desc, None, 100).await.expect("results")),
        [5, 9, 2, 4, 7, 0, 6, 3, 8, 1]
    );
    let asc = Ranking::new("sharpe", false).expect("sharpe");
    let first = s.results(b.id, &asc, None, 3).await.expect("results");
    assert_eq!(order(first.clone()), [8, 3, 6]);
    let next = s.results(b.id, &asc, Some(&asc.key(&first[2])), 3).await.expect("results");
    assert_eq!(order(next), [0, 7, 2]);
    // After the last number comes NaN, for either direction.
    let after_inf = asc.key(&rows[5]);
    assert_eq!(order(s.results(b.id, &asc, Some(&after_inf), 3).await.expect("results")), [1]);
    let after_ninf = desc.key(&rows[8]);
    assert_eq!(order(s.results(b.id, &desc, Some(&after_ninf), 3).await.expect("results")), [1]);
    let all =
        s.results(b.id, &Ranking::new("variant", false).expect("v"), None, i64::MAX).await.expect("all");
    assert_eq!(all.len(), 10);
    assert_eq!(all[3], rows[3]);
    assert!(all[1].metrics.sharpe.is_nan());
    let e = Ranking::new("sharpe; DROP TABLE bundles", true).expect_err("bad sort");
    assert_eq!(e.to_string(), "cannot rank results by \"sharpe; DROP TABLE bundles\": not a metric column");
}

#[sqlx::test(migrations = "../migrations")]
async fn keyset_pages_return_every_row_once_in_rank_order(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 1, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    // Many ties (within values and across NaN, the infinities and both zeros),
    // so pages start in the middle of runs of equal values.
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0];
    let rows: Vec<ResultRow> = (0..1500i64)
        .map(|v| {
            let h = (v * 7919 + 13) % 101;
            let sharpe = if h < 15 { specials[(h % 5) as usize] } else { (h % 23) as f64 / 4.0 - 2.0 };
            let total_return = if v % 9 == 0 { f64::NAN } else { ((v * 31) % 1000) as f64 / 1000.0 };
            row(v, sharpe, total_return, (v * 13) % 17)
        })
        .collect();
    insert(&pool, b.id, &rows).await;
    let orders: [(&str, Metric); 4] = [
        ("sharpe", |r| r.metrics.sharpe),
        ("total_return", |r| r.metrics.total_return),
        ("trades", |r| r.metrics.trades as f64),
        ("variant", |r| r.variant as f64),
    ];
    for (column, value) in orders {
        for descending in [true, false] {
            let ranking = Ranking::new(column, descending).expect("column");
            let want = expected(&rows, value, descending);
            for limit in [1000, 7, 1] {
                if limit == 1 && column != "sharpe" {
                    continue;
                }
                let got = walk(&s, b.id, &ranking, limit).await;
                assert_eq!(got.len(), rows.len(), "{column} desc={descending} limit={limit}");
                assert_eq!(got, want, "{column} desc={descending} limit={limit}");
            }
        }
    }
    let nan_tail = walk(&s, b.id, &Ranking::new("sharpe", true).expect("s"), 50).await;
    assert!(nan_tail[nan_tail.len() - 10..].iter().all(|&v| rows[v as usize].metrics.sharpe.is_nan()));
    // Another bundle's rows never show.
    let other = bundle("o", 1, 0, 3);
    s.enqueue_bundle(&other).await.expect("enqueue");
    assert_eq!(walk(&s, other.id, &Ranking::new("sharpe", true).expect("s"), 10).await, Vec::<i64>::new());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_default_order_reads_its_index_without_sorting(pool: PgPool) {
    let s = store(pool.clone());
    let b = bundle("o", 1, 0, 3);
    s.enqueue_bundle(&b).await.expect("enqueue");
    let rows: Vec<ResultRow> =
        (0..20_000i64).map(|v| row(v, ((v * 7919) % 1009) as f64 / 100.0, 0.0, 0)).collect();
    insert(&pool, b.id, &rows).await;
    sqlx::query("ANALYZE backtest_results").execute(&pool).await.expect("analyze");
    // queries/results.sql with {key} = (-sharpe), as Store::results runs it.
    let text = include_str!("../../queries/results.sql")
        .replace("{metrics}", &Metrics::NAMES.join(", "))
        .replace("{key}", "(-sharpe)");
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {text}"))
        .bind(b.id)
        .bind(-5.0f64)
        .bind(100i64)
        .bind(51i64)
        .fetch_all(&pool)
        .await
        .expect("explain");
    assert!(plan.iter().any(|l| l.contains("idx_results_sharpe_desc")), "{plan:#?}");
    assert!(!plan.iter().any(|l| l.contains("Sort")), "{plan:#?}");
}

/// The table holds exactly the declared metrics, in order, each of its kind:
/// a metric declared in bt-metrics without a migration fails here, not in a
/// worker's COPY.
#[sqlx::test(migrations = "../migrations")]
async fn result_columns_are_the_declared_metrics(pool: PgPool) {
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_name = 'backtest_results' AND column_name NOT IN
               ('bundle_id', 'variant', 'job_id', 'open_position', 'liquidated')
         ORDER BY ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    let want: Vec<(String, String)> = MetricName::ALL
        .iter()
        .map(|m| {
            let kind = if m.is_integer() { "bigint" } else { "double precision" };
            (m.as_str().to_owned(), kind.to_owned())
        })
        .collect();
    assert_eq!(cols, want);
}
