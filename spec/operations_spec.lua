-- The operations a client offers are the C core's index and nothing else: core.operations is what
-- cos_operation_name lists (read by a C program linked against libcos.a of the build under test),
-- every name is a method that reaches that operation of the core, and the Lua layer keeps no list
-- of its own (loaded over a core that lists one more operation, it offers one more method).
local cosd = require "support.cosd"

local q = cosd.sh_quote
local root = cosd.capture("pwd"):match("[^\n]+")
local build = os.getenv("COS_BUILD") or (root .. "/build")
local san = build:match("asan$") and " -fsanitize=address,undefined" or ""

-- The names a C program gets from cos_operation_name(0, 1, ...), in order.
local function c_operation_names(dir)
  local exe = dir .. "/operation_names"
  local out, ok = cosd.capture("cd " .. q(root) .. " && cc -std=c11 -Wall -Wextra -Werror" .. san ..
    " -Icsrc/include spec/c/operation_names.c " .. q(build .. "/lib/libcos.a") ..
    " -lcurl -lxml2 -ljansson -lssl -lcrypto -lm -o " .. q(exe) .. " 2>&1")
  assert(ok, out)
  out, ok = cosd.capture(q(exe))
  assert(ok, out)
  local names = {}
  for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
  return names
end

-- The file `require "cos"` loads (package.searchpath is 5.2+).
local function cos_init_path()
  for template in package.path:gmatch("[^;]+") do
    local path = template:gsub("%?", "cos")
    local f = io.open(path)
    if f then
      f:close()
      return path
    end
  end
end

-- A fresh copy of the Lua layer loaded over `core` instead of the real cos.core.
local function load_cos_over(core)
  local real = package.loaded["cos.core"]
  package.loaded["cos.core"] = core
  local ok, mod = pcall(dofile, assert(cos_init_path(), "lua/cos/init.lua not on package.path"))
  package.loaded["cos.core"] = real
  assert(ok, mod)
  return mod
end

-- The real core with another list of operations.
local function core_listing(names)
  return setmetatable({ operations = names }, { __index = require "cos.core" })
end

describe("the operations of a client", function()
  local srv, cos, dir
  local core = require "cos.core"
  local COS = require "cos"

  setup(function() srv, cos, dir = cosd.open() end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("core.operations is the list cos_operation_name gives a C program, in its order", function()
    local names = c_operation_names(dir)
    assert.is_true(#names > 0)
    assert.are.equal(#names, #core.operations)
    assert.are.same(names, core.operations)
  end)

  it("every operation of the core is a method that runs that operation", function()
    for _, op in ipairs(core.operations) do
      assert.are.equal("function", type(COS[op]), op)
      -- no Bucket: the core's validation answers, so the name reached an operation it knows
      local data, err = cos[op](cos, {})
      assert.is_nil(data, op)
      assert.are.equal("table", type(err), op)
      assert.is_string(err.message, op)
      assert.is_nil(err.message:find("unsupported operation", 1, true), op .. ": " .. err.message)
    end
  end)

  it("an operation the core lists is a method with no change to the Lua layer", function()
    local names = {}
    for i, op in ipairs(core.operations) do names[i] = op end
    names[#names + 1] = "exampleOperation"
    local COS2 = load_cos_over(core_listing(names))
    assert.are.equal("function", type(COS2.exampleOperation))
    local c = COS2.new(srv:client_options())
    -- the method hands its name to the core, which (really) does not know it
    local data, err = c:exampleOperation({ Bucket = cosd.BUCKET, Region = cosd.REGION, Key = "k" })
    c:close()
    assert.is_nil(data)
    assert.are.equal("unsupported operation: exampleOperation", err.message)
  end)

  it("a name the core does not list is no method", function()
    local names = {}
    for _, op in ipairs(core.operations) do
      if op ~= "getBucket" then names[#names + 1] = op end
    end
    local COS2 = load_cos_over(core_listing(names))
    assert.is_nil(COS2.getBucket)
    assert.are.equal("function", type(COS2.putObject))
    assert.is_nil(COS.exampleOperation)
  end)
end)
