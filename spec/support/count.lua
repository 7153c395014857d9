-- Reads busted's JSON output, prints failures and errors to stderr, and prints "PASSED FAILED".
-- Sanitizer reports found in the given directory count as failures too.
local json = require "dkjson"
local results_path, san_dir = arg[1], arg[2]
local f = io.open(results_path, "rb")
local text = f and f:read("*a") or ""
if f then f:close() end
local start = text:find("{", 1, true)
local doc = start and json.decode(text:sub(start)) or nil
if not doc then
  io.stderr:write("could not read busted output " .. results_path .. "\n" .. text:sub(1, 2000) .. "\n")
  print("0 1")
  return
end
local passed = #(doc.successes or {})
local failed = 0
for _, kind in ipairs { "failures", "errors" } do
  for _, t in ipairs(doc[kind] or {}) do
    failed = failed + 1
    local where = t.trace and (t.trace.short_src or "") .. ":" .. tostring(t.trace.currentline or "") or ""
    io.stderr:write(("%s: %s %s\n  %s\n"):format(kind == "errors" and "ERROR" or "FAIL", t.name or "?", where,
      tostring(t.message):gsub("\n", "\n  ")))
  end
end
if san_dir then
  local p = io.popen("ls " .. san_dir .. " 2>/dev/null")
  for name in p:lines() do
    failed = failed + 1
    io.stderr:write("SANITIZER REPORT " .. san_dir .. "/" .. name .. ":\n")
    local r = io.open(san_dir .. "/" .. name)
    if r then io.stderr:write(r:read("*a"):sub(1, 4000) .. "\n"); r:close() end
  end
  p:close()
end
print(passed .. " " .. failed)
