//! `ebmc lsp` over stdio, as an editor drives it: the built binary is spawned, messages are
//! framed with `Content-Length`, and every answer is compared with the exact expected one.
//! One test per request, plus incremental edits, UTF-8 negotiation and robustness (garbage,
//! positions out of range, unknown documents, requests before `initialize`).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

const OK: &str = "model m {
  const D = 4
  input x : real[D]
  output y : class[3]
  param W : real[3, D] ~ normal(0, 0.1)
  let scores = W @ x
  fn twice(a : real[3]) = a * 2
  energy fit = twice(scores)[y]
  loss hinge(margin = 0.5)
  train by adam(rate = 0.1, epochs = 5)
  data \"d.csv\" { x = 0..3, y = 4 }
}
";

const ERR: &str = "model m {
  input x : real[5]
  output y : class[3]
  param W : real[3, 4]
  energy (W @ x)[y]
}
";

const OK_URI: &str = "file:///work/ok.ebm";
const ERR_URI: &str = "file:///work/err.ebm";

/// Time any one answer may take before the test fails rather than hangs.
const TIMEOUT: Duration = Duration::from_secs(30);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
    next_id: i64,
}

fn read_frame(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ebmc lsp starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(v) = read_frame(&mut r) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            incoming: rx,
            pending: Vec::new(),
            next_id: 1,
        }
    }

    /// A client that has initialized (with `capabilities`) and opened both fixtures.
    fn ready(capabilities: Value) -> Client {
        let mut c = Client::start();
        let init = c.request("initialize", json!({"capabilities": capabilities}));
        assert!(init["result"]["capabilities"].is_object(), "{init}");
        c.notify("initialized", json!({}));
        c.open(OK_URI, OK);
        c.open(ERR_URI, ERR);
        c
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, v: Value) {
        let body = v.to_string();
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "ebm", "version": 1, "text": text}}),
        );
    }

    fn next(&mut self) -> Value {
        self.incoming
            .recv_timeout(TIMEOUT)
            .expect("the server answers in time")
    }

    /// The whole response to a request.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let v = self.next();
            if v["id"] == json!(id) {
                return v;
            }
            self.pending.push(v);
        }
    }

    /// The `result` of a request, which must not fail.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params);
        assert!(r.get("error").is_none(), "{method} failed: {r}");
        r["result"].clone()
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        let is_it = |v: &Value| {
            v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_it) {
            return self.pending.remove(i)["params"].clone();
        }
        loop {
            let v = self.next();
            if is_it(&v) {
                return v["params"].clone();
            }
            self.pending.push(v);
        }
    }

    /// `shutdown`, `exit`, and the exit code.
    fn stop(mut self) -> i32 {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null, "{r}");
        self.notify("exit", Value::Null);
        self.stdin = None;
        wait(&mut self.child)
    }
}

fn wait(child: &mut Child) -> i32 {
    for _ in 0..300 {
        if let Some(s) = child.try_wait().expect("wait") {
            return s.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the server did not exit");
}

/// The position of the `nth` occurrence of `needle` in `text` (ASCII lines), plus `skip`
/// characters.
fn pos(text: &str, needle: &str, nth: usize, skip: u32) -> Value {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} in the fixture"))
        .0;
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col as u32 + skip})
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Value {
    json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}})
}

fn at(uri: &str, position: Value) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position})
}

fn hover_text(c: &mut Client, uri: &str, position: Value) -> (String, Value) {
    let h = c.result("textDocument/hover", at(uri, position));
    assert_eq!(h["contents"]["kind"], "markdown", "{h}");
    (
        h["contents"]["value"].as_str().expect("text").to_string(),
        h["range"].clone(),
    )
}

#[test]
fn initialize_announces_capabilities_and_utf16_by_default() {
    let mut c = Client::start();
    let r = c.result("initialize", json!({"capabilities": {}}));
    let caps = &r["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental");
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    for p in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
    ] {
        assert_eq!(caps[p], true, "{p}");
    }
    assert_eq!(caps["renameProvider"]["prepareProvider"], true);
    assert!(caps["completionProvider"].is_object());
    assert_eq!(r["serverInfo"]["name"], "ebmc");
    assert_eq!(c.stop(), 0);
}

#[test]
fn diagnostics_of_a_file_with_an_error_and_of_a_clean_one() {
    let mut c = Client::ready(json!({}));
    assert_eq!(
        c.diagnostics(OK_URI),
        json!({"uri": OK_URI, "diagnostics": [], "version": 1})
    );
    let d = c.diagnostics(ERR_URI);
    assert_eq!(
        d,
        json!({
            "uri": ERR_URI,
            "version": 1,
            "diagnostics": [{
                "range": range(4, 12, 4, 13),
                "severity": 1,
                "code": "E0202",
                "source": "ebmc",
                "message": "expected shapes that `@` can multiply, found `real[3, 4]` @ `real[5]`\n\nhelp: the matrix has 4 columns but the vector has 5 elements",
                "relatedInformation": [
                    {"location": {"uri": ERR_URI, "range": range(4, 10, 4, 11)}, "message": "this is `real[3, 4]`"},
                    {"location": {"uri": ERR_URI, "range": range(4, 14, 4, 15)}, "message": "this is `real[5]`"},
                ],
            }],
        })
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn incremental_edits_give_new_diagnostics() {
    let mut c = Client::ready(json!({}));
    c.diagnostics(ERR_URI);
    // `real[5]` → `real[4]`: the error goes.
    let five = pos(ERR, "5", 0, 0);
    let after = json!({"line": five["line"], "character": five["character"].as_u64().unwrap() + 1});
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": ERR_URI, "version": 2},
            "contentChanges": [{"range": {"start": five, "end": after}, "text": "4"}],
        }),
    );
    assert_eq!(
        c.diagnostics(ERR_URI),
        json!({"uri": ERR_URI, "diagnostics": [], "version": 2})
    );
    // Insert a line with an unknown name, then a syntax error.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": ERR_URI, "version": 3},
            "contentChanges": [{"range": range(4, 0, 4, 0), "text": "  let h = W @ q\n"}],
        }),
    );
    let d = c.diagnostics(ERR_URI);
    assert_eq!(d["version"], 3);
    let codes: Vec<&Value> = d["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["code"])
        .collect();
    assert_eq!(codes, [&json!("E0101")], "{d}");
    assert_eq!(d["diagnostics"][0]["range"], range(4, 14, 4, 15));
    assert_eq!(d["diagnostics"][0]["severity"], 1);
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": ERR_URI, "version": 4},
            "contentChanges": [{"range": range(4, 13, 4, 14), "text": "@@"}],
        }),
    );
    let d = c.diagnostics(ERR_URI);
    assert_eq!(d["diagnostics"][0]["code"], "E0001", "{d}");
    // A whole-text change; a warning is a warning, and marks the unused name.
    let warned = OK.replace("const D = 4", "const D = 4 const U = 1");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": ERR_URI, "version": 5}, "contentChanges": [{"text": warned}]}),
    );
    let d = c.diagnostics(ERR_URI);
    assert_eq!(d["diagnostics"].as_array().unwrap().len(), 1, "{d}");
    let w = &d["diagnostics"][0];
    assert_eq!(
        (&w["code"], &w["severity"], &w["tags"]),
        (&json!("W0001"), &json!(2), &json!([1]))
    );
    assert_eq!(w["range"], range(1, 20, 1, 21));
    assert_eq!(c.stop(), 0);
}

#[test]
fn hover_on_names_expressions_losses_methods_and_builtins() {
    let mut c = Client::ready(json!({}));
    // A declared param, at its declaration and at a use.
    let (t, r) = hover_text(&mut c, OK_URI, pos(OK, "W :", 0, 0));
    assert_eq!(t, "```ebm\nparam W : real[3, 4]\n```");
    assert_eq!(r, range(4, 8, 4, 9));
    let (t, r) = hover_text(&mut c, OK_URI, pos(OK, "W @", 0, 1));
    assert_eq!(t, "```ebm\nparam W : real[3, 4]\n```");
    assert_eq!(r, range(5, 15, 5, 16));
    // A const, a let, a function and its parameter, an energy term, the model.
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "D]", 0, 0)).0,
        "```ebm\nconst D = 4\n```"
    );
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "scores", 1, 2)).0,
        "```ebm\nlet scores : real[3]\n```"
    );
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "twice", 1, 0)).0,
        "```ebm\nfn twice(a : real[3]) : real[3]\n```"
    );
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "a * 2", 0, 0)).0,
        "```ebm\na : real[3]\n```\n\nparameter of `twice`"
    );
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "fit", 0, 0)).0,
        "```ebm\nenergy fit : real\n```\n\na term of the model's energy"
    );
    assert_eq!(
        hover_text(&mut c, OK_URI, pos(OK, "m {", 0, 0)).0,
        "```ebm\nmodel m\n```\n\n1 params, 1 inputs, 1 outputs, 0 latents"
    );
    // A subexpression: the operator of `W @ x` is inside the product only.
    let (t, r) = hover_text(&mut c, OK_URI, pos(OK, "@ x", 0, 0));
    assert_eq!(t, "```ebm\nW @ x : real[3]\n```");
    assert_eq!(r, range(5, 15, 5, 20));
    let (t, _) = hover_text(&mut c, OK_URI, pos(OK, "[y]", 0, 0));
    assert_eq!(t, "```ebm\ntwice(scores)[y] : real\n```");
    // A loss: its formula.
    let (t, r) = hover_text(&mut c, OK_URI, pos(OK, "hinge", 0, 2));
    assert_eq!(
        t,
        "```ebm\nloss hinge(margin = 1)\n```\n\nper-example loss: `max(0, m + E_i − Ē_i)` (averaged over the batch); needs: ȳ\n\n`E_i = E(x_i, y_i)`, `Ē_i = E(x_i, ȳ_i)`"
    );
    assert_eq!(r, range(8, 7, 8, 12));
    // An optimizer: its arguments and defaults.
    let (t, _) = hover_text(&mut c, OK_URI, pos(OK, "adam", 0, 0));
    assert_eq!(
        t,
        "```ebm\ntrain by adam(rate, epochs, batch = 32, seed = 0, l2 = 0, beta1 = 0.9, beta2 = 0.999, eps = 0.00000001)\n```\n\narguments without a default are required"
    );
    // An argument of a method: its default.
    let (t, r) = hover_text(&mut c, OK_URI, pos(OK, "margin", 0, 0));
    assert_eq!(t, "`margin` of `hinge`: default `1`");
    assert_eq!(r, range(8, 13, 8, 19));
    let (t, _) = hover_text(&mut c, OK_URI, pos(OK, "epochs", 0, 0));
    assert_eq!(t, "`epochs` of `adam`: required");
    // A builtin and a distribution.
    let (t, _) = hover_text(&mut c, OK_URI, pos(OK, "normal", 0, 1));
    assert_eq!(
        t,
        "```ebm\nnormal(mean, std)\n```\n\ninitialise from a normal distribution"
    );
    // Nothing on a keyword, or in a comment-free blank: `null`.
    let h = c.result("textDocument/hover", at(OK_URI, pos(OK, "input", 0, 1)));
    assert_eq!(h, Value::Null);
    assert_eq!(c.stop(), 0);
}

#[test]
fn hover_on_a_builtin_call() {
    let src = "model b {\n  input x : real[3]\n  output y : real\n  energy (sqnorm(x) - y)^2\n}\n";
    let mut c = Client::ready(json!({}));
    c.open("file:///work/b.ebm", src);
    let (t, r) = hover_text(&mut c, "file:///work/b.ebm", pos(src, "sqnorm", 0, 3));
    assert_eq!(t, "```ebm\nsqnorm(v : real[…]) : real\n```\n\nΣ vᵢ²");
    assert_eq!(r, range(3, 10, 3, 16));
    let (t, _) = hover_text(&mut c, "file:///work/b.ebm", pos(src, "- y", 0, 0));
    assert_eq!(t, "```ebm\n(sqnorm(x) - y) : real\n```");
    assert_eq!(c.stop(), 0);
}

#[test]
fn definition_of_every_kind_of_name() {
    let mut c = Client::ready(json!({}));
    let def = |c: &mut Client, p: Value| c.result("textDocument/definition", at(OK_URI, p));
    let loc = |r: Value| json!({"uri": OK_URI, "range": r});
    assert_eq!(def(&mut c, pos(OK, "W @", 0, 0)), loc(range(4, 8, 4, 9)));
    assert_eq!(def(&mut c, pos(OK, "D]", 0, 0)), loc(range(1, 8, 1, 9)));
    assert_eq!(
        def(&mut c, pos(OK, "twice(s", 0, 2)),
        loc(range(6, 5, 6, 10))
    );
    assert_eq!(
        def(&mut c, pos(OK, "a * 2", 0, 0)),
        loc(range(6, 11, 6, 12))
    );
    assert_eq!(
        def(&mut c, pos(OK, "scores)", 0, 0)),
        loc(range(5, 6, 5, 12))
    );
    // A data binding and a use in the energy both go to the declaration.
    assert_eq!(def(&mut c, pos(OK, "x = 0", 0, 0)), loc(range(2, 8, 2, 9)));
    assert_eq!(def(&mut c, pos(OK, "y]", 0, 0)), loc(range(3, 9, 3, 10)));
    // Not a name: null.
    assert_eq!(def(&mut c, pos(OK, "hinge", 0, 0)), Value::Null);
    assert_eq!(c.stop(), 0);
}

#[test]
fn references_with_and_without_the_declaration() {
    let mut c = Client::ready(json!({}));
    let refs = |c: &mut Client, p: Value, decl: bool| {
        let mut v = at(OK_URI, p);
        v["context"] = json!({"includeDeclaration": decl});
        c.result("textDocument/references", v)
    };
    let loc = |r: Value| json!({"uri": OK_URI, "range": r});
    assert_eq!(
        refs(&mut c, pos(OK, "D =", 0, 0), true),
        json!([
            loc(range(1, 8, 1, 9)),
            loc(range(2, 17, 2, 18)),
            loc(range(4, 20, 4, 21))
        ])
    );
    assert_eq!(
        refs(&mut c, pos(OK, "x :", 0, 0), false),
        json!([loc(range(5, 19, 5, 20)), loc(range(10, 17, 10, 18))])
    );
    assert_eq!(
        refs(&mut c, pos(OK, "y]", 0, 0), true),
        json!([
            loc(range(3, 9, 3, 10)),
            loc(range(7, 29, 7, 30)),
            loc(range(10, 27, 10, 28))
        ])
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn rename_everywhere_and_refusals() {
    let mut c = Client::ready(json!({}));
    let rename = |c: &mut Client, p: Value, name: &str| {
        let mut v = at(OK_URI, p);
        v["newName"] = json!(name);
        c.request("textDocument/rename", v)
    };
    let r = rename(&mut c, pos(OK, "scores", 1, 0), "h");
    let edit = |r: Value| json!({"range": r, "newText": "h"});
    assert_eq!(
        r["result"],
        json!({"changes": {OK_URI: [edit(range(5, 6, 5, 12)), edit(range(7, 21, 7, 27))]}})
    );
    let p = c.result(
        "textDocument/prepareRename",
        at(OK_URI, pos(OK, "scores", 0, 0)),
    );
    assert_eq!(p, range(5, 6, 5, 12));
    // Refused: a clash, a reserved word, not a name, a capture by a parameter.
    for (name, why) in [
        ("W", "`W` is already declared in model `m` (param `W`)"),
        (
            "loss",
            "`loss` is a reserved word and cannot name a declaration",
        ),
        (
            "2x",
            "`2x` is not a name: a name is a letter or `_` followed by letters, digits and `_`",
        ),
    ] {
        let r = rename(&mut c, pos(OK, "scores", 0, 0), name);
        assert_eq!(r["error"]["code"], -32803, "{r}");
        assert_eq!(r["error"]["message"], why);
    }
    let r = rename(&mut c, pos(OK, "a * 2", 0, 0), "twice");
    assert_eq!(
        r["result"]["changes"][OK_URI].as_array().unwrap().len(),
        2,
        "{r}"
    );
    let src = "model c {\n  const k = 2\n  input x : real\n  output y : real\n  fn f(a : real) = a * k\n  energy (f(x) - y)^2\n}\n";
    c.open("file:///work/c.ebm", src);
    let mut v = at("file:///work/c.ebm", pos(src, "a :", 0, 0));
    v["newName"] = json!("k");
    let r = c.request("textDocument/rename", v);
    assert_eq!(
        r["error"]["message"],
        "`f` uses the model's `k`, which a parameter named `k` would hide"
    );
    let mut v = at("file:///work/c.ebm", pos(src, "k =", 0, 0));
    v["newName"] = json!("a");
    let r = c.request("textDocument/rename", v);
    assert_eq!(
        r["error"]["message"],
        "`k` is used in `f`, whose parameter `a` would hide it"
    );
    let mut v = at("file:///work/c.ebm", pos(src, "f(a", 0, 0));
    v["newName"] = json!("exp");
    let r = c.request("textDocument/rename", v);
    assert_eq!(
        r["error"]["message"],
        "`exp` is a builtin function, which a function named `exp` would hide"
    );
    assert_eq!(c.stop(), 0);
}

fn labels(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion_of_names_builtins_keywords_and_methods() {
    let snippets =
        json!({"textDocument": {"completion": {"completionItem": {"snippetSupport": true}}}});
    let mut c = Client::ready(snippets);
    // In an expression: the model's names (a parameter only inside its function), builtins,
    // keywords.
    let items = c.result(
        "textDocument/completion",
        at(OK_URI, pos(OK, "scores)", 0, 0)),
    );
    let l = labels(&items);
    for name in [
        "D", "x", "y", "W", "scores", "twice", "exp", "sqnorm", "softmax", "energy",
    ] {
        assert!(l.contains(&name.to_string()), "{name} in {l:?}");
    }
    assert!(!l.contains(&"a".to_string()), "{l:?}");
    assert!(
        !l.contains(&"fit".to_string()),
        "energy terms cannot be used: {l:?}"
    );
    let w = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "W")
        .unwrap();
    assert_eq!(w["detail"], "param W : real[3, 4]");
    let exp = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "exp")
        .unwrap();
    assert_eq!(exp["insertText"], "exp($1)");
    assert_eq!(exp["insertTextFormat"], 2);
    let inside = c.result(
        "textDocument/completion",
        at(OK_URI, pos(OK, "a * 2", 0, 0)),
    );
    assert!(labels(&inside).contains(&"a".to_string()));
    // After `loss`: the losses, with their arguments.
    let items = c.result(
        "textDocument/completion",
        at(OK_URI, pos(OK, "hinge", 0, 0)),
    );
    assert_eq!(
        labels(&items),
        [
            "energy",
            "perceptron",
            "hinge",
            "log",
            "lvq2",
            "mce",
            "square_square",
            "square_exp",
            "nll",
            "mee",
            "cd",
            "dsm",
            "nce"
        ]
    );
    let hinge = &items[2];
    assert_eq!(hinge["insertText"], "hinge(margin = ${1:1})");
    assert_eq!(hinge["detail"], "loss hinge(margin = 1)");
    // After `train by`: the optimizers.
    let items = c.result("textDocument/completion", at(OK_URI, pos(OK, "adam", 0, 0)));
    assert_eq!(labels(&items), ["sgd", "adam"]);
    assert_eq!(
        items[1]["insertText"],
        "adam(rate = ${1:}, epochs = ${2:}, batch = ${3:32}, seed = ${4:0}, l2 = ${5:0}, beta1 = ${6:0.9}, beta2 = ${7:0.999}, eps = ${8:0.00000001})"
    );
    // While the line being typed does not parse, names still come from the last parse.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": OK_URI, "version": 2},
            "contentChanges": [{"range": range(8, 0, 8, 0), "text": "  let z = (sc\n"}],
        }),
    );
    let items = c.result(
        "textDocument/completion",
        at(OK_URI, json!({"line": 8, "character": 13})),
    );
    assert!(labels(&items).contains(&"scores".to_string()));
    // After `by` in an `infer`: inference methods.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": OK_URI, "version": 3},
            "contentChanges": [{"range": range(8, 0, 9, 0), "text": "  infer y by \n"}],
        }),
    );
    let items = c.result(
        "textDocument/completion",
        at(OK_URI, json!({"line": 8, "character": 13})),
    );
    assert_eq!(
        labels(&items),
        ["descent", "enumerate", "langevin", "hmc", "gibbs"]
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn document_symbols_are_models_with_their_declarations() {
    let mut c = Client::ready(json!({}));
    let s = c.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": OK_URI}}),
    );
    let model = &s[0];
    assert_eq!(s.as_array().unwrap().len(), 1);
    assert_eq!(model["name"], "m");
    assert_eq!(model["kind"], 2, "module");
    assert_eq!(model["range"], range(0, 0, 11, 1));
    assert_eq!(model["selectionRange"], range(0, 6, 0, 7));
    let children: Vec<(String, u64, String)> = model["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["kind"].as_u64().unwrap(),
                c["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        ("D", 14, "const"),
        ("x", 13, "input : real[4]"),
        ("y", 13, "output : class[3]"),
        ("W", 8, "param : real[3, 4]"),
        ("scores", 13, "let : real[3]"),
        ("twice", 12, "fn"),
        ("fit", 7, "energy"),
        ("loss hinge", 24, ""),
        ("train by adam", 24, ""),
        ("data \"d.csv\"", 1, ""),
    ];
    let want: Vec<(String, u64, String)> = want
        .iter()
        .map(|(n, k, d)| (n.to_string(), *k, d.to_string()))
        .collect();
    assert_eq!(children, want);
    assert_eq!(model["children"][3]["range"], range(4, 2, 4, 39));
    assert_eq!(model["children"][3]["selectionRange"], range(4, 8, 4, 9));
    assert_eq!(c.stop(), 0);
}

#[test]
fn utf8_positions_when_the_client_offers_them() {
    // `é` is two bytes and one UTF-16 unit: the column of `W` differs by one.
    let src = "model u {\n  input x : real[2] /* é */ param W : real[2]\n  output y : real\n  energy (dot(W, x) - y)^2\n}\n";
    let mut c = Client::start();
    let r = c.result(
        "initialize",
        json!({"capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}}),
    );
    assert_eq!(r["capabilities"]["positionEncoding"], "utf-8");
    c.open("file:///work/u.ebm", src);
    let d = c.result(
        "textDocument/definition",
        at("file:///work/u.ebm", json!({"line": 3, "character": 14})),
    );
    // 35 bytes before `W`; 34 characters (and UTF-16 units).
    assert_eq!(d["range"], range(1, 35, 1, 36));
    assert_eq!(c.stop(), 0);
}

#[test]
fn robust_to_garbage_out_of_range_positions_and_unknown_documents() {
    let mut c = Client::start();
    // Before initialize: an error, not a crash.
    let r = c.request(
        "textDocument/hover",
        at(OK_URI, json!({"line": 0, "character": 0})),
    );
    assert_eq!(r["error"]["code"], -32002);
    c.result("initialize", json!({"capabilities": {}}));
    // Not JSON, not JSON-RPC, a body that is not UTF-8, a header without a length: each is a
    // parse error with a null id, and the server goes on.
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    for bad in [
        &b"Content-Length: 9\r\n\r\n{\"a\": 1}\n"[..],
        b"Content-Length: 3\r\n\r\n\xff\xfe\xfd",
        b"X-Nothing: 1\r\n\r\n",
    ] {
        c.send_raw(bad);
    }
    for _ in 0..4 {
        let v = c.next();
        assert_eq!(v["id"], Value::Null, "{v}");
        assert_eq!(v["error"]["code"], -32700, "{v}");
    }
    // A length far beyond anything: refused without allocating it.
    c.send_raw(b"Content-Length: 99999999999999\r\n\r\n");
    let v = c.next();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    c.stop_without_waiting();
    let mut c = Client::ready(json!({}));
    // An unknown method, bad params, an unknown document, positions out of range.
    let r = c.request("textDocument/unknown", json!({}));
    assert_eq!(r["error"]["code"], -32601);
    let r = c.request("textDocument/hover", json!({"textDocument": 3}));
    assert_eq!(r["error"]["code"], -32602);
    assert_eq!(
        c.result(
            "textDocument/hover",
            at("file:///nowhere.ebm", json!({"line": 0, "character": 0}))
        ),
        Value::Null
    );
    assert_eq!(
        c.result(
            "textDocument/hover",
            at(OK_URI, json!({"line": 500, "character": 0}))
        ),
        Value::Null
    );
    let h = c.result(
        "textDocument/hover",
        at(OK_URI, json!({"line": 4, "character": 4000})),
    );
    assert_eq!(h, Value::Null);
    for m in [
        "textDocument/definition",
        "textDocument/completion",
        "textDocument/documentSymbol",
    ] {
        c.result(m, at(OK_URI, json!({"line": 99, "character": 99})));
        c.result(
            m,
            at("file:///nowhere.ebm", json!({"line": 0, "character": 0})),
        );
    }
    // Edits beyond the end, reversed, on an unknown document, with a lone surrogate: clamped
    // or ignored; the server still answers.
    for change in [
        json!({"range": range(90, 0, 95, 3), "text": "// end\n"}),
        json!({"range": range(3, 5, 1, 0), "text": ""}),
        json!({"range": {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "x"}),
    ] {
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": OK_URI, "version": 9}, "contentChanges": [change]}),
        );
    }
    let surrogate = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didChange\",\"params\":{{\"textDocument\":{{\"uri\":\"{OK_URI}\",\"version\":10}},\"contentChanges\":[{{\"text\":\"\\ud800\"}}]}}}}"
    );
    assert!(surrogate.contains(r"\ud800"));
    c.send_raw(format!("Content-Length: {}\r\n\r\n{surrogate}", surrogate.len()).as_bytes());
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///nowhere.ebm", "version": 2}, "contentChanges": [{"text": "x"}]}),
    );
    let d = c.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": OK_URI}}),
    );
    assert_eq!(d[0]["name"], "m");
    assert_eq!(c.stop(), 0);
}

impl Client {
    /// Closes stdin without `shutdown`: the server exits with 1, as the protocol asks.
    fn stop_without_waiting(mut self) {
        self.notify("exit", Value::Null);
        self.stdin = None;
        assert_eq!(wait(&mut self.child), 1);
    }
}

#[test]
fn exit_without_shutdown_is_code_one_and_requests_after_shutdown_fail() {
    let mut c = Client::ready(json!({}));
    let r = c.request("shutdown", Value::Null);
    assert_eq!(r["result"], Value::Null);
    let r = c.request(
        "textDocument/hover",
        at(OK_URI, json!({"line": 0, "character": 0})),
    );
    assert_eq!(r["error"]["code"], -32600);
    c.notify("exit", Value::Null);
    c.stdin = None;
    assert_eq!(wait(&mut c.child), 0);
    let c = Client::ready(json!({}));
    c.stop_without_waiting();
}

/// Seeded random edits and requests, in process on [`ebmc::lsp::Server`]: edits anywhere (out
/// of range, reversed, multi-byte text, half a surrogate pair away), requests at any position,
/// in both encodings. Nothing may panic, and every request gets a response.
#[test]
fn never_panics_on_random_edits_and_requests() {
    use ebmc::lsp::Server;
    use lsp_server::{Message, Notification, Request, RequestId};
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n.max(1)
    };
    let pieces = [
        "",
        "x",
        "é",
        "𝔼",
        "\n",
        "\r\n",
        "(",
        ")",
        "[",
        "]",
        "@",
        " + ",
        "model",
        "energy ",
        "let q = W @ x\n",
        "fn g(a : real[3]) = a\n",
        "}",
        "{",
        "\u{feff}",
        "// é 𝔼\n",
        "0.5",
        "loss ",
        "by ",
        "y",
        "W",
        "scores",
        "twice(",
        "/*",
        "*/",
    ];
    let requests = [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/references",
        "textDocument/prepareRename",
        "textDocument/rename",
        "textDocument/completion",
        "textDocument/documentSymbol",
        "textDocument/formatting",
    ];
    for encodings in [json!(["utf-16"]), json!(["utf-8"])] {
        let mut server = Server::default();
        let mut id = 0;
        let mut request = |server: &mut Server, method: &str, params: Value| {
            id += 1;
            let replies = server.handle(Message::Request(Request::new(
                RequestId::from(id),
                method.into(),
                params.clone(),
            )));
            match replies.as_slice() {
                [Message::Response(r)] if r.id == RequestId::from(id) => {
                    r.result.as_ref().is_some_and(|v| !v.is_null())
                }
                _ => panic!("{method}: {replies:?}"),
            }
        };
        let mut answered: std::collections::HashMap<&str, usize> = Default::default();
        request(
            &mut server,
            "initialize",
            json!({"capabilities": {"general": {"positionEncodings": encodings}}}),
        );
        let open =
            json!({"textDocument": {"uri": OK_URI, "languageId": "ebm", "version": 0, "text": OK}});
        for step in 0..3000 {
            // Back to the fixture now and then, so that most requests meet text that parses.
            if step % 30 == 0 {
                server.handle(Message::Notification(Notification::new(
                    "textDocument/didOpen".into(),
                    open.clone(),
                )));
            }
            let p =
                |next: &mut dyn FnMut(u64) -> u64| json!({"line": next(16), "character": next(48)});
            // Edits in the second half of each stretch only: requests meet the fixture as
            // well as what random edits made of it.
            if step % 30 >= 15 && next(4) == 0 {
                let text: String = (0..next(4))
                    .map(|_| pieces[next(pieces.len() as u64) as usize])
                    .collect();
                let change = if next(20) == 0 {
                    json!({"text": text})
                } else {
                    json!({"range": {"start": p(&mut next), "end": p(&mut next)}, "text": text})
                };
                server.handle(Message::Notification(Notification::new(
                    "textDocument/didChange".into(),
                    json!({"textDocument": {"uri": OK_URI, "version": step}, "contentChanges": [change]}),
                )));
            } else {
                let method = requests[next(requests.len() as u64) as usize];
                let new_name = ["h", "W", "loss", "2x", "z_1"][next(5) as usize];
                let mut params = json!({
                    "textDocument": {"uri": OK_URI},
                    "position": p(&mut next),
                    "newName": new_name,
                    "options": {"tabSize": 2, "insertSpaces": true},
                });
                if method.ends_with("references") {
                    params["context"] = json!({"includeDeclaration": next(2) == 0});
                }
                if next(10) == 0 {
                    params["textDocument"]["uri"] = json!("file:///other.ebm");
                }
                if request(&mut server, method, params) {
                    *answered.entry(method).or_default() += 1;
                }
            }
            if next(5) == 0 {
                server.publish();
            }
        }
        // Not only empty answers: the edits leave text worth answering about.
        for method in requests.iter().filter(|m| !m.ends_with("formatting")) {
            assert!(answered.get(method).is_some_and(|&n| n > 5), "{answered:?}");
        }
    }
}

#[test]
fn names_are_scoped_per_model() {
    let src = "model a {\n  input x : real\n  output y : real\n  param W : real\n  energy (W * x - y)^2\n}\nmodel b {\n  input x : real\n  output y : real\n  param W : real\n  energy (W * x - y)^2 + W^2\n}\n";
    let uri = "file:///work/two.ebm";
    let mut c = Client::ready(json!({}));
    c.open(uri, src);
    let mut v = at(uri, pos(src, "W", 3, 0));
    v["context"] = json!({"includeDeclaration": true});
    let refs = c.result("textDocument/references", v);
    let loc = |r: Value| json!({"uri": uri, "range": r});
    assert_eq!(
        refs,
        json!([
            loc(range(9, 8, 9, 9)),
            loc(range(10, 10, 10, 11)),
            loc(range(10, 25, 10, 26))
        ])
    );
    let d = c.result("textDocument/definition", at(uri, pos(src, "W *", 0, 0)));
    assert_eq!(d, loc(range(3, 8, 3, 9)));
    let s = c.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!((&s[0]["name"], &s[1]["name"]), (&json!("a"), &json!("b")));
    assert_eq!(c.stop(), 0);
}

#[test]
fn formatting_is_ebmc_fmt() {
    let messy = "model f {\n    input x : real[3]   output y : real\n  param w:real[3]\n  energy (dot(w,x)-y)^2\n}";
    let uri = "file:///work/f.ebm";
    let mut c = Client::ready(json!({}));
    c.open(uri, messy);
    let want = ebmc::syntax::format(messy).expect("formats");
    assert_ne!(want, messy);
    let fmt = |c: &mut Client, uri: &str| {
        c.request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
        )
    };
    let r = fmt(&mut c, uri);
    assert_eq!(
        r["result"],
        json!([{"range": range(0, 0, 4, 1), "newText": want}]),
        "{r}"
    );
    // Formatted already: no edit.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": want}]}),
    );
    assert_eq!(fmt(&mut c, uri)["result"], json!([]));
    // A check error does not stop formatting: err.ebm parses.
    let r = fmt(&mut c, ERR_URI);
    assert_eq!(
        r["result"][0]["newText"],
        ebmc::syntax::format(ERR).expect("formats"),
        "{r}"
    );
    // Does not parse: an error that says where and why.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": "model f {\n  energy (\n}\n"}]}),
    );
    let r = fmt(&mut c, uri);
    assert_eq!(r["error"]["code"], -32803, "{r}");
    assert_eq!(
        r["error"]["message"],
        "cannot format a source that does not parse: 2:11: expected an expression, found `}` [E0001]"
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn consts_bound_to_the_data_are_read_beside_the_file() {
    let dir = std::env::temp_dir().join(format!("ebmc-lsp-data-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("my data")).unwrap();
    std::fs::write(dir.join("my data/d.csv"), "a,b,c,t\n1,2,3,0\n2,3,4,1\n").unwrap();
    let text = "model m {\n  const D = features\n  const C = classes\n  input x : real[D]\n  output y : class[C]\n  param W : real[C, D]\n  energy (W @ x)[y]\n  data \"d.csv\" { x = a..c, y = t }\n}\n";
    let mut c = Client::ready(json!({}));
    c.diagnostics(OK_URI);
    c.diagnostics(ERR_URI);
    // A space in the directory arrives percent-encoded.
    let uri = format!("file://{}/my%20data/m.ebm", dir.display());
    c.open(&uri, text);
    assert_eq!(c.diagnostics(&uri)["diagnostics"], json!([]));
    // Without a file to start from, nothing binds them.
    let untitled = "untitled:Untitled-1";
    c.open(untitled, text);
    let d = c.diagnostics(untitled);
    let codes: Vec<&str> = d["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["E0108", "E0108"], "{d}");
    assert_eq!(c.stop(), 0);
}
