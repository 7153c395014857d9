-- Every examples/*.lua runs as its own process of this pass's interpreter (cosd.LUA) against a cosd of its own (example_env.lua
-- starts one: the COS_* credentials are removed from the environment, so nothing here reaches
-- real COS) and must exit with status 0. A new example is picked up without touching this file.
-- demo.lua runs too, with a 2 MiB upload (COS_DEMO_MIB).
local cosd = require "support.cosd"

local q = cosd.sh_quote or function(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local root = cosd.capture("pwd"):match("[^\n]+")
local spec_dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$"))
if spec_dir then
  root = cosd.capture("cd " .. q(spec_dir) .. "/.. && pwd"):match("[^\n]+")
end

local function abs(p)
  if p:sub(1, 1) == "/" then return p end
  return root .. "/" .. p
end

-- The example processes load the same module as this spec run (package.path / cpath), the same
-- cosd, and, in the sanitizer pass, the same sanitizer runtimes (support.cosd strips LD_PRELOAD
-- from the commands it runs, so it is put back for the interpreter only). The examples' own helper
-- commands (mktemp, date, head, ...) inherit that preload, and LeakSanitizer reports their
-- deliberate exit-time leaks, so leak detection is off in these processes; ASan/UBSan errors
-- are still reported (the library's leaks are checked by every other spec).
local function run_example(file, extra_env)
  local envs = {
    "env -u COS_SECRETID -u COS_SECRETKEY -u COS_BUCKET -u COS_REGION",
    "LUA_PATH=" .. q(package.path), "LUA_CPATH=" .. q(package.cpath),
    "COSD_BIN=" .. q(abs(cosd.bin)), "COS_TOOLS=" .. q(abs(cosd.tools)),
  }
  local preload = os.getenv("COS_SAN_PRELOAD")
  if preload and preload ~= "" then
    envs[#envs + 1] = "LD_PRELOAD=" .. q(preload)
    envs[#envs + 1] = "ASAN_OPTIONS=" .. q((os.getenv("ASAN_OPTIONS") or "") .. ":detect_leaks=0")
  end
  for k, v in pairs(extra_env or {}) do envs[#envs + 1] = k .. "=" .. q(v) end
  local cmd = "cd " .. q(root) .. " && " .. table.concat(envs, " ") .. " timeout 120 " .. cosd.LUA .. " " .. q(file) .. " 2>&1"
  return cosd.capture(cmd)
end

local examples = {}
for f in cosd.capture("ls " .. q(root .. "/examples") .. "/*.lua"):gmatch("[^\n]+") do
  local name = f:match("([^/]+)%.lua$")
  if name ~= "example_env" then examples[#examples + 1] = { file = f, name = name } end
end
table.sort(examples, function(a, b) return a.name < b.name end)

describe("examples/", function()
  it("has one script per sample of the reference, found on disk", function()
    assert.is_true(#examples >= 20, "only " .. #examples .. " examples found")
  end)

  for _, ex in ipairs(examples) do
    it(ex.name .. ".lua runs against cosd and exits 0", function()
      local extra = ex.name == "demo" and { COS_DEMO_MIB = "2" } or nil
      local out, ok = run_example(ex.file, extra)
      assert(ok, ex.name .. ".lua failed:\n" .. out)
      assert.falsy(out:find("FAILED:", 1, true), out)
    end)
  end
end)
