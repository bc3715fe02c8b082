//! Language-server latency on a generated 1,000-declaration model: diagnostics after a
//! one-character edit, and hover.
//!
//! Run with `cargo bench --bench lsp`. The server is driven in process through
//! [`ebmc::lsp::Server`], exactly as `ebmc lsp` drives it after framing: a `didChange` that
//! edits one digit, then the `publishDiagnostics` it causes (reparse, check, conversion of
//! every span, and the JSON text of the notification); and a hover on a name in the middle of
//! the file. Prints the median and the 99th percentile of 200 repetitions of each, and the
//! front end alone (parse + check with types recorded) as the baseline they are built on.

use ebmc::lsp::Server;
use lsp_server::{Message, Notification, Request, RequestId};
use serde_json::json;
use std::time::Instant;

/// (median, 99th percentile) in milliseconds.
fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let p99 = v[((v.len() as f64 * 0.99).ceil() as usize).min(v.len()) - 1];
    (v[v.len() / 2] * 1e3, p99 * 1e3)
}

fn main() {
    let text = ebmc::testing::sources::many_declarations(1000);
    let decls = text.lines().count() - 2;
    let uri = "file:///bench/big.ebm";
    let mut server = Server::default();
    let mut id = 0;
    let mut request = |server: &mut Server, method: &str, params: serde_json::Value| {
        id += 1;
        server.handle(Message::Request(Request::new(
            RequestId::from(id),
            method.into(),
            params,
        )))
    };
    request(&mut server, "initialize", json!({"capabilities": {}}));
    let notify = |server: &mut Server, method: &str, params: serde_json::Value| {
        server.handle(Message::Notification(Notification::new(
            method.into(),
            params,
        )));
    };
    notify(
        &mut server,
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "ebm", "version": 0, "text": text}}),
    );
    let first = server.publish();
    assert_eq!(first.len(), 1);

    // The digit edited: the last of `0.001` in the middle energy term.
    let (line, l) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("energy e"))
        .nth(150)
        .expect("energy terms");
    let character = l.find("0.001").expect("0.001") as u32 + 4;
    // The name hovered: `W{k}` in the middle let.
    let (hline, hl) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("let h"))
        .nth(160)
        .expect("lets");
    let hcharacter = hl.find("(W").expect("(W") as u32 + 1;

    let runs = 200;
    let mut diagnostics = Vec::new();
    let mut hover = Vec::new();
    for i in 0..runs {
        let digit = if i % 2 == 0 { "2" } else { "1" };
        let t = Instant::now();
        notify(
            &mut server,
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": i + 1},
                "contentChanges": [{
                    "range": {"start": {"line": line, "character": character},
                              "end": {"line": line, "character": character + 1}},
                    "text": digit,
                }],
            }),
        );
        let published = server.publish();
        let bytes: usize = published
            .iter()
            .map(|m| match m {
                Message::Notification(n) => serde_json::to_string(&n.params).map_or(0, |s| s.len()),
                _ => 0,
            })
            .sum();
        diagnostics.push(t.elapsed().as_secs_f64());
        assert!(bytes > 0 && published.len() == 1);

        let t = Instant::now();
        let answer = request(
            &mut server,
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": hline, "character": hcharacter}}),
        );
        hover.push(t.elapsed().as_secs_f64());
        let Some(Message::Response(r)) = answer.first() else {
            panic!("a hover response")
        };
        let value = r
            .result
            .as_ref()
            .map(|v| v["contents"]["value"].to_string());
        assert!(
            value
                .as_deref()
                .is_some_and(|v| v.contains("param W160 : real[16, 16]")),
            "{value:?}"
        );
    }
    let mut front = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let file = ebmc::syntax::parse(&text).expect("parses");
        std::hint::black_box(ebmc::check::check_typed(&file));
        front.push(t.elapsed().as_secs_f64());
    }
    println!(
        "lsp: {decls} declarations ({} bytes), {runs} repetitions",
        text.len()
    );
    let row = |what: &str, (m, p): (f64, f64)| {
        println!("  {what:<38} median {m:8.3} ms   p99 {p:8.3} ms");
    };
    row(
        "diagnostics after a one-character edit",
        summary(diagnostics),
    );
    row("hover on a name", summary(hover));
    row("parse + check_typed (baseline)", summary(front));
}
