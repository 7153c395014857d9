-- postObject's multipart/form-data body is built with libcurl's MIME API (cos_req_body_mime):
-- the form must be well-formed for cosd's MHD post processor whatever the body source, carry its
-- authorisation in the fields (no Authorization header), stream files and be rebuilt on a retry.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local MiB = 1024 * 1024

local function post(cos, extra)
  local p = { Bucket = BUCKET, Region = REGION }
  for k, v in pairs(extra) do p[k] = v end
  return cos:postObject(p)
end

local function stored_md5(cos, key)
  local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = key })
  return files.md5_string(got.Body), #got.Body
end

-- The last POST in cosd's request log.
local function last_post(srv)
  local log = srv:request_log()
  for i = #log, 1, -1 do
    if log[i].method == "POST" then return log[i], log end
  end
end

describe("postObject form built with libcurl MIME", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open({ ProgressInterval = 10 }) end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("uploads a 5 MiB file from FilePath, with a multipart Content-Type and no Authorization header", function()
    local path = files.random_file(dir .. "/five.bin", 5 * MiB)
    local events = {}
    local data = assert(post(cos, { Key = "mime/five.bin", FilePath = path,
      onProgress = function(p) events[#events + 1] = p end }))
    assert.are.equal('"' .. files.md5_file(path) .. '"', data.ETag)
    local md5, n = stored_md5(cos, "mime/five.bin")
    assert.are.equal(files.md5_file(path), md5)
    assert.are.equal(5 * MiB, n)
    -- progress counts the file bytes, and ends at 100 %
    assert.are.equal(5 * MiB, events[#events].total)
    assert.are.equal(1, events[#events].percent)
    local e = last_post(srv)
    assert.truthy(e.header["content-type"]:match("^multipart/form%-data; boundary=.+"))
    assert.is_nil(e.header["authorization"])
    assert.is_true(tonumber(e.header["content-length"]) > 5 * MiB)
  end)

  it("uploads 5 MiB pulled from a Lua function in uneven chunks", function()
    local parts, sent, size = {}, 0, 5 * MiB
    local chunk = string.rep("0123456789abcdef", 4096 + 7) -- 65648 bytes: never aligned with libcurl's buffer
    local function body()
      if sent >= size then return nil end
      local c = chunk:sub(1, math.min(#chunk, size - sent))
      sent = sent + #c
      parts[#parts + 1] = c
      return c
    end
    local data = assert(post(cos, { Key = "mime/pulled.bin", ContentLength = size, Body = body }))
    local expect = files.md5_string(table.concat(parts))
    assert.are.equal('"' .. expect .. '"', data.ETag)
    local md5, n = stored_md5(cos, "mime/pulled.bin")
    assert.are.equal(expect, md5)
    assert.are.equal(size, n)
  end)

  it("keeps field values with CR/LF/quotes and binary bodies intact", function()
    local body = "\r\n--not-a-boundary\r\n\0\255" .. string.rep("x", 1000)
    assert(post(cos, { Key = "mime/odd \"name\".bin", Body = body, ["x-cos-meta-note"] = "a \"quoted\" value",
      FileName = "we\"ird.bin" }))
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "mime/odd \"name\".bin" })
    assert.are.equal(body, got.Body)
    assert.are.equal("a \"quoted\" value", got.headers["x-cos-meta-note"])
  end)

  it("rebuilds and re-signs the form when a 5xx is retried (file and memory bodies)", function()
    local s = cosd.start { faults = { "op=PostObject,nth=1,status=503", "op=PostObject,nth=3,status=500" } }
    local c = COS.new(s:client_options {})
    local path = files.random_file(dir .. "/retry.bin", 300 * 1024)
    local ok, err = pcall(function()
      local d1 = assert(post(c, { Key = "mime/retry.bin", FilePath = path }))
      assert.are.equal('"' .. files.md5_file(path) .. '"', d1.ETag)
      local d2 = assert(post(c, { Key = "mime/retry.txt", Body = "again" }))
      assert.are.equal('"' .. files.md5_string("again") .. '"', d2.ETag)
      local posts = 0
      for _, e in ipairs(s:request_log(4)) do
        if e.method == "POST" then
          posts = posts + 1
          if posts == 2 or posts == 4 then assert.are.equal("true", e.header["x-cos-sdk-retry"]) end
        end
      end
      assert.are.equal(4, posts)
    end)
    c:close()
    s:cleanup()
    assert(ok, err)
  end)
end)
