-- Drives `ebmc lsp` from a real Neovim (0.7 or later), headless: opens a file with an error
-- and one without, waits for their diagnostics, asks hover and definition, and checks the
-- answers. Exits 0 when every check passes, 1 on the first failure (or any Lua error).
-- Run by editors/nvim/test.sh, which finds the ebmc binary and passes it as $EBMC.

local ebmc = os.getenv("EBMC")
local failures = 0

local function fail(msg)
  io.stderr:write("FAIL: " .. msg .. "\n")
  failures = failures + 1
end

local function check(cond, msg)
  if not cond then
    fail(msg)
  end
end

local function eq(got, want, what)
  if not vim.deep_equal(got, want) then
    fail(what .. ": expected " .. vim.inspect(want) .. ", got " .. vim.inspect(got))
  end
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function main()
  assert(ebmc and ebmc ~= "", "set $EBMC to the ebmc binary")
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  local ok_path, err_path = dir .. "/ok.ebm", dir .. "/err.ebm"
  write(ok_path, table.concat({
    "model m {",
    "  input x : real[4]",
    "  output y : class[3]",
    "  param W : real[3, 4]",
    "  let scores = W @ x",
    "  energy scores[y]",
    "}",
    "",
  }, "\n"))
  write(err_path, table.concat({
    "model m {",
    "  input x : real[5]",
    "  output y : class[3]",
    "  param W : real[3, 4]",
    "  energy (W @ x)[y]",
    "}",
    "",
  }, "\n"))

  -- The uris whose diagnostics arrived, beside Neovim's own handling of them.
  local published = {}
  local client = vim.lsp.start_client({
    name = "ebmc",
    cmd = { ebmc, "lsp" },
    root_dir = dir,
    handlers = {
      ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
        published[result.uri] = true
        return vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
      end,
    },
  })
  assert(client, "the client starts")

  vim.cmd("edit " .. err_path)
  local err_buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(err_buf, client)
  vim.cmd("edit " .. ok_path)
  local ok_buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(ok_buf, client)

  local err_uri, ok_uri = vim.uri_from_bufnr(err_buf), vim.uri_from_bufnr(ok_buf)
  local arrived = vim.wait(20000, function()
    return published[err_uri] and published[ok_uri]
  end, 50)
  check(arrived, "diagnostics for both files arrive")

  -- The file with an error: one diagnostic, E0202 at the `@` of line 5.
  local diags = vim.diagnostic.get(err_buf)
  eq(#diags, 1, "diagnostics of err.ebm")
  if diags[1] then
    local d = diags[1]
    eq({ d.lnum, d.col, d.end_lnum, d.end_col }, { 4, 12, 4, 13 }, "range of the error")
    eq(d.severity, vim.diagnostic.severity.ERROR, "severity")
    eq(d.code, "E0202", "code")
    check(d.message:find("expected shapes that `@` can multiply", 1, true) ~= nil, "message: " .. d.message)
    check(d.message:find("help: the matrix has 4 columns", 1, true) ~= nil, "help in the message")
  end
  -- The clean file: none.
  eq(#vim.diagnostic.get(ok_buf), 0, "diagnostics of ok.ebm")

  local function request(method, buf, line, character)
    local params = {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      position = { line = line, character = character },
    }
    local answers = vim.lsp.buf_request_sync(buf, method, params, 10000)
    local a = answers and answers[client]
    check(a ~= nil and a.err == nil, method .. " answered without error")
    return a and a.result
  end

  -- Hover on the use of `W` in `W @ x` (line 5, column 15): its declaration's type.
  local h = request("textDocument/hover", ok_buf, 4, 15)
  eq(h and h.contents and h.contents.value, "```ebm\nparam W : real[3, 4]\n```", "hover on W")
  -- Hover on `@`: the product's shape.
  h = request("textDocument/hover", ok_buf, 4, 17)
  eq(h and h.contents and h.contents.value, "```ebm\nW @ x : real[3]\n```", "hover on @")

  -- Definition of `scores` used in the energy: its `let`.
  local def = request("textDocument/definition", ok_buf, 5, 10)
  if def and def[1] then
    def = def[1] -- a list of locations is an answer too
  end
  eq(def and def.uri, ok_uri, "definition uri")
  eq(def and def.range, { start = { line = 4, character = 6 }, ["end"] = { line = 4, character = 12 } }, "definition range")

  vim.lsp.stop_client(client)
end

local ok, err = pcall(main)
if not ok then
  fail("error: " .. tostring(err))
end
if failures > 0 then
  io.stderr:write(failures .. " check(s) failed\n")
  vim.cmd("cquit 1")
else
  io.stdout:write("nvim LSP test: all checks passed\n")
  vim.cmd("qall!")
end
