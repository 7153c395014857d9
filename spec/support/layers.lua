-- The file-level call graph of csrc/core, read from the compiled objects with nm, and the two
-- rules of its layering (docs/architecture.md): calls go to the same folder or a lower one, and
-- no circle joins files. `lua spec/support/layers.lua [build tree]` prints what breaks them.
local M = {}

-- Lower first; a file directly under csrc/core (client.c, poll.c, operations.c) is the root.
M.order = { base = 1, http = 2, task = 3, ops = 4, upload = 5, root = 6 }

function M.layer(file)
  return file:match("^([^/]+)/") or "root"
end

-- graph.calls[a][b] = one symbol of b that a uses (for the messages); graph.defines[a][symbol] =
-- nm's type letter of every global symbol a defines.
function M.from_edges(calls, defines)
  local g = { calls = calls, defines = defines or {}, files = 0, edges = 0 }
  for _, to in pairs(calls) do
    g.files = g.files + 1
    for _ in pairs(to) do g.edges = g.edges + 1 end
  end
  return g
end

-- The sanitizer pass preloads ASan into every child process: binutils and findutils are not
-- built for it (their own leaks would be reported), so they run without the preload.
local TOOL = "env -u LD_PRELOAD "

local function nm_lines(args)
  local p = assert(io.popen(TOOL .. "nm -A " .. args .. " 2>/dev/null"))
  local out = p:read("*a")
  p:close()
  return out
end

function M.graph(build)
  local dir = build .. "/obj/core/"
  local list = assert(io.popen(TOOL .. "find " .. dir .. " -name '*.o'"))
  local objs = {}
  for path in list:lines() do
    -- an object whose source moved or went away is stale: the build no longer links it
    local src = io.open("csrc/core/" .. path:sub(#dir + 1):gsub("%.o$", ".c"), "r")
    if src then
      src:close()
      objs[#objs + 1] = path
    end
  end
  list:close()
  table.sort(objs)
  local names = table.concat(objs, " ")
  local function file_of(path) return (path:sub(#dir + 1):gsub("%.o$", "")) end
  -- defines[file][symbol] = nm's type letter of each global symbol the file defines
  local defined, calls, defines = {}, {}, {}
  for _, o in ipairs(objs) do calls[file_of(o)], defines[file_of(o)] = {}, {} end
  if #objs == 0 then return M.from_edges(calls, defines) end
  for line in nm_lines("-g --defined-only " .. names):gmatch("[^\n]+") do
    local path, kind, sym = line:match("^(.-):%x* *(%u) (%S+)$")
    if path then
      defines[file_of(path)][sym] = kind
      if kind:match("[TDBRC]") then defined[sym] = file_of(path) end
    end
  end
  for line in nm_lines("-u " .. names):gmatch("[^\n]+") do
    local path, sym = line:match("^(.-): +U (%S+)$")
    local to = sym and defined[sym]
    if to and to ~= file_of(path) then calls[file_of(path)][to] = sym end
  end
  return M.from_edges(calls, defines)
end

-- "a (layer) calls sym of b (layer)" for every call to a higher layer, sorted.
function M.upward(g)
  local bad = {}
  for a, to in pairs(g.calls) do
    for b, sym in pairs(to) do
      local la, lb = M.layer(a), M.layer(b)
      if M.order[lb] > M.order[la] then
        bad[#bad + 1] = string.format("%s (%s) calls %s of %s (%s)", a, la, sym, b, lb)
      end
    end
  end
  table.sort(bad)
  return bad
end

-- Every strongly connected group of two or more files, as one circle "a -> b -> ... -> a"
-- (Tarjan's algorithm; files visited in sorted order so the output is stable).
function M.circles(g)
  local index, low, on, stack, n, out = {}, {}, {}, {}, 0, {}
  local function sorted(t)
    local k = {}
    for name in pairs(t) do k[#k + 1] = name end
    table.sort(k)
    return k
  end
  local function path_in(group, from)
    -- a circle through `from` inside the group, by a depth-first walk
    local seen, path = {}, {}
    local function walk(v)
      path[#path + 1] = v
      seen[v] = true
      for _, w in ipairs(sorted(g.calls[v] or {})) do
        if w == from and #path > 1 then return true end
        if group[w] and not seen[w] and walk(w) then return true end
      end
      path[#path] = nil
      return false
    end
    walk(from)
    path[#path + 1] = from
    return table.concat(path, " -> ")
  end
  local function connect(v)
    n = n + 1
    index[v], low[v] = n, n
    stack[#stack + 1], on[v] = v, true
    for _, w in ipairs(sorted(g.calls[v] or {})) do
      if not index[w] then
        connect(w)
        if low[w] < low[v] then low[v] = low[w] end
      elseif on[w] and index[w] < low[v] then
        low[v] = index[w]
      end
    end
    if low[v] == index[v] then
      local group, members = {}, {}
      repeat
        local w = table.remove(stack)
        on[w] = nil
        group[w] = true
        members[#members + 1] = w
      until w == v
      if #members > 1 then
        table.sort(members)
        out[#out + 1] = path_in(group, members[1])
      end
    end
  end
  for _, v in ipairs(sorted(g.calls)) do
    if not index[v] then connect(v) end
  end
  table.sort(out)
  return out
end

-- The prefix each file's exported functions carry (Lua's own rule: luaH_ is ltable.c): by default
-- cos_<file>_; these files use an abbreviation, and an operation's entry point is cos_op_<name>.
M.prefixes = {
  checkpoint = { "cos_cp_" }, errors = { "cos_error_" }, messages = { "cos_msg_" }, params = { "cos_param_" },
  request = { "cos_req_", "cos_resp_", "cos_result_" }, stream_source = { "cos_stream_" },
  bucket = { "cos_op_" }, object = { "cos_op_" }, multipart = { "cos_op_" }, post_object = { "cos_op_" },
  upload = { "cos_op_" }, upload_files = { "cos_op_" },
}

-- The public functions of cos.h (COS_API): they keep their names wherever they live.
function M.public_names(header)
  local names, text = {}, assert(io.open(header)):read("*a")
  for decl in text:gmatch("COS_API[^;]-;") do
    local name = decl:match("([%w_]+)%s*%(")
    if name then names[name] = true end
  end
  return names
end

-- "file: symbol" for every exported function of a core object whose prefix does not name its file.
function M.misnamed(g, public)
  local bad = {}
  for rel, syms in pairs(g.defines) do
    local file = rel:match("([^/]+)$")
    local allowed = M.prefixes[file] or { "cos_" .. file .. "_" }
    for sym, kind in pairs(syms) do
      local ok = kind ~= "T" or public[sym] or sym == "cos_" .. file
      for _, p in ipairs(allowed) do ok = ok or sym:sub(1, #p) == p end
      if not ok then bad[#bad + 1] = rel .. ": " .. sym end
    end
  end
  table.sort(bad)
  return bad
end

-- Headers whose .c file has another name: request_state.h is request.c's internal header.
M.header_owner = { ["http/request_state"] = "http/request" }

-- "header: function" for every function a csrc/core header declares that its own file does not
-- define (each header declares only its own file's functions).
function M.stray_declarations(g)
  local bad = {}
  local list = assert(io.popen(TOOL .. "find csrc/core -name '*.h'"))
  for h in list:lines() do
    local rel = h:sub(#"csrc/core/" + 1):gsub("%.h$", "")
    local defined = g.defines[M.header_owner[rel] or rel] or {}
    for line in assert(io.open(h)):lines() do
      local name = line:match("^[%a_][%w_%s%*]-[%s%*](cos_[%w_]+)%(")
      if name and not line:match("^%s*typedef") and not defined[name] then bad[#bad + 1] = rel .. ".h: " .. name end
    end
  end
  list:close()
  table.sort(bad)
  return bad
end

if arg and arg[0] and arg[0]:match("layers%.lua$") then
  local g = M.graph(arg[1] or "build")
  print(string.format("%d files, %d calls between them", g.files, g.edges))
  for _, s in ipairs(M.upward(g)) do print("upward: " .. s) end
  for _, s in ipairs(M.circles(g)) do print("circle: " .. s) end
  for _, s in ipairs(M.misnamed(g, M.public_names("csrc/include/cos.h"))) do print("misnamed: " .. s) end
  for _, s in ipairs(M.stray_declarations(g)) do print("declared elsewhere: " .. s) end
end
return M
