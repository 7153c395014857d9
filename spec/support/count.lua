-- Reads busted's JSON output, prints failures, errors and skipped (pending) specs to stderr, and
-- prints "PASSED FAILED RETRY SKIPPED".
-- Sanitizer reports found in the given directory count as failures too. RETRY is 1 when the only
-- failures are LeakSanitizer's tracer crashing at exit (the tool's own intermittent fault: its leak
-- check did not run), so that the runner can run the pass again; anything else gives 0.
local json = require "dkjson"
local results_path, san_dir = arg[1], arg[2]
local f = io.open(results_path, "rb")
local text = f and f:read("*a") or ""
if f then f:close() end
local start = text:find("{", 1, true)
local doc = start and json.decode(text:sub(start)) or nil
if not doc then
  io.stderr:write("could not read busted output " .. results_path .. "\n" .. text:sub(1, 2000) .. "\n")
  print("0 1 0 0")
  return
end
local passed = #(doc.successes or {})
local skipped = #(doc.pendings or {})
for _, t in ipairs(doc.pendings or {}) do io.stderr:write("SKIP: " .. tostring(t.name) .. "\n") end
local failed = 0
for _, kind in ipairs { "failures", "errors" } do
  for _, t in ipairs(doc[kind] or {}) do
    failed = failed + 1
    local where = t.trace and (t.trace.short_src or "") .. ":" .. tostring(t.trace.currentline or "") or ""
    io.stderr:write(("%s: %s %s\n  %s\n"):format(kind == "errors" and "ERROR" or "FAIL", t.name or "?", where,
      tostring(t.message):gsub("\n", "\n  ")))
  end
end
-- True when a sanitizer log is only LeakSanitizer's tracer crash: no leak, memory or UB report in it.
local function tracer_crash_only(text)
  return text:find("Tracer caught signal", 1, true) and text:find("LeakSanitizer has encountered a fatal error", 1, true)
    and not text:find("ERROR: AddressSanitizer", 1, true) and not text:find("detected memory leaks", 1, true)
    and not text:find("runtime error", 1, true)
end

local spec_failures, tracer_only = failed, true
if san_dir then
  local p = io.popen("ls " .. san_dir .. " 2>/dev/null")
  for name in p:lines() do
    failed = failed + 1
    io.stderr:write("SANITIZER REPORT " .. san_dir .. "/" .. name .. ":\n")
    local r = io.open(san_dir .. "/" .. name)
    local text = r and r:read("*a") or ""
    if r then r:close() end
    io.stderr:write(text:sub(1, 4000) .. "\n")
    if not tracer_crash_only(text) then tracer_only = false end
  end
  p:close()
end
local retry = (failed > 0 and spec_failures == 0 and tracer_only) and 1 or 0
print(passed .. " " .. failed .. " " .. retry .. " " .. skipped)
