-- Loaded by busted (--helper) before the specs of a pass: records which interpreter the specs
-- really run under ($COS_BUILD/interpreter.txt), which spec/run.sh prints in the pass's summary.
local jit = rawget(_G, "jit")
local name = _VERSION .. (jit and (" / " .. jit.version) or "")
local build = os.getenv("COS_BUILD")
if build then
  local f = io.open(build .. "/interpreter.txt", "w")
  if f then
    f:write(name)
    f:close()
  end
end
