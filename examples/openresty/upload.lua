-- The handler of examples/openresty/nginx.conf: one lua-cos client per nginx worker, created in
-- init_worker and shared by all requests. Synchronous calls made from a content handler or a timer
-- yield to nginx between engine steps, so the worker serves other requests during an upload.
local COS = require "cos"

local M = {}
local cos, Bucket, Region

function M.init_worker()
  local endpoint = os.getenv("COS_ENDPOINT")
  Bucket, Region = os.getenv("COS_BUCKET"), os.getenv("COS_REGION")
  local options = { SecretId = os.getenv("COS_SECRETID"), SecretKey = os.getenv("COS_SECRETKEY") }
  if endpoint and endpoint ~= "" then -- a local cosd: plain HTTP to its address
    options.Protocol, options.Ip = "http:", endpoint
  end
  cos = COS.new(options)
end

local function reply(status, text)
  ngx.status = status
  ngx.say(text)
end

function M.upload()
  if ngx.req.get_method() ~= "PUT" then return reply(405, "use PUT") end
  local key = ngx.var.uri:match("^/upload/(.+)$")
  if not key then return reply(400, "usage: PUT /upload/<key>") end
  ngx.req.read_body()
  local path = ngx.req.get_body_file()
  if not path then return reply(400, "empty body") end
  local data, err = cos:sliceUploadFile { Bucket = Bucket, Region = Region, Key = key, FilePath = path }
  if not data then return reply(502, "upload failed: " .. tostring(err)) end
  reply(200, ("stored %s ETag %s"):format(data.Key, data.ETag))
end

function M.upload_later()
  local key = ngx.var.uri:match("^/upload%-later/(.+)$")
  local path = ngx.req.get_uri_args().path
  if not key or type(path) ~= "string" then return reply(400, "usage: POST /upload-later/<key>?path=<file>") end
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local data, uerr = cos:sliceUploadFile { Bucket = Bucket, Region = Region, Key = key, FilePath = path }
    if data then ngx.log(ngx.NOTICE, "stored ", data.Key, " ETag ", data.ETag)
    else ngx.log(ngx.ERR, "upload of ", key, " failed: ", tostring(uerr)) end
  end)
  if not ok then return reply(500, "cannot start a timer: " .. tostring(err)) end
  reply(202, "uploading " .. path .. " as " .. key .. " (see logs/error.log)")
end

return M
