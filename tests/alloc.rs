//! No training step allocates: after the first epoch has grown every buffer, an epoch of 100
//! steps makes no heap allocation on the training thread, on each of the loss paths —
//! the batched loss kernel, the per-example kernel with latents minimised by descent,
//! negatives by descent, `negatives shuffle` and the perceptron's inferred ȳ.
//!
//! A counting global allocator counts the allocations made by the thread that trains
//! (a thread-local switch, so the test harness's own threads are not counted).

mod common;

use ebmc::compile::Backend;
use ebmc::runtime::data::Dataset;
use ebmc::runtime::run::setup;
use ebmc::runtime::session::RunError;
use ebmc::runtime::train::{train_observed, EpochStats};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted, and how many there were.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn count(on: bool) -> u64 {
    COUNTING.with(|c| c.set(on));
    COUNT.with(|c| c.get())
}

/// Trains `source` for three epochs of `steps` steps each (the training rows are cut to
/// `steps × batch`), on one thread, and returns the allocations made during the third
/// epoch (after the second has ended, before the third reports), with how many steps ran
/// the batched kernel over all three.
fn allocations_in_a_warm_epoch(source: &str, steps: usize) -> (u64, u64) {
    let model = common::model_of(source, true);
    let set = setup(
        &model,
        &common::examples(),
        &ebmc::compile::Options::new(Backend::Jit),
        None,
        None,
        &ebmc::runtime::run::Memory::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut session = set.session;
    let loaded = set.data.expect("the model has data");
    let mut train = model.train.clone().expect("the model trains");
    train.epochs = 3;
    let rows: Vec<usize> = (0..steps * train.batch).collect();
    assert!(
        rows.len() <= loaded.train.rows(),
        "{} rows needed",
        rows.len()
    );
    let data: Dataset = loaded.train.select(&rows);
    let (mut before, mut during) = (0, None);
    let mut on_epoch = |e: &EpochStats, _: &mut _| -> Result<(), RunError> {
        let now = count(false);
        match e.epoch {
            2 => before = now,
            3 => during = Some(now - before),
            _ => {}
        }
        count(true);
        Ok(())
    };
    count(true);
    let trained = train_observed(&mut session, &data, &train, 1, &mut on_epoch);
    count(false);
    trained.unwrap_or_else(|e| panic!("{e}"));
    let calls = session.training_kernel().map_or(0, |(_, calls)| calls);
    (during.expect("three epochs ran"), calls)
}

fn assert_no_allocation(name: &str, source: &str) -> u64 {
    let (allocations, calls) = allocations_in_a_warm_epoch(source, 100);
    assert_eq!(
        allocations, 0,
        "{name}: an epoch of 100 training steps allocated {allocations} times"
    );
    calls
}

#[test]
fn the_batched_loss_kernel_does_not_allocate() {
    // Batches of 17 rows: one call of the 16-row kernel and one row alone, per step.
    let calls = assert_no_allocation(
        "batched",
        r#"model upper_to_lower {
  input x : real[32]  output y : real[32]
  param W : real[32, 32] ~ normal(0, 0.1)  param b : real[32] = 0
  energy 0.5 * sqnorm(tanh(W @ x) + b - y)
  loss energy
  train by sgd(rate = 0.05, epochs = 1, batch = 17, momentum = 0.9, seed = 3)
  data "data/digits.csv" { x = p0..p31, y = p32..p63 } standardize x, y
}"#,
    );
    assert_eq!(calls, 300, "one batched call per step");
}

#[test]
fn latents_minimised_by_descent_do_not_allocate() {
    assert_no_allocation(
        "latent",
        r#"model latent {
  input x : real[8]   output y : real[8]
  latent z : real[2] min by descent(steps = 5, rate = 0.1)
  param W : real[8, 8] = 0   param V : real[8, 2] ~ normal(0, 0.1)
  energy fit   = 0.5 * sqnorm(y - (W @ x + V @ z))
  energy prior = 0.05 * sqnorm(z)
  loss energy
  infer y, z by descent(steps = 10, rate = 0.1)
  train by adam(rate = 0.01, epochs = 1, batch = 4, seed = 1)
  data "data/digits.csv" { x = p0..p7, y = p8..p15 } standardize x, y
}"#,
    );
}

#[test]
fn negatives_by_descent_do_not_allocate() {
    assert_no_allocation(
        "negatives descent",
        r#"model implicit {
  input x : real   output y : real
  param A : real[16, 1]  param a : real[16]  param B : real[16, 1]  param c : real[16]
  fn gx(v : real) = tanh(A @ [v] + a)
  fn gy(v : real) = tanh(B @ [v] + c)
  energy 0.5 * sqnorm(gx(x) - gy(y))
  loss hinge(margin = 0.5) negatives descent(steps = 5, rate = 0.1, radius = 0.3)
  infer y by descent(steps = 10, rate = 0.1, init = 0.5)
  train by adam(rate = 0.01, epochs = 1, batch = 4, seed = 1)
  data "data/square.csv" { x = x, y = y }
}"#,
    );
}

#[test]
fn negatives_shuffle_do_not_allocate() {
    assert_no_allocation(
        "negatives shuffle",
        r#"model contrastive {
  input x : real[8]   output y : real[8]
  param F : real[4, 8]   param G : real[4, 8]
  energy 1 - cosine(F @ x, G @ y)
  loss hinge(margin = 0.5) negatives shuffle
  infer y by descent(steps = 10, rate = 0.5, init = normal(0, 1))
  train by adam(rate = 0.01, epochs = 1, batch = 8, seed = 1)
  data "data/digits.csv" { x = p0..p7, y = p8..p15 } standardize x, y
}"#,
    );
}

#[test]
fn the_perceptrons_inferred_answer_does_not_allocate() {
    assert_no_allocation(
        "perceptron",
        r#"model perceptron {
  input x : real[2]   output y : real[2]
  param W : real[2, 2] ~ normal(0, 0.1)
  energy 0.5 * sqnorm(y - W @ x) + 0.1 * sqnorm(y)
  loss perceptron
  infer y by descent(steps = 10, rate = 0.2)
  train by sgd(rate = 0.01, epochs = 1, batch = 1, seed = 1)
  data "data/iris.csv" { x = petal_length..petal_width, y = sepal_length..sepal_width } standardize x, y
}"#,
    );
}
