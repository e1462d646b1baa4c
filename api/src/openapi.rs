//! The OpenAPI 3.1 document of the API, served at `/openapi.json`. A test
//! checks that every route the router serves is in it and vice versa.

use axum::Json;
use bt_engine::metrics::{MetricName, Metrics};
use serde_json::{Value, json};

/// Paths and methods the document describes (the router test compares).
pub const ROUTES: [(&str, &str); 16] = [
    ("post", "/v1/bundles"),
    ("get", "/v1/bundles"),
    ("get", "/v1/bundles/{id}"),
    ("post", "/v1/bundles/{id}/cancel"),
    ("get", "/v1/bundles/{id}/results"),
    ("get", "/v1/bundles/{id}/heatmap"),
    ("get", "/v1/bundles/{id}/scatter"),
    ("get", "/v1/bundles/{id}/variants/{n}"),
    ("get", "/v1/bundles/{id}/variants/{n}/equity.csv"),
    ("get", "/v1/bundles/{id}/variants/{n}/trades.csv"),
    ("get", "/v1/datasets"),
    ("get", "/openapi.json"),
    ("get", "/"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
];

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// A 429: a rate limit or (on submission) a quota, with `Retry-After`.
fn too_many(description: &str) -> Value {
    let mut r = error_response(description);
    r["headers"] = json!({ "Retry-After": { "description": "Seconds to wait before retrying", "schema": { "type": "integer", "minimum": 1 } } });
    r
}

/// A 503 of the compute gate: every slot busy for the wait, with `Retry-After`.
fn busy() -> Value {
    let mut r =
        error_response("Every compute slot of the server busy (code busy); retry after Retry-After seconds");
    r["headers"] = json!({ "Retry-After": { "description": "Seconds to wait before retrying", "schema": { "type": "integer", "minimum": 1 } } });
    r
}

/// The path parameters of one variant.
fn variant_params() -> Vec<Value> {
    vec![
        id_param(),
        json!({ "name": "n", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } }),
    ]
}

fn page_params() -> Value {
    json!([
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 } },
        { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } }
    ])
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } })
}

/// A variant's metrics: one property per declared metric (bt-metrics), a
/// float as a number (null for NaN and infinities), an integer as one.
fn metrics_schema() -> Value {
    let mut props = serde_json::Map::new();
    for &m in MetricName::ALL {
        let ty = if m.is_integer() { json!("integer") } else { json!(["number", "null"]) };
        props.insert(m.as_str().into(), json!({ "type": ty, "description": m.describe() }));
    }
    props.insert(
        "open_position".into(),
        json!({ "type": "boolean", "description": "A position was still open at the last bar" }),
    );
    props.insert(
        "liquidated".into(),
        json!({ "type": "boolean", "description": "A position was liquidated; the variant stopped trading" }),
    );
    let mut required: Vec<&str> = Metrics::NAMES.to_vec();
    required.extend(["open_position", "liquidated"]);
    json!({ "type": "object", "required": required, "properties": props })
}

/// `/v1/bundles/{id}/heatmap` and `/scatter`: a bundle's results
/// aggregated in the database for charts (built apart: the document is one
/// macro call at the recursion limit).
fn chart_paths(std_errors: &dyn Fn(Value) -> Value) -> (Value, Value, Value, Value) {
    let metric = |d: &str| json!({ "type": "string", "enum": Metrics::NAMES, "default": d });
    let heat_params = json!([
        id_param(),
        { "name": "x", "in": "query", "schema": { "type": "string" },
          "description": "An axis of the bundle (the answer's axes): ticker, timeframe, a strategy parameter or a money field (stop_loss, take_profit, trailing_stop, max_bars, leverage, size, direction). Default: the first two strategy parameters with more than one value, else the first two axes that vary" },
        { "name": "y", "in": "query", "schema": { "type": "string" }, "description": "Another axis (as x)" },
        { "name": "metric", "in": "query", "schema": metric("sharpe"), "description": "The metric the cells show" },
        { "name": "agg", "in": "query", "schema": { "type": "string", "enum": ["max", "median"], "default": "max" },
          "description": "How a cell sums up its variants (over the other axes): the largest or the median of their finite values" },
        { "name": "bins", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 60 },
          "description": "Most bins per axis: an axis with more levels pools consecutive ones (level * bins / levels)" }
    ]);
    let scatter_params = json!([
        id_param(),
        { "name": "x", "in": "query", "schema": metric("max_drawdown") },
        { "name": "y", "in": "query", "schema": metric("total_return") },
        { "name": "nx", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 200 } },
        { "name": "ny", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 120 } }
    ]);
    let heatmap = json!({ "type": "object", "required": ["axes", "x", "y", "metric", "agg", "x_labels", "y_labels", "cells"],
        "description": "Cells over two axes of the variant number, aggregated over the other axes. Statistics count finite values only; the median of an even count is the mean of the middle two (percentile_cont(0.5))",
        "properties": {
            "bundle": { "type": "string", "format": "uuid" }, "status": { "type": "string" },
            "variants": { "type": "integer" }, "stored": { "type": "integer" },
            "metric": { "type": "string" }, "better": { "type": "string", "enum": ["higher", "lower"] },
            "agg": { "type": "string", "enum": ["max", "median"] },
            "metrics": { "type": "array", "items": { "type": "string" }, "description": "Every metric a heatmap can show" },
            "axes": { "type": "array", "items": { "type": "object", "properties": {
                "name": { "type": "string" }, "kind": { "type": "string", "enum": ["dataset", "strategy", "money"] },
                "levels": { "type": "integer", "minimum": 1 } } } },
            "x": { "type": ["string", "null"], "description": "null when fewer than two axes vary" }, "y": { "type": ["string", "null"] },
            "x_labels": { "type": "array", "items": { "type": "string" }, "description": "Each x bin's value, or first..last of a pooled bin" },
            "y_labels": { "type": "array", "items": { "type": "string" } },
            "cells": { "type": "array", "description": "The non-empty cells, by (y, x)", "items": { "type": "object", "properties": {
                "x": { "type": "integer" }, "y": { "type": "integer" }, "count": { "type": "integer", "description": "Variants in the cell" },
                "value": { "type": ["number", "null"], "description": "The max or median of the cell's finite values (null: none)" },
                "best": { "type": ["integer", "null"], "description": "The variant with the best finite value in the metric's better direction (the lowest among equals)" } } } } } });
    let scatter = json!({ "type": "object", "required": ["x", "y", "nx", "ny", "bins"],
        "description": "Every variant by two metrics, counted on an nx x ny grid over their finite ranges",
        "properties": {
            "bundle": { "type": "string", "format": "uuid" }, "status": { "type": "string" }, "stored": { "type": "integer" },
            "x": { "type": "string" }, "y": { "type": "string" }, "nx": { "type": "integer" }, "ny": { "type": "integer" },
            "x_range": { "type": ["array", "null"], "items": { "type": "number" }, "description": "[min, max] of the finite values (null: none)" },
            "y_range": { "type": ["array", "null"], "items": { "type": "number" } },
            "excluded": { "type": "integer", "description": "Variants with a non-finite x or y (not counted)" },
            "bins": { "type": "array", "description": "The non-empty bins [bx, by, count, best]: best is the bin's variant with the best y",
                      "items": { "type": "array", "items": { "type": "integer" }, "minItems": 4, "maxItems": 4 } } } });
    let heat_path = json!({ "get": { "summary": "A metric's max or median per pair of levels of two axes (the parameter heatmap), aggregated in the database",
        "parameters": heat_params,
        "responses": std_errors(json!({ "200": { "description": "The heatmap", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Heatmap" } } } },
                                        "503": busy() })) } });
    let scatter_path = json!({ "get": { "summary": "Every variant by two metrics as a density grid (a scatter plot of any size)",
        "parameters": scatter_params,
        "responses": std_errors(json!({ "200": { "description": "The grid", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Scatter" } } } } })) } });
    (heatmap, scatter, heat_path, scatter_path)
}

/// The document.
pub fn document() -> Value {
    let std_errors = |ok: Value| -> Value {
        let mut r = ok;
        r["400"] = error_response("Malformed request (JSON, query or path)");
        r["401"] = error_response("Missing, unknown or revoked key");
        if r.get("429").is_none() {
            r["429"] = too_many(
                "Over the key's request rate, or over the rate of requests without a valid key from this address",
            );
        }
        r["404"] = error_response("No such bundle of the caller's (another owner's bundle answers the same)");
        r["500"] = error_response(
            "Internal error: a generic message and the request id; the details only in the server log",
        );
        r
    };
    let results_params = json!([
        id_param(),
        { "name": "sort", "in": "query", "schema": { "type": "string", "enum": Metrics::NAMES, "default": "sharpe" },
          "description": "A metric name (the Metrics schema says what each measures). NaN ranks last either way; ties by variant" },
        { "name": "order", "in": "query", "schema": { "type": "string", "enum": ["desc", "asc"], "default": "desc" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 } },
        { "name": "cursor", "in": "query", "schema": { "type": "string" },
          "description": "The next_cursor of the previous page, with the same sort and order (opaque). Pages are keyset pages: there is no offset, and every page costs the same" }
    ]);
    let mut detail_params = variant_params();
    detail_params.extend([
        json!({ "name": "points", "in": "query", "schema": { "type": "integer", "minimum": 4, "maximum": 10000, "default": 1000 },
                "description": "Equity points at most: a longer curve is downsampled to the first and last bar and each bucket's minimum and maximum" }),
        json!({ "name": "trades_limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 1000 } }),
        json!({ "name": "trades_cursor", "in": "query", "schema": { "type": "string" }, "description": "The next_trades_cursor of the previous answer (opaque)" }),
    ]);
    // Built apart: the document is one macro call at the recursion limit.
    let metrics = metrics_schema();
    let execution = json!({ "type": "object", "additionalProperties": false,
        "description": "Fill conventions (README, Execution profiles): a profile and overrides of the options it sets",
        "properties": {
            "profile": { "type": "string", "enum": ["bt", "backtesting.py", "vectorbt"], "default": "bt" },
            "sizing": { "type": "string", "enum": ["fractional", "whole_units"] },
            "fee": { "type": "string", "enum": ["on_top", "inside"] },
            "stops_from": { "type": "string", "enum": ["entry_bar", "next_bar"] },
            "close_at_end": { "type": "boolean" },
            "bar_order": { "type": "string", "enum": ["signals_first", "stops_first"] },
            "exposure": { "type": "string", "enum": ["at_close", "any_time"] } } });
    let annualization = json!({
        "description": "Sharpe's and Sortino's bars per year (README, Metrics): auto (the default: crypto when the data has weekend bars, else equities), crypto (365 days a year), equities (252 trading days a year), or a number of bars per year. CAGR always counts calendar years",
        "oneOf": [ { "type": "string", "enum": ["auto", "crypto", "equities"] },
                   { "type": "number", "exclusiveMinimum": 0 } ] });
    let resolved = json!({ "type": "object", "description": "How this variant's dataset annualised its metrics",
        "properties": {
            "given": { "$ref": "#/components/schemas/Annualization" },
            "resolved": { "description": "crypto, equities or the number given",
                          "oneOf": [ { "type": "string", "enum": ["crypto", "equities"] }, { "type": "number" } ] },
            "bars_per_year": { "type": ["number", "null"] },
            "years": { "type": ["number", "null"], "description": "First to last bar in 365.25-day years: CAGR's span" } } });
    let (heatmap, scatter, heat_path, scatter_path) = chart_paths(&std_errors);
    let csv = |what: &str| json!({ "200": { "description": what, "content": { "text/csv": { "schema": { "type": "string" } } } }, "503": busy() });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "bt API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Submit backtest bundles, follow them, read ranked results. Every /v1 request needs Authorization: Bearer <key> (bt keys create), within the key's request rate and quotas. Every response carries an x-request-id header." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Metrics": metrics,
                "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" }, "field": { "type": "string" },
                        "offset": { "type": "integer", "minimum": 0, "description": "For an error in a strategy rule: the byte offset in the rule's text" },
                        "request_id": { "type": "string", "description": "The id of the request (also its x-request-id header); the server's log lines of the request carry it" },
                        "limit": { "type": "string", "description": "For a 429 (and a 422 over a key's limit): the limit, e.g. max_active_bundles, max_queued_jobs, rate_limit, anonymous_rate_limit" },
                        "allowed": { "type": "integer", "description": "What the limit allows (requests per minute for a rate)" },
                        "used": { "type": "integer", "description": "What is in use now" },
                        "retry_after_seconds": { "type": "integer", "description": "As the Retry-After header" } } } } },
                "Grid": { "description": "One value, a list, or an inclusive range",
                    "oneOf": [ { "type": ["number", "string"] }, { "type": "array", "items": { "type": ["number", "string"] } },
                               { "type": "object", "required": ["start", "stop", "step"], "properties": {
                                   "start": { "type": "number" }, "stop": { "type": "number" }, "step": { "type": "number" } } } ] },
                "Strategy": { "type": "object",
                    "description": "A preset (kind and a grid per parameter, e.g. fast, slow) or rules (entry/exit expressions with $params; grammar in docs/strategies.md). Rules fire at a bar's close and fill at the next open.",
                    "properties": {
                        "kind": { "type": "string", "enum": ["sma_cross", "ema_cross", "rsi", "macd_cross", "bollinger", "supertrend", "donchian"] },
                        "entry_long": { "type": "string", "description": "Condition to open a long, e.g. cross_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < $rsi_max" },
                        "exit_long": { "type": "string", "description": "Condition to close a long" },
                        "entry_short": { "type": "string", "description": "Condition to open a short" },
                        "exit_short": { "type": "string", "description": "Condition to close a short" },
                        "params": { "description": "Grids of the rules' $params, in declaration order (variants number the last fastest): an object, or a list of [name, grid] pairs",
                            "oneOf": [ { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/Grid" } },
                                       { "type": "array", "items": { "type": "array", "minItems": 2, "maxItems": 2 } } ] } },
                    "additionalProperties": { "$ref": "#/components/schemas/Grid" } },
                "BundleSpec": { "type": "object", "required": ["datasets", "strategy"], "additionalProperties": false,
                    "description": "The bundle format of bt run (README, Bundles), as JSON",
                    "properties": {
                        "name": { "type": "string" }, "initial_balance": { "type": "number" },
                        "datasets": { "type": "object" }, "strategy": { "$ref": "#/components/schemas/Strategy" },
                        "money": { "type": "object" }, "costs": { "type": "object" },
                        "annualization": { "$ref": "#/components/schemas/Annualization" },
                        "execution": execution } },
                "Annualization": annualization,
                "Accepted": { "type": "object", "properties": {
                    "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" },
                    "annualization": { "$ref": "#/components/schemas/Annualization" },
                    "variants": { "type": "integer" }, "jobs": { "type": "integer" },
                    "priority": { "type": "integer", "description": "As stored: the requested one clamped into the key's range" },
                    "execution": { "type": "string", "enum": ["queue", "inline"] }, "status_url": { "type": "string" } } },
                "BundleStatus": { "type": "object", "properties": {
                    "id": { "type": "string", "format": "uuid" }, "status": { "type": "string", "enum": ["pending", "running", "completed", "failed", "cancelled"] },
                    "execution": { "type": "string" }, "variants": { "type": "integer" }, "variants_done": { "type": "integer" },
                    "progress": { "type": "number" }, "eta_seconds": { "type": ["number", "null"] }, "jobs": { "type": "object" },
                    "created_at": { "type": "string" }, "started_at": { "type": ["string", "null"] },
                    "finished_at": { "type": ["string", "null"] }, "error": { "type": ["string", "null"] } } },
                "Variant": { "type": "object", "properties": {
                    "variant": { "type": "integer" }, "dataset": { "type": "object" },
                    "strategy": { "type": "object", "description": "kind (a preset or \"rules\"), each parameter's value, and rules: each rule with the values in place of $params" },
                    "money": { "type": "object" }, "metrics": { "$ref": "#/components/schemas/Metrics" } } },
                "ResultsPage": { "type": "object", "required": ["results", "next_cursor"], "properties": {
                    "bundle": { "type": "string", "format": "uuid" }, "status": { "type": "string" },
                    "stored": { "type": "integer" }, "variants": { "type": "integer" },
                    "sort": { "type": "string" }, "order": { "type": "string" }, "limit": { "type": "integer" },
                    "annualization": { "$ref": "#/components/schemas/Annualization", "description": "The bundle's option as given" },
                    "results": { "type": "array", "items": { "$ref": "#/components/schemas/Variant" } },
                    "next_cursor": { "type": ["string", "null"], "description": "The cursor of the next page; null after the last" } } },
                "VariantDetail": { "type": "object", "required": ["trades", "trades_total", "next_trades_cursor", "equity", "equity_bars"],
                    "description": "A Variant with a page of its trades and its equity curve",
                    "properties": {
                        "variant": { "type": "integer" }, "dataset": { "type": "object" }, "strategy": { "type": "object" },
                        "money": { "type": "object" }, "metrics": { "$ref": "#/components/schemas/Metrics" },
                        "trades": { "type": "array", "items": { "type": "object" } },
                        "trades_total": { "type": "integer", "minimum": 0 },
                        "next_trades_cursor": { "type": ["string", "null"], "description": "The trades_cursor of the next page; null after the last" },
                        "equity": { "type": "array", "description": "[time, equity at the bar's close] pairs, at most points of them",
                                    "items": { "type": "array", "prefixItems": [{ "type": "string" }, { "type": ["number", "null"] }], "minItems": 2, "maxItems": 2 } },
                        "equity_bars": { "type": "integer", "minimum": 0, "description": "Bars of the full curve (equity.csv)" },
                        "annualization": resolved } }
            }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/v1/bundles": {
                "post": { "summary": "Validate and enqueue a bundle; answers at once",
                    "parameters": [{ "name": "priority", "in": "query", "schema": { "type": "integer", "default": 0 },
                                     "description": "Higher runs first; clamped into the key's range (0 to 10 for an ordinary key); the stored value is in the answer" }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/BundleSpec" } } } },
                    "responses": std_errors(json!({
                        "202": { "description": "Enqueued", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } },
                        "413": error_response("Body larger than the limit"),
                        "422": error_response("Invalid bundle (the field is named; in a rule, with its offset; a ticker or timeframe listed twice; a name over 200 characters), more variants than the server or the key allows, more jobs than the key may ever have queued, a dataset not in the catalog, a data column a rule reads that a dataset lacks, or one variant needing more memory than a worker's limit (both numbers in the message)"),
                        "429": too_many("A rate limit, or the owner already has the most active bundles or queued jobs its key allows (limit, allowed and used name which)"),
                        "503": busy() })) },
                "get": { "summary": "The caller's bundles, newest first", "parameters": page_params(),
                    "responses": std_errors(json!({ "200": { "description": "A page of bundles" } })) }
            },
            "/v1/bundles/{id}": { "get": { "summary": "Status, job counts, progress, ETA and times", "parameters": [id_param()],
                "responses": std_errors(json!({ "200": { "description": "The bundle", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/BundleStatus" } } } } })) } },
            "/v1/bundles/{id}/cancel": { "post": { "summary": "Cancel: pending jobs at once, running ones within seconds", "parameters": [id_param()],
                "responses": std_errors(json!({ "200": { "description": "Cancelled" }, "409": error_response("The bundle already ended") })) } },
            "/v1/bundles/{id}/results": { "get": { "summary": "Ranked variants with parameters and metrics, a page at a time", "parameters": results_params,
                "responses": std_errors(json!({ "200": { "description": "A page of ranked variants", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ResultsPage" } } } },
                                                "503": busy() })) } },
            "/v1/bundles/{id}/variants/{n}": { "get": { "summary": "One variant's metrics, a page of its trades and its equity curve downsampled (recomputed, equal to the sweep)",
                "parameters": detail_params,
                "responses": std_errors(json!({ "200": { "description": "The variant in detail", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VariantDetail" } } } },
                                                "503": busy() })) } },
            "/v1/bundles/{id}/variants/{n}/equity.csv": { "get": { "summary": "The variant's whole equity curve: time,close,equity per bar", "parameters": variant_params(),
                "responses": std_errors(csv("CSV, one line per bar")) } },
            "/v1/bundles/{id}/variants/{n}/trades.csv": { "get": { "summary": "Every trade of the variant: side, entry and exit bar, time and price, quantity, fees, pnl, return_on_margin, reason", "parameters": variant_params(),
                "responses": std_errors(csv("CSV, one line per trade")) } },
            "/v1/datasets": { "get": { "summary": "The candle catalog", "responses": std_errors(json!({ "200": { "description": "Datasets" } })) } },
            "/openapi.json": { "get": { "summary": "This document", "security": [], "responses": { "200": { "description": "OpenAPI 3.1" } } } },
            "/health": { "get": { "summary": "Process alive", "security": [], "responses": { "200": { "description": "ok" } } } },
            "/ready": { "get": { "summary": "Database reachable and not shutting down", "security": [], "responses": { "200": { "description": "ready" }, "503": { "description": "not ready" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics (OpenMetrics text)", "security": [], "responses": { "200": { "description": "metrics" } } } }
        }
    });
    // Added after: the macro above is at its recursion limit.
    doc["components"]["schemas"]["Heatmap"] = heatmap;
    doc["components"]["schemas"]["Scatter"] = scatter;
    doc["paths"]["/v1/bundles/{id}/heatmap"] = heat_path;
    doc["paths"]["/v1/bundles/{id}/scatter"] = scatter_path;
    doc["paths"]["/"] = json!({ "get": {
        "summary": "The dashboard: one HTML page, scripts inline, that asks for an API key once and draws the caller's bundles from this API",
        "security": [],
        "responses": { "200": { "description": "HTML", "content": { "text/html": { "schema": { "type": "string" } } } } } } });
    doc
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
