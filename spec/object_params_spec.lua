-- Every putObject header parameter of the reference reaches the server (HEAD returns what cosd
-- stores; the request log shows the rest), and the server-side errors come back through lua-cos
-- with COS's codes.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

describe("putObject parameters against cosd", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open() end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function put(key, extra)
    local p = { Bucket = BUCKET, Region = REGION, Key = key, Body = "hello params" }
    for k, v in pairs(extra or {}) do p[k] = v end
    return cos:putObject(p)
  end

  local function last_request(method, key)
    local found
    for _, e in ipairs(srv:request_log()) do
      if e.method == method and e.target:sub(1, #key + 1) == "/" .. key then found = e end
    end
    return assert(found, "no " .. method .. " of " .. key .. " in the request log")
  end

  it("stores the named header params and x-cos-meta-*, and HEAD returns them", function()
    local data, err = put("params/all.txt", {
      CacheControl = "max-age=60",
      ContentDisposition = 'attachment; filename="all.txt"',
      ContentEncoding = "identity",
      ContentType = "text/plain; charset=utf-8",
      Expires = "Wed, 21 Oct 2037 07:28:00 GMT",
      ACL = "public-read",
      GrantRead = 'id="100000000001"',
      GrantReadAcp = 'id="100000000002"',
      GrantWriteAcp = 'id="100000000003"',
      GrantFullControl = 'id="100000000004"',
      StorageClass = "STANDARD_IA",
      ["x-cos-meta-author"] = "lua-cos",
      Headers = { ["x-cos-meta-extra"] = "from Headers" },
    })
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    local head = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "params/all.txt" })
    local h = head.headers
    assert.are.equal("max-age=60", h["cache-control"])
    assert.are.equal('attachment; filename="all.txt"', h["content-disposition"])
    assert.are.equal("identity", h["content-encoding"])
    assert.are.equal("text/plain; charset=utf-8", h["content-type"])
    assert.are.equal("Wed, 21 Oct 2037 07:28:00 GMT", h["expires"])
    assert.are.equal("public-read", h["x-cos-acl"])
    assert.are.equal('id="100000000001"', h["x-cos-grant-read"])
    assert.are.equal('id="100000000002"', h["x-cos-grant-read-acp"])
    assert.are.equal('id="100000000003"', h["x-cos-grant-write-acp"])
    assert.are.equal('id="100000000004"', h["x-cos-grant-full-control"])
    assert.are.equal("STANDARD_IA", h["x-cos-storage-class"])
    assert.are.equal("lua-cos", h["x-cos-meta-author"])
    assert.are.equal("from Headers", h["x-cos-meta-extra"])
    assert.are.equal(data.ETag, head.ETag)
  end)

  it("makes a public-read object readable without a signature (ACL took effect)", function()
    assert(put("params/public.txt", { ACL = "public-read" }))
    put("params/private.txt")
    local function anon_status(key)
      local url = cos:getObjectUrl { Bucket = BUCKET, Region = REGION, Key = key, Sign = false }
      local out = cosd.capture(("curl -s -o /dev/null -w '%%{http_code}' --connect-to ::%s %s"):format(
        srv.endpoint, cosd.sh_quote(url)))
      return tonumber(out)
    end
    assert.are.equal(200, anon_status("params/public.txt"))
    assert.are.equal(403, anon_status("params/private.txt"))
  end)

  it("sends ContentLength, Expect and x-cos-traffic-limit as given", function()
    local body = string.rep("x", 1000)
    assert(put("params/wire.txt", { Body = body, ContentLength = #body, Expect = "100-continue",
      TrafficLimit = 819200 }))
    local e = last_request("PUT", "params/wire.txt")
    assert.are.equal("1000", e.header["content-length"])
    assert.are.equal("100-continue", e.header["expect"])
    assert.are.equal("819200", e.header["x-cos-traffic-limit"])
    assert.are.equal(1000, e.body_length)
  end)

  it("checks ContentMD5: the right digest is accepted, a wrong one is BadDigest, a malformed one InvalidDigest",
    function()
      local body = "hello params"
      local hex = files.md5_string(body)
      local b64 = cosd.capture("printf %s " .. hex .. " | xxd -r -p | base64"):gsub("%s", "")
      local data, err = put("params/md5.txt", { Body = body, ContentMD5 = b64 })
      assert.is_nil(err)
      assert.are.equal('"' .. hex .. '"', data.ETag)
      assert.are.equal(b64, last_request("PUT", "params/md5.txt").header["content-md5"])

      local other = cosd.capture("printf %s " .. files.md5_string("other") .. " | xxd -r -p | base64"):gsub("%s", "")
      data, err = put("params/md5-bad.txt", { Body = body, ContentMD5 = other })
      assert.is_nil(data)
      assert.are.equal("BadDigest", err.code)
      assert.are.equal(400, err.statusCode)
      assert.truthy(err.RequestId)

      data, err = put("params/md5-bad.txt", { Body = body, ContentMD5 = "not base64!" })
      assert.is_nil(data)
      assert.are.equal("InvalidDigest", err.code)
      assert.are.equal(400, err.statusCode)
      local head = cos:headObject { Bucket = BUCKET, Region = REGION, Key = "params/md5-bad.txt" }
      assert.is_nil(head) -- nothing was stored by either refused PUT
    end)

  it("computes Content-MD5 itself with UploadCheckContentMd5", function()
    local c2 = COS.new(srv:client_options { UploadCheckContentMd5 = true })
    local body = "checked body"
    assert(c2:putObject { Bucket = BUCKET, Region = REGION, Key = "params/auto-md5.txt", Body = body })
    local sent = last_request("PUT", "params/auto-md5.txt").header["content-md5"]
    local want = cosd.capture("printf %s " .. files.md5_string(body) .. " | xxd -r -p | base64"):gsub("%s", "")
    assert.are.equal(want, sent)
    c2:close()
  end)
end)

describe("object errors through lua-cos", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open({ RetryTimes = 0 }) end)
  teardown(function() cosd.close(srv, cos, dir) end)

  it("getObject of a missing key is NoSuchKey with status 404 and a RequestId", function()
    local data, err = cos:getObject { Bucket = BUCKET, Region = REGION, Key = "missing/key.txt" }
    assert.is_nil(data)
    assert.are.equal("NoSuchKey", err.code)
    assert.are.equal(404, err.statusCode)
    assert.truthy(err.RequestId)
    assert.truthy(err.message and #err.message > 0)
  end)

  it("appendObject on a normal object is ObjectNotAppendable (409)", function()
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "normal.txt", Body = "abc" })
    local data, err = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "normal.txt", Body = "d",
      Position = 3 }
    assert.is_nil(data)
    assert.are.equal("ObjectNotAppendable", err.code)
    assert.are.equal(409, err.statusCode)
  end)

  it("getObject with Range gives 206 and the bytes of the range; headObject honours IfModifiedSince", function()
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "range.txt", Body = "[Object Content]" })
    local data = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "range.txt", Range = "bytes=8-14" })
    assert.are.equal(206, data.statusCode)
    assert.are.equal("Content", data.Body)
    assert.are.equal("16749565679157681890", data.headers["x-cos-hash-crc64ecma"])
    local head = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "range.txt",
      IfModifiedSince = "Wed, 21 Oct 2037 07:28:00 GMT" })
    assert.are.equal(304, head.statusCode)
    assert.is_true(head.NotModified)
    head = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "range.txt",
      IfModifiedSince = "Thu, 01 Jan 1970 00:00:01 GMT" })
    assert.are.equal(200, head.statusCode)
    assert.is_nil(head.NotModified)
    local _, err = cos:getObject { Bucket = BUCKET, Region = REGION, Key = "range.txt",
      IfUnmodifiedSince = "Thu, 01 Jan 1970 00:00:01 GMT" }
    assert.are.equal("PreconditionFailed", err.code)
    assert.are.equal(412, err.statusCode)
  end)
end)
