-- The application the nginx specs run inside nginx (see nginx_spec.lua for the locations).
-- One lua-cos client per worker, created in init_worker and shared by every request, the way an
-- OpenResty application would. Answers are "name=value" words on one line, easy to match.
-- A shared dict (lua_shared_dict cos_spec) counts pings and the uploads in progress, so an
-- upload can tell how many pings the worker answered while it was waiting for it.
local COS = require "cos"

local M = {}
local cfg, cos

-- conf_path: a Lua file returning { options = client options, Bucket = ..., Region = ... }.
function M.init_worker(conf_path)
  cfg = dofile(conf_path)
  cos = COS.new(cfg.options)
end

local function dict() return ngx.shared.cos_spec end

function M.ping()
  dict():incr("pings", 1, 0)
  ngx.say("pong uploading=", dict():get("active") or 0)
end

-- A synchronous sliceUploadFile of ?file as ?key through the shared client.
local function upload(key, file)
  local d = dict()
  local active = d:incr("active", 1, 0)
  if active > (d:get("max_active") or 0) then d:set("max_active", active) end
  local pings_before = d:get("pings") or 0
  local data, err = cos:sliceUploadFile { Bucket = cfg.Bucket, Region = cfg.Region, Key = key, FilePath = file,
    ChunkSize = 8 * 1024 * 1024, AsyncLimit = 4 }
  local pings = (d:get("pings") or 0) - pings_before
  d:incr("active", -1, 0)
  if not data then return ("error key=%s err=%s"):format(key, tostring(err)) end
  return ("ok key=%s etag=%s pings=%d max_active=%d"):format(data.Key, data.ETag, pings, d:get("max_active") or 0)
end

function M.upload()
  local args = ngx.req.get_uri_args()
  ngx.say(upload(args.key, args.file))
end

-- Starts the upload from a timer and answers at once; /result?key= tells the outcome later.
function M.timer_upload()
  local args = ngx.req.get_uri_args()
  local key, file = args.key, args.file
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local ok, res = pcall(upload, key, file)
    dict():set("result:" .. key, ok and res or ("raised " .. tostring(res)))
  end)
  ngx.say(ok and "scheduled" or ("timer failed: " .. tostring(err)))
end

function M.result()
  ngx.say(dict():get("result:" .. ngx.req.get_uri_args().key) or "pending")
end

-- A synchronous call in a phase that cannot yield: returns the error it raised (or "no error").
function M.sync_call_error(key)
  local ok, err = pcall(cos.putObject, cos, { Bucket = cfg.Bucket, Region = cfg.Region, Key = key, Body = "x" })
  return ok and "no error" or tostring(err)
end

return M
