//! The bt engine: indicators, strategy rules, the position simulator, metrics,
//! bundle specs and their expansion into variants, and the parallel sweep.
//!
//! This crate does no IO and reads no environment: it takes slices and specs
//! and returns values.

pub mod bundle;
pub mod execution;
pub mod indicators;
mod lanes;
pub mod metrics;
pub mod rules;
pub mod sim;
pub mod strategy;
pub mod sweep;
