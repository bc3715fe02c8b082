//! `ebmc lsp`: a language server for `.ebm` files over stdio.
//!
//! The server answers diagnostics (the checker's, with codes, related spans and help), hover,
//! go to definition, find references, rename, completion, document symbols and formatting
//! (exactly `ebmc fmt`'s, [`crate::syntax::format`]).
//! Each concern has its own file: [`documents`] (open texts, edits, positions),
//! [`analysis`] (parse, check and the index of names), [`diagnostics`], [`hover`],
//! [`navigation`] (definition, references, rename), [`completion`] and [`symbols`].
//!
//! One thread reads and frames messages ([`transport`]); this one handles them in order, on
//! [`Server`], which knows nothing of stdio (the tests and `benches/lsp.rs` drive it directly).
//! Diagnostics are published when no message is waiting: a burst of keystrokes is checked
//! once, at its end, while a request always sees the text as edited so far.
//!
//! Invariants:
//! * nothing the client sends makes the server panic: malformed frames or JSON are answered
//!   with a parse error, unknown methods with `MethodNotFound`, bad parameters with
//!   `InvalidParams`; notifications that cannot be read, and documents that are not open, are
//!   ignored (the protocol lets a server answer nothing to a notification);
//! * a position is converted with the encoding negotiated at `initialize` (UTF-8 when the
//!   client offers it, else UTF-16) and clamped into the text ([`documents`]);
//! * a closed standard output ends the server quietly.

pub mod analysis;
pub mod completion;
pub mod diagnostics;
pub mod documents;
pub mod hover;
pub mod navigation;
pub mod symbols;
mod transport;

use documents::{Document, Encoding};
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types as lt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Runs the server on stdin and stdout until `exit`; the process's exit code: 0 when `exit`
/// came after `shutdown`, 1 otherwise (as the protocol asks).
pub fn run() -> u8 {
    let incoming = transport::spawn_reader(std::io::stdin());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut server = Server::default();
    loop {
        let msg = match incoming.try_recv() {
            Ok(m) => m,
            Err(_) => {
                // Nothing waiting: the burst of edits is over; publish, then wait.
                let published = server.publish();
                if !transport::write_all(&mut out, &published) {
                    return 1;
                }
                match incoming.recv() {
                    Ok(m) => m,
                    Err(_) => return 1,
                }
            }
        };
        let ok = match msg {
            transport::Incoming::Message(m) => transport::write_all(&mut out, &server.handle(m)),
            transport::Incoming::Malformed(why) => transport::write_parse_error(&mut out, &why),
            transport::Incoming::TooLong(_) => true,
        };
        if !ok {
            return 1;
        }
        if let Some(code) = server.exit {
            return code;
        }
    }
}

/// The server's state, and what it answers to each message.
pub struct Server {
    initialized: bool,
    shutdown: bool,
    /// The process's exit code, once `exit` has come.
    pub exit: Option<u8>,
    encoding: Encoding,
    snippets: bool,
    docs: HashMap<lt::Uri, Document>,
    /// Documents whose diagnostics are out of date.
    dirty: HashSet<lt::Uri>,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            initialized: false,
            shutdown: false,
            exit: None,
            encoding: Encoding::Utf16,
            snippets: false,
            docs: HashMap::new(),
            dirty: HashSet::new(),
        }
    }
}

/// A request's failure: an error code and a message.
type Failure = (ErrorCode, String);

fn params<P: DeserializeOwned>(v: Value) -> Result<P, Failure> {
    serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_value<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

impl Server {
    /// The replies to one message (responses, and at `exit` nothing).
    pub fn handle(&mut self, msg: Message) -> Vec<Message> {
        match msg {
            Message::Request(r) => vec![Message::Response(self.request(r))],
            Message::Notification(n) => {
                self.notification(n);
                Vec::new()
            }
            Message::Response(_) => Vec::new(),
        }
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let result = if r.method == "initialize" {
            if self.initialized {
                Err((ErrorCode::InvalidRequest, "initialize sent twice".into()))
            } else {
                params(r.params).map(|p| self.initialize(p))
            }
        } else if !self.initialized {
            Err((
                ErrorCode::ServerNotInitialized,
                "expected `initialize` first".into(),
            ))
        } else if self.shutdown {
            Err((
                ErrorCode::InvalidRequest,
                "the server is shutting down".into(),
            ))
        } else {
            self.dispatch(&r.method, r.params)
        };
        match result {
            Ok(v) => Response::new_ok(id, v),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn dispatch(&mut self, method: &str, p: Value) -> Result<Value, Failure> {
        use lt::request::*;
        match method {
            Shutdown::METHOD => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            HoverRequest::METHOD => self.hover(params(p)?).map(to_value),
            GotoDefinition::METHOD => self.definition(params(p)?).map(to_value),
            References::METHOD => self.references(params(p)?).map(to_value),
            PrepareRenameRequest::METHOD => self.prepare_rename(params(p)?).map(to_value),
            Rename::METHOD => self.rename(params(p)?).map(to_value),
            Completion::METHOD => self.completion(params(p)?).map(to_value),
            DocumentSymbolRequest::METHOD => self.symbols(params(p)?).map(to_value),
            Formatting::METHOD => self.formatting(params(p)?).map(to_value),
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("unknown method `{method}`"),
            )),
        }
    }

    fn initialize(&mut self, p: lt::InitializeParams) -> Value {
        self.initialized = true;
        let offered = p
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref());
        if offered.is_some_and(|e| e.contains(&lt::PositionEncodingKind::UTF8)) {
            self.encoding = Encoding::Utf8;
        }
        self.snippets = p
            .capabilities
            .text_document
            .as_ref()
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|i| i.snippet_support)
            .unwrap_or(false);
        let caps = lt::ServerCapabilities {
            position_encoding: Some(match self.encoding {
                Encoding::Utf8 => lt::PositionEncodingKind::UTF8,
                Encoding::Utf16 => lt::PositionEncodingKind::UTF16,
            }),
            text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
                lt::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lt::TextDocumentSyncKind::INCREMENTAL),
                    ..Default::default()
                },
            )),
            hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lt::OneOf::Left(true)),
            references_provider: Some(lt::OneOf::Left(true)),
            rename_provider: Some(lt::OneOf::Right(lt::RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: Default::default(),
            })),
            completion_provider: Some(lt::CompletionOptions {
                trigger_characters: Some(vec!["(".into(), " ".into()]),
                ..Default::default()
            }),
            document_symbol_provider: Some(lt::OneOf::Left(true)),
            document_formatting_provider: Some(lt::OneOf::Left(true)),
            ..Default::default()
        };
        to_value(lt::InitializeResult {
            capabilities: caps,
            server_info: Some(lt::ServerInfo {
                name: "ebmc".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        })
    }

    fn notification(&mut self, n: Notification) {
        use lt::notification::*;
        if n.method == Exit::METHOD {
            self.exit = Some(if self.shutdown { 0 } else { 1 });
            return;
        }
        if !self.initialized || self.shutdown {
            return;
        }
        // A notification that cannot be read is dropped: there is no one to answer.
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lt::DidOpenTextDocumentParams>(n.params) {
                    let d = p.text_document;
                    self.docs.insert(d.uri.clone(), {
                        let mut doc = Document::new(d.text, d.version);
                        doc.dir = documents::file_dir(d.uri.as_str());
                        doc
                    });
                    self.dirty.insert(d.uri);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lt::DidChangeTextDocumentParams>(n.params) {
                    let uri = p.text_document.uri;
                    if let Some(doc) = self.docs.get_mut(&uri) {
                        doc.apply(p.content_changes, p.text_document.version, self.encoding);
                        self.dirty.insert(uri);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lt::DidCloseTextDocumentParams>(n.params) {
                    let uri = p.text_document.uri;
                    if self.docs.remove(&uri).is_some() {
                        // Clear what was published for it.
                        self.dirty.insert(uri);
                    }
                }
            }
            _ => {}
        }
    }

    /// `textDocument/publishDiagnostics` for every document changed since the last call.
    pub fn publish(&mut self) -> Vec<Message> {
        let mut dirty: Vec<lt::Uri> = self.dirty.drain().collect();
        dirty.sort();
        dirty
            .into_iter()
            .map(|uri| {
                let (diagnostics, version) = match self.docs.get_mut(&uri) {
                    Some(doc) => {
                        let a = doc.analysis();
                        (
                            diagnostics::to_lsp(&uri, doc, &a.diags, self.encoding),
                            Some(doc.version),
                        )
                    }
                    None => (Vec::new(), None),
                };
                Message::Notification(Notification::new(
                    "textDocument/publishDiagnostics".into(),
                    lt::PublishDiagnosticsParams {
                        uri,
                        diagnostics,
                        version,
                    },
                ))
            })
            .collect()
    }

    /// The document and the byte offset of a position in it; `None` for a document that is
    /// not open or a position past its last line.
    fn locate(&mut self, at: &lt::TextDocumentPositionParams) -> Option<(&mut Document, usize)> {
        let enc = self.encoding;
        let doc = self.docs.get_mut(&at.text_document.uri)?;
        if !doc.lines.contains(at.position) {
            return None;
        }
        let offset = doc.offset(at.position, enc);
        Some((doc, offset))
    }

    fn hover(&mut self, p: lt::HoverParams) -> Result<Option<lt::Hover>, Failure> {
        let enc = self.encoding;
        let Some((doc, offset)) = self.locate(&p.text_document_position_params) else {
            return Ok(None);
        };
        let a = doc.analysis();
        Ok(
            hover::hover(&a, &doc.text, offset).map(|(value, span)| lt::Hover {
                contents: lt::HoverContents::Markup(lt::MarkupContent {
                    kind: lt::MarkupKind::Markdown,
                    value,
                }),
                range: Some(doc.range(span, enc)),
            }),
        )
    }

    fn definition(
        &mut self,
        p: lt::GotoDefinitionParams,
    ) -> Result<Option<lt::GotoDefinitionResponse>, Failure> {
        let enc = self.encoding;
        let uri = p.text_document_position_params.text_document.uri.clone();
        let Some((doc, offset)) = self.locate(&p.text_document_position_params) else {
            return Ok(None);
        };
        let a = doc.analysis();
        Ok(navigation::definition(&a, offset)
            .map(|s| lt::GotoDefinitionResponse::Scalar(lt::Location::new(uri, doc.range(s, enc)))))
    }

    fn references(&mut self, p: lt::ReferenceParams) -> Result<Option<Vec<lt::Location>>, Failure> {
        let enc = self.encoding;
        let uri = p.text_document_position.text_document.uri.clone();
        let Some((doc, offset)) = self.locate(&p.text_document_position) else {
            return Ok(None);
        };
        let a = doc.analysis();
        Ok(
            navigation::references(&a, offset, p.context.include_declaration).map(|spans| {
                spans
                    .into_iter()
                    .map(|s| lt::Location::new(uri.clone(), doc.range(s, enc)))
                    .collect()
            }),
        )
    }

    fn prepare_rename(
        &mut self,
        p: lt::TextDocumentPositionParams,
    ) -> Result<Option<lt::PrepareRenameResponse>, Failure> {
        let enc = self.encoding;
        let Some((doc, offset)) = self.locate(&p) else {
            return Ok(None);
        };
        let a = doc.analysis();
        Ok(navigation::prepare_rename(&a, offset)
            .map(|s| lt::PrepareRenameResponse::Range(doc.range(s, enc))))
    }

    fn rename(&mut self, p: lt::RenameParams) -> Result<Option<lt::WorkspaceEdit>, Failure> {
        let enc = self.encoding;
        let uri = p.text_document_position.text_document.uri.clone();
        let Some((doc, offset)) = self.locate(&p.text_document_position) else {
            return Err((
                ErrorCode::RequestFailed,
                "no document or position to rename at".into(),
            ));
        };
        let a = doc.analysis();
        let spans = navigation::rename(&a, offset, &p.new_name)
            .map_err(|why| (ErrorCode::RequestFailed, why))?;
        let edits = spans
            .into_iter()
            .map(|s| lt::TextEdit::new(doc.range(s, enc), p.new_name.clone()))
            .collect();
        Ok(Some(lt::WorkspaceEdit {
            changes: Some(HashMap::from([(uri, edits)])),
            ..Default::default()
        }))
    }

    fn completion(
        &mut self,
        p: lt::CompletionParams,
    ) -> Result<Option<lt::CompletionResponse>, Failure> {
        let snippets = self.snippets;
        let Some((doc, offset)) = self.locate(&p.text_document_position) else {
            return Ok(None);
        };
        let a = doc.last_parsed();
        let items = completion::complete(a.as_deref(), &doc.text, offset, snippets);
        Ok(Some(lt::CompletionResponse::Array(items)))
    }

    fn symbols(
        &mut self,
        p: lt::DocumentSymbolParams,
    ) -> Result<Option<lt::DocumentSymbolResponse>, Failure> {
        let enc = self.encoding;
        let Some(doc) = self.docs.get_mut(&p.text_document.uri) else {
            return Ok(None);
        };
        let a = doc.analysis();
        Ok(Some(lt::DocumentSymbolResponse::Nested(symbols::symbols(
            &a, doc, enc,
        ))))
    }

    /// The whole document formatted as `ebmc fmt` formats it: one edit replacing the text,
    /// none when it is already formatted; an error when it does not parse.
    fn formatting(
        &mut self,
        p: lt::DocumentFormattingParams,
    ) -> Result<Option<Vec<lt::TextEdit>>, Failure> {
        let enc = self.encoding;
        let Some(doc) = self.docs.get_mut(&p.text_document.uri) else {
            return Ok(None);
        };
        match crate::syntax::format(&doc.text) {
            Ok(formatted) if formatted == doc.text => Ok(Some(Vec::new())),
            Ok(formatted) => Ok(Some(vec![lt::TextEdit::new(
                doc.range(crate::span::Span::new(0, doc.text.len()), enc),
                formatted,
            )])),
            Err(diags) => {
                let first = diags.first().map(|d| {
                    let at = doc.range(d.primary.span, enc).start;
                    format!(
                        "{}:{}: {} [{}]",
                        at.line + 1,
                        at.character + 1,
                        d.message,
                        d.code
                    )
                });
                Err((
                    ErrorCode::RequestFailed,
                    format!(
                        "cannot format a source that does not parse: {}",
                        first.unwrap_or_default()
                    ),
                ))
            }
        }
    }
}
