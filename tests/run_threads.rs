//! Data-parallel training is deterministic: the same weights, bit for bit, on one, two and
//! three threads, for models large enough that training does run that many threads (asserted:
//! each run reports the threads that computed its epochs).

mod common;

use ebmc::runtime::run::RunOptions;

#[test]
fn one_and_two_threads_give_the_same_weights() {
    same_weights_on_any_thread_count(DIGITS_MLP);
}

/// A real output: training runs the batched (matrix–matrix) loss kernel, chunk by chunk.
#[test]
fn batched_training_gives_the_same_weights_on_any_thread_count() {
    same_weights_on_any_thread_count(
        r#"model upper_to_lower {
  input x : real[32]  output y : real[32]
  param W1 : real[640, 32] ~ normal(0, 0.1)  param b1 : real[640] = 0
  param W2 : real[32, 640] ~ normal(0, 0.1)  param b2 : real[32] = 0
  energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y)
  loss energy
  train by adam(rate = 0.01, epochs = 1, batch = 64, seed = 5)
  data "data/digits.csv" { x = p0..p31, y = p32..p63 } split 0.3 standardize x, y
}"#,
    );
}

const DIGITS_MLP: &str = r#"model digits_mlp {
  input x : real[64]  output y : class[10]
  param W1 : real[512, 64] ~ normal(0, 0.1)  param b1 : real[512] = 0
  param W2 : real[10, 512] ~ normal(0, 0.1)  param b2 : real[10] = 0
  energy (W2 @ tanh(W1 @ x + b1) + b2)[y]
  loss nll(beta = 1)
  train by sgd(rate = 0.05, epochs = 1, batch = 64, momentum = 0.9, seed = 3)
  data "data/digits.csv" { x = p0..p63, y = digit } split 0.3 standardize x
}"#;

fn same_weights_on_any_thread_count(source: &str) {
    // Both models have params × batch over the threshold for threads (2^21), and batches of
    // at least three chunks (16 rows each), so that three threads each have one.
    let model = common::model_of(source, false);
    // One directory per model (the tests run at once in one process).
    let dir = std::env::temp_dir().join(format!(
        "ebmc-threads-{}-{}",
        std::process::id(),
        model.name
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut saved = Vec::new();
    for threads in [1, 2, 3] {
        let path = dir.join(format!("w{threads}.json"));
        let opts = RunOptions {
            threads: Some(threads),
            save: Some(path.clone()),
            ..RunOptions::default()
        };
        let outcome = common::run(&model, &opts);
        let ran: Vec<usize> = outcome.history.iter().map(|e| e.threads).collect();
        assert_eq!(
            ran,
            vec![threads],
            "threads that trained when asked for {threads}"
        );
        // And they really ran: as many OS threads computed chunks.
        let ran_on: Vec<usize> = outcome.history.iter().map(|e| e.ran_on).collect();
        assert_eq!(ran_on, vec![threads], "OS threads that computed chunks");
        saved.push(std::fs::read(&path).unwrap());
    }
    assert!(saved[0] == saved[1], "1 and 2 threads differ");
    assert!(saved[0] == saved[2], "1 and 3 threads differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Inference over a data set by batches of rows spread over threads (`ebmc run`'s metrics and
/// predictions) gives the same answers, bit for bit, on one, two and three threads.
#[test]
fn inference_gives_the_same_predictions_on_any_thread_count() {
    let model = common::model_of(
        r#"model upper_to_lower {
  input x : real[32]  output y : real[32]
  param W1 : real[96, 32] ~ normal(0, 0.1)  param b1 : real[96] = 0
  param W2 : real[32, 96] ~ normal(0, 0.1)  param b2 : real[32] = 0
  energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y)
  loss energy
  infer y by descent(steps = 10, rate = 0.1)
  data "data/digits.csv" { x = p0..p31, y = p32..p63 } split 0.5 standardize x, y
}"#,
        false,
    );
    let dir = std::env::temp_dir().join(format!("ebmc-threads-infer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut outs = Vec::new();
    let mut tables = Vec::new();
    for threads in [1, 2, 3] {
        let path = dir.join(format!("p{threads}.csv"));
        let opts = RunOptions {
            threads: Some(threads),
            out: Some(path.clone()),
            ..RunOptions::default()
        };
        tables.push(common::run(&model, &opts).report.table());
        outs.push(std::fs::read(&path).unwrap());
    }
    assert!(outs[0].len() > 1000, "predictions of every test row");
    assert!(outs[0] == outs[1], "1 and 2 threads predict differently");
    assert!(outs[0] == outs[2], "1 and 3 threads predict differently");
    assert_eq!(tables[0], tables[1]);
    assert_eq!(tables[0], tables[2]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A non-finite gradient stops training with the same words on any thread count: with several
/// threads each finds the first bad element of its range as it sums, and the first range's
/// is named.
#[test]
fn a_nan_gradient_is_named_alike_on_any_thread_count() {
    // sqrt at 0 (W2 starts at 0): a finite loss whose gradient is NaN.
    let model = common::model_of(
        r#"model nan_grad {
  input x : real[32]  output y : real[32]
  param W1 : real[96, 32] ~ normal(0, 0.1)  param b1 : real[96] = 0
  param W2 : real[32, 96] = 0  param b2 : real[32] = 0
  energy sqrt(sqnorm(W2 @ tanh(W1 @ x + b1))) + 0.5 * sqnorm(b2 - y)
  loss energy
  train by sgd(rate = 0.01, epochs = 1, batch = 64, seed = 5)
  data "data/digits.csv" { x = p0..p31, y = p32..p63 } split 0.5
}"#,
        true,
    );
    let errors: Vec<String> = [1, 2, 3]
        .iter()
        .map(|&threads| {
            let opts = RunOptions {
                threads: Some(threads),
                ..RunOptions::default()
            };
            match ebmc::runtime::run::run(&model, &common::examples(), &opts, &mut |_| {}) {
                Ok(_) => panic!("trained on {threads} threads"),
                Err(e) => e.to_string(),
            }
        })
        .collect();
    assert!(errors[0].contains("the gradient of `"), "{}", errors[0]);
    assert_eq!(errors[0], errors[1]);
    assert_eq!(errors[0], errors[2]);
}
