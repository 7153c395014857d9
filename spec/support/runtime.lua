-- What the interpreter running the specs supports, and a visible skip for specs that only make
-- sense on some versions. In a spec file: `local it_if = rt.it_if(it, pending)` (busted's own
-- functions live in the spec file's environment); then it_if(cond, why, name, fn) is `it` where
-- cond holds, and elsewhere a pending test named after the spec and the reason, which
-- spec/run.sh lists as SKIP in the pass's summary.
local M = {}

M.jit = rawget(_G, "jit")
M.version = tonumber(_VERSION:match("(%d+%.%d+)"))
M.name = _VERSION .. (M.jit and (" / " .. M.jit.version) or "")
M.has_close = M.version >= 5.4            -- `<close>` variables and __close
M.has_integers = M.version >= 5.3         -- a separate integer subtype
M.load = rawget(_G, "loadstring") or load -- a chunk from a string (5.1's load takes a function)

function M.it_if(it, pending)
  return function(cond, why, name, fn)
    if cond then return it(name, fn) end
    return pending(name .. " [skipped on " .. M.name .. ": " .. why .. "]")
  end
end

return M
