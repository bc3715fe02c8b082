//! `ebmc bench`'s `loss_grad_ns` times the function training runs: the same compiled entry
//! point (by the address of its native code), with the batch size training uses — checked
//! by identity, not by timing.

mod common;

use ebmc::compile::{self, Backend, Entry};
use ebmc::driver::bench_compiled;
use ebmc::runtime::data;
use ebmc::runtime::session::Session;
use ebmc::runtime::train::train;
use std::sync::Arc;

/// Benches `source`, trains it one epoch on the same compiled model, and checks that the
/// kernel training called is the one timed; returns the entry point.
fn bench_and_train(source: &str) -> Entry {
    let model = common::model_of(source, true);
    let code = Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
    let timed = bench_compiled(&code).unwrap();
    let loss = timed
        .iter()
        .find(|t| t.key == "loss_grad_ns")
        .expect("bench times the loss gradient");
    assert!(loss.address.is_some(), "native code was timed");

    let mut session = Session::new(&code, 1).unwrap();
    let decl = model.data.as_ref().expect("the model has data");
    let loaded = data::load(decl, &model.vars, &common::examples(), 1).unwrap();
    let mut t = model.train.clone().expect("the model trains");
    t.epochs = 1;
    train(&mut session, &loaded.train, &t, 1, &mut |_| {}).unwrap();
    let (address, calls) = session.training_kernel().expect("the model has a loss");
    assert_eq!(
        address, loss.address,
        "training ran another function than bench timed"
    );
    assert!(calls > 0, "training never called the timed kernel");
    let rows = code.entry(loss.entry).unwrap().rows;
    assert_eq!(session.batch_rows().unwrap_or(1), rows, "batch size");
    loss.entry
}

#[test]
fn a_batched_loss_is_timed_as_training_runs_it() {
    let entry = bench_and_train(
        r#"model upper_to_lower {
  input x : real[32]  output y : real[32]
  param W : real[32, 32] ~ normal(0, 0.1)  param b : real[32] = 0
  energy 0.5 * sqnorm(tanh(W @ x) + b - y)
  loss energy
  train by sgd(rate = 0.05, epochs = 1, batch = 32, seed = 3)
  data "data/digits.csv" { x = p0..p31, y = p32..p63 } split 0.5 standardize x, y
}"#,
    );
    assert_eq!(entry, Entry::LossGradBatch);
}

#[test]
fn a_per_example_loss_is_timed_as_training_runs_it() {
    // A latent minimised by descent leaves per-example work to the runtime: not batched.
    let entry = bench_and_train(&common::example_source("latent"));
    assert_eq!(entry, Entry::LossGrad);
}
