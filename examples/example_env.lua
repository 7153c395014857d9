-- Where the examples upload to.
-- With COS_SECRETID, COS_SECRETKEY, COS_BUCKET and COS_REGION set: real COS over HTTPS.
-- Otherwise: a local cosd on a free loopback port with a temporary data directory (the public
-- kit `require "cos.cosd"`; COSD_BIN, else build/bin/cosd in this checkout, else cosd from PATH),
-- stopped by env.stop(). Nothing here needs the repository's spec/ helpers: copied elsewhere
-- with lua-cos installed, the examples run as they are.
--
--   local env = dofile(<examples dir> .. "/example_env.lua")   -- or require "example_env"
--   local cos = env.COS.new(env.options { ProgressInterval = 100 })
--   ... env.Bucket, env.Region ...
--   env.stop()
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
local root = here .. "/.."
-- Appended, so that LUA_PATH / LUA_CPATH (as `make demo` sets them) win.
package.path = table.concat({ package.path, root .. "/lua/?.lua", root .. "/lua/?/init.lua" }, ";")
package.cpath = package.cpath .. ";" .. root .. "/build/lua/?.so"

local COS = require "cos"

local env = { COS = COS, root = root }

local sid, skey = os.getenv("COS_SECRETID"), os.getenv("COS_SECRETKEY")
local bucket, region = os.getenv("COS_BUCKET"), os.getenv("COS_REGION")

if sid and skey and bucket and region and sid ~= "" and skey ~= "" then
  env.remote = true
  env.Bucket, env.Region = bucket, region
  env.where = ("COS %s (%s), https"):format(bucket, region)
  function env.options(extra)
    local o = { SecretId = sid, SecretKey = skey }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end
  function env.stop() end
else
  local cosd = require "cos.cosd"
  local bin = os.getenv("COSD_BIN")
  if not bin then
    local f = io.open(root .. "/build/bin/cosd")
    if f then f:close(); bin = root .. "/build/bin/cosd" end
  end
  local srv = cosd.start { bin = bin }
  env.cosd, env.server = cosd, srv
  env.Bucket, env.Region = srv.Bucket, srv.Region
  env.where = ("local cosd at %s (data in %s)"):format(srv.endpoint, srv.data)
  function env.options(extra) return srv:options(extra) end
  function env.stop() srv:stop() end
end
local tmpdirs = {}
do -- temporary files go too
  local stop = env.stop
  function env.stop()
    stop()
    for _, d in ipairs(tmpdirs) do os.execute("rm -rf '" .. d .. "'") end
    tmpdirs = {}
  end
end

-- Stops cosd even when the script dies of an error (lua closes its state on the way out).
env._sentinel = setmetatable({}, { __gc = function() env.stop() end })

-- console.log(err || data) of the samples; remembers that something failed, so that env.exit()
-- ends the script with a non-zero status.
env.failed = false
function env.log(err, data)
  if err then env.failed = true end
  env.show(err and "error:" or "data:", err or data)
end

-- Marks the run as failed (with a message) unless cond holds.
function env.expect(cond, msg)
  if not cond then
    env.failed = true
    io.stderr:write("FAILED: ", tostring(msg), "\n")
  end
  return cond
end

-- Ends the example: stops cosd, exits 0, or 1 when anything failed.
function env.exit()
  env.stop()
  os.exit(env.failed and 1 or 0, true)
end

-- JSON.stringify for the flat tables the callbacks get (progressData, ...).
function env.json(t)
  if type(t) ~= "table" then return type(t) == "string" and ("%q"):format(t) or tostring(t) end
  local keys, parts = {}, {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%q:%s"):format(k, env.json(t[k])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- A local file of `size` random bytes ("temp-file-to-upload" of the samples); removed by env.exit().
-- Preparation the samples leave out: `key` as a fresh appendable object holding "first\n".
function env.appendable(cos, key)
  cos:deleteObject { Bucket = env.Bucket, Region = env.Region, Key = key }
  local _, err = cos:appendObject { Bucket = env.Bucket, Region = env.Region, Key = key, Body = "first\n", Position = 0 }
  env.expect(not err, "preparing " .. key)
end

function env.temp_file(size, name)
  local dir = env.tmpdir()
  tmpdirs[#tmpdirs + 1] = dir
  local path = dir .. "/" .. (name or "temp-file-to-upload")
  os.execute(("head -c %d /dev/urandom > '%s'"):format(size, path))
  return path
end

-- Runs a shell command and returns its first output line (commands run outside Lua: md5sum, ...).
function env.sh(cmd)
  local p = assert(io.popen(cmd))
  local line = p:read("*l")
  p:close()
  return line
end

function env.tmpdir()
  return env.sh("mktemp -d /tmp/lua-cos-example.XXXXXX")
end

function env.md5(path)
  return (env.sh("md5sum '" .. path:gsub("'", "'\\''") .. "'") or ""):match("^(%x+)")
end

-- A readable dump of a result or error table (one level of nesting for headers).
function env.show(label, t)
  if type(t) ~= "table" then
    print(label, tostring(t))
    return
  end
  print(label)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      local parts = {}
      for hk, hv in pairs(v) do parts[#parts + 1] = tostring(hk) .. "=" .. tostring(hv) end
      table.sort(parts)
      v = "{ " .. table.concat(parts, ", ") .. " }"
    end
    print(("  %-12s %s"):format(k, tostring(v)))
  end
end

return env
