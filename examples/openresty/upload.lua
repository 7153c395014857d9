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

-- PUT /proxy/<key>: the request body streams into COS while it arrives (sliceUploadFile with a
-- reader over ngx.req.socket()), never written to disk. The reader runs inside cos:poll, where it
-- cannot yield, so this handler reads the socket between engine steps into a small queue, and the
-- reader hands the queue out (false when it is empty: "nothing yet"). Memory: at most QUEUE_MAX
-- bytes here plus the engine's part buffers, whatever the body's size.
local QUEUE_MAX = 1024 * 1024
local READ_MAX = 65536

function M.proxy()
  if ngx.req.get_method() ~= "PUT" and ngx.req.get_method() ~= "POST" then return reply(405, "use PUT or POST") end
  local key = ngx.var.uri:match("^/proxy/(.+)$")
  if not key then return reply(400, "usage: PUT /proxy/<key>") end
  local len = tonumber(ngx.var.http_content_length)
  if not len then return reply(411, "Content-Length required") end
  local sock, serr = ngx.req.socket()
  if not sock then return reply(400, "cannot read the body: " .. tostring(serr)) end
  sock:settimeout(1) -- a read that waits longer than 1 ms lets the engine take a step
  local queue, first, last, queued, left, gone = {}, 1, 0, 0, len, false
  local result
  cos:sliceUploadFile({
    Bucket = Bucket, Region = Region, Key = key,
    ContentLength = len, -- checked: a client that goes away mid-body fails the upload (aborted)
    Body = function()
      local chunk = queue[first]
      if chunk then
        queue[first], first, queued = nil, first + 1, queued - #chunk
        return chunk
      end
      if left == 0 or gone then return nil end
      return false -- nothing yet: asked again after the next read
    end,
  }, function(err, data) result = { err = err, data = data } end)
  while not result do
    if left > 0 and not gone and queued < QUEUE_MAX then
      local data, err = sock:receiveany(math.min(left, READ_MAX))
      if data then
        last, queued, left = last + 1, queued + #data, left - #data
        queue[last] = data
      elseif err ~= "timeout" then
        gone = true
      end
    else
      ngx.sleep(0.001)
    end
    cos:poll(0)
  end
  if result.err then return reply(502, "upload failed: " .. tostring(result.err.code) .. " " .. tostring(result.err.message)) end
  reply(200, ("stored %s ETag %s"):format(result.data.Key, result.data.ETag))
end

return M
