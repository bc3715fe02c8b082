//! Data-parallel training is deterministic: the same weights, bit for bit, on one thread and
//! on several, for a model large enough that training does use several threads.

mod common;

use ebmc::runtime::run::RunOptions;

#[test]
fn one_and_two_threads_give_the_same_weights() {
    // 64 × 128 + 128 × 10 params × batch 32 is over the threshold for threads.
    let source = r#"model digits_mlp {
  input x : real[64]  output y : class[10]
  param W1 : real[128, 64] ~ normal(0, 0.1)  param b1 : real[128] = 0
  param W2 : real[10, 128] ~ normal(0, 0.1)  param b2 : real[10] = 0
  energy (W2 @ tanh(W1 @ x + b1) + b2)[y]
  loss nll(beta = 1)
  train by sgd(rate = 0.05, epochs = 1, batch = 32, momentum = 0.9, seed = 3)
  data "data/digits.csv" { x = p0..p63, y = digit } split 0.3 standardize x
}"#;
    let model = common::model_of(source, false);
    let dir = std::env::temp_dir().join(format!("ebmc-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut saved = Vec::new();
    for threads in [1, 2, 3] {
        let path = dir.join(format!("w{threads}.json"));
        let opts = RunOptions {
            threads: Some(threads),
            save: Some(path.clone()),
            ..RunOptions::default()
        };
        common::run(&model, &opts);
        saved.push(std::fs::read(&path).unwrap());
    }
    assert!(saved[0] == saved[1], "1 and 2 threads differ");
    assert!(saved[0] == saved[2], "1 and 3 threads differ");
    let _ = std::fs::remove_dir_all(&dir);
}
