-- docs/api.md's option table ("| option | default | meaning |") shows what the C option table
-- (csrc/core/base/options.c, OPTIONS[]) holds: the same options, and for every number and
-- boolean option the same default. Both files are parsed from source, so neither can drift.
local ROOT = os.getenv("COS_SRC") or "."

local function read(path)
  local f = assert(io.open(ROOT .. "/" .. path, "rb"), "cannot open " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

local MIB = 1024 * 1024

-- The rows of OPTIONS[]: { name = {kind = "INT", dflt = number} }, in order of appearance.
local function c_options(src)
  local body = assert(src:match("static const opt_def OPTIONS%[%] = (%b{})"), "OPTIONS[] not found in options.c")
  local out, n = {}, 0
  for name, kind, dflt in body:gmatch('{%s*"([%w_]+)"%s*,%s*OPT_(%u+)%s*,[^,]+,[^,]+,%s*([^}]-)%s*}') do
    local expr = dflt:gsub("MIB_D", tostring(MIB))
    assert(expr:match("^[%d%.eE%+%-%*%s%(%)/]+$"), "unexpected default expression for " .. name .. ": " .. dflt)
    out[name] = { kind = kind, dflt = assert((loadstring or load)("return " .. expr))() }
    n = n + 1
  end
  return out, n
end

-- The option table of docs/api.md: { name = default cell }, and the prose before it.
local function doc_options(md)
  local out, n = {}, 0
  local start = assert(md:find("| option | default | meaning |", 1, true), "option table not found in docs/api.md")
  local prose = md:sub(1, start)
  for line in md:sub(start):gmatch("[^\n]+") do
    if not line:match("^|") then break end
    local names, dflt = line:match("^|%s*(.-)%s*|%s*(.-)%s*|")
    if names and names ~= "option" and not names:match("^%-") then
      -- "`SecretId`, `SecretKey`", "`SecurityToken` (alias `XCosSecurityToken`)", "`CheckpointDir` (or `ConfCwd`)"
      for name in names:gmatch("`([%w_]+)`") do
        assert(not out[name], "option " .. name .. " listed twice in docs/api.md")
        out[name] = dflt
        n = n + 1
      end
    end
  end
  return out, n, prose
end

-- A default cell as a number ("`3`", "8 MiB", "`0` (none)") or a boolean ("`true`"); nil if neither.
local function doc_value(cell)
  local b = cell:match("^`(%a+)`")
  if b == "true" then return true elseif b == "false" then return false end
  local mib = cell:match("^`?(%d+)`? MiB")
  if mib then return tonumber(mib) * MIB end
  local num = cell:match("^`(%-?[%d%.]+)`")
  return num and tonumber(num) or nil
end

describe("docs/api.md's option table", function()
  local c, cn = c_options(read("csrc/core/base/options.c"))
  local doc, dn, prose = doc_options(read("docs/api.md"))

  it("is found, and so is the C table", function()
    assert.is_true(cn >= 30, "C options parsed: " .. cn)
    assert.is_true(dn >= 25, "documented options parsed: " .. dn)
  end)

  it("lists every option the C table has (options without effect: in the table or the prose)", function()
    local missing = {}
    for name, o in pairs(c) do
      local listed = doc[name] ~= nil or (o.kind == "IGNORED" and prose:find("`" .. name .. "`", 1, true))
      if not listed then missing[#missing + 1] = name end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("lists no option the C table lacks", function()
    local extra = {}
    for name in pairs(doc) do
      if not c[name] then extra[#extra + 1] = name end
    end
    table.sort(extra)
    assert.are.same({}, extra)
  end)

  it("shows the C table's default for every number and boolean option", function()
    local wrong = {}
    for name, o in pairs(c) do
      local cell = doc[name]
      if cell and (o.kind == "INT" or o.kind == "NUM" or o.kind == "BOOL") then
        local want = o.dflt
        if o.kind == "BOOL" then want = o.dflt ~= 0 end
        local got = doc_value(cell)
        if got ~= want then
          wrong[#wrong + 1] = ("%s: options.c %s, docs/api.md %q"):format(name, tostring(want), cell)
        end
      end
    end
    table.sort(wrong)
    assert.are.same({}, wrong)
  end)

  it("the parsers see a difference", function()
    local c2 = c_options('static const opt_def OPTIONS[] = {\n    {"A", OPT_INT, 1, 10, 3},\n    ' ..
      '{"B", OPT_INT, MIB_D, 5120.0 * MIB_D, 8 * MIB_D},\n    {"C", OPT_BOOL, 0, 0, 1},\n};')
    assert.are.same({ kind = "INT", dflt = 3 }, c2.A)
    assert.are.equal(8 * MIB, c2.B.dflt)
    assert.are.equal(1, c2.C.dflt)
    local d2 = doc_options("| option | default | meaning |\n|---|---|---|\n| `A` | `4` | x |\n| `B`, `C` | 8 MiB | y |\n")
    assert.are.equal(4, doc_value(d2.A))
    assert.are.equal(8 * MIB, doc_value(d2.C))
    assert.are.equal(false, doc_value("`false`"))
    assert.is_nil(doc_value("none"))
  end)
end)
