-- Test files and checksums for specs: real files on disk, hashed by md5sum (never in Lua).
local cosd = require "support.cosd"

local M = {}

-- Creates `path` with `size` random bytes (head -c from /dev/urandom).
function M.random_file(path, size)
  assert(cosd.exec(("head -c %d /dev/urandom > %s"):format(size, cosd.sh_quote(path))))
  return path
end

-- A fresh temporary directory (mktemp runs without the sanitizer preload of the asan pass).
function M.tmpdir() return cosd.tmpdir("lua-cos-spec") end

function M.md5_file(path)
  local out = cosd.capture("md5sum " .. cosd.sh_quote(path))
  return out:match("^(%x+)")
end

function M.md5_string(s)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(s)
  f:close()
  local h = M.md5_file(tmp)
  os.remove(tmp)
  return h
end

function M.size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

-- Every string in a (nested) table, concatenated: to check that no secret hides anywhere.
function M.flatten(v, seen, out)
  seen, out = seen or {}, out or {}
  if type(v) == "table" then
    if seen[v] then return out end
    seen[v] = true
    for k, x in pairs(v) do
      M.flatten(k, seen, out)
      M.flatten(x, seen, out)
    end
  else
    out[#out + 1] = tostring(v)
  end
  return out
end

function M.contains_anywhere(v, needle)
  return table.concat(M.flatten(v), "\n"):find(needle, 1, true) ~= nil
end

return M
