//! Framing over stdio: `Content-Length: N\r\n\r\n` then N bytes of JSON, each way.
//!
//! lsp-server's own stdio transport stops at the first malformed message (and allocates
//! whatever length a header claims), so the framing is ours and only its message types are
//! used. A header block that is not understood, a length over [`MAX_MESSAGE`], a body that is
//! not UTF-8 JSON or not a JSON-RPC message: each is reported as [`Incoming::Malformed`] and
//! reading goes on with the next header. End of input ends the reader.

use lsp_server::Message;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};

/// Largest message body read: a source may be 8 MiB, and JSON escapes can double it.
pub const MAX_MESSAGE: usize = 64 << 20;
/// Longest header line kept.
const MAX_HEADER: usize = 4096;

pub enum Incoming {
    Message(Message),
    /// A message that could not be read, and why: answered with a JSON-RPC parse error.
    Malformed(String),
    /// A message longer than [`MAX_MESSAGE`]: its length. Never leaves this module.
    TooLong(usize),
}

/// Starts the thread that reads messages from `input`.
pub fn spawn_reader(input: impl Read + Send + 'static) -> Receiver<Incoming> {
    let (tx, rx) = sync_channel(64);
    std::thread::spawn(move || {
        let mut r = BufReader::new(input);
        while let Some(m) = read(&mut r) {
            let skip = match m {
                Incoming::TooLong(n) => {
                    let why =
                        format!("expected a message of at most {MAX_MESSAGE} bytes, found {n}");
                    (Incoming::Malformed(why), n)
                }
                m => (m, 0),
            };
            if tx.send(skip.0).is_err() {
                return;
            }
            if skip.1 > 0
                && std::io::copy(&mut r.by_ref().take(skip.1 as u64), &mut std::io::sink()).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// The next message, or `None` at the end of input.
pub fn read(r: &mut impl BufRead) -> Option<Incoming> {
    let mut length: Option<Result<usize, String>> = None;
    let mut any = false;
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 {
            return None;
        }
        if !line.ends_with(b"\n") {
            // Over-long header line: skip the rest of it.
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest).ok()?;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !any {
                continue; // blank lines between messages
            }
            break;
        }
        any = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("malformed Content-Length `{}`", value.trim())),
                );
            }
        }
    }
    let length = match length {
        None => {
            return Some(Incoming::Malformed(
                "expected a Content-Length header".into(),
            ))
        }
        Some(Err(e)) => return Some(Incoming::Malformed(e)),
        Some(Ok(n)) if n > MAX_MESSAGE => {
            // Answered now; the body is skipped (as it comes) rather than held.
            return Some(Incoming::TooLong(n));
        }
        Some(Ok(n)) => n,
    };
    let mut body = Vec::with_capacity(length.min(1 << 20));
    r.by_ref().take(length as u64).read_to_end(&mut body).ok()?;
    if body.len() < length {
        return None;
    }
    Some(decode(&body))
}

fn decode(body: &[u8]) -> Incoming {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Incoming::Malformed(format!("malformed JSON: {e}")),
    };
    match serde_json::from_value::<Message>(value) {
        Ok(m) => Incoming::Message(m),
        Err(e) => Incoming::Malformed(format!("expected a JSON-RPC message: {e}")),
    }
}

/// Writes messages; `false` when the output is closed.
pub fn write_all(out: &mut impl Write, msgs: &[Message]) -> bool {
    msgs.iter().all(|m| m.clone().write(out).is_ok())
}

/// Writes a JSON-RPC parse error (its id is `null`: the request's could not be read).
pub fn write_parse_error(out: &mut impl Write, why: &str) -> bool {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": lsp_server::ErrorCode::ParseError as i32, "message": why},
    })
    .to_string();
    write!(out, "Content-Length: {}\r\n\r\n{body}", body.len())
        .and_then(|_| out.flush())
        .is_ok()
}
