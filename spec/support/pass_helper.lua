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

-- luv is loaded once for the whole pass, before busted's per-file insulation: a luv module that a
-- spec file loaded is dropped when the file ends, and when the collector finally reaches it, it
-- closes libuv's default loop, under whichever later file is using luv then (a crash in
-- uv_timer_init, depending on the order of the files and the collector's timing).
pcall(require, "luv")
