-- cosd behaving as COS where it used to be kinder or stricter: Content-Type from the key's extension,
-- a signature in one `sign` query parameter, the region in the Host, keys that resolve to the bucket
-- root, a second Complete of a finished upload.
local COS = require "cos"
local cosd = require "support.cosd"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

local function initiate(s, key, headers)
  local st, _, body = s:request { method = "POST", key = key, query = { { "uploads" } }, headers = headers }
  assert.are.equal(200, st, body)
  return body:match("<UploadId>(.-)</UploadId>")
end

local function complete(s, key, id, etag)
  local xml = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" .. etag ..
      "</ETag></Part></CompleteMultipartUpload>"
  return s:request { method = "POST", key = key, query = { { "uploadId", id } }, body = xml,
    headers = { ["Content-Type"] = "application/xml" } }
end

local function upload_one_part(s, key, headers)
  local id = initiate(s, key, headers)
  local st, h = s:request { method = "PUT", key = key, query = { { "partNumber", "1" }, { "uploadId", id } }, body = "part one" }
  assert.are.equal(200, st)
  return id, h.etag
end

describe("cosd Content-Type from the key's extension", function()
  local s
  setup(function() s = cosd.start() end)
  teardown(function() s:cleanup() end)

  local function ctype(key)
    local st, h = s:request { method = "HEAD", key = key }
    assert.are.equal(200, st, key)
    return h["content-type"]
  end

  it("derives it on PUT when the request has no Content-Type or an empty one", function()
    assert.are.equal(200, (s:request { method = "PUT", key = "2.zip", body = "zip" }))            -- none
    assert.are.equal("application/zip", ctype("2.zip"))
    assert.are.equal(200, (s:request { method = "PUT", key = "dir/Page.HTML", body = "<p>", extra_curl = "-H 'Content-Type;'" })) -- empty
    assert.are.equal("text/html", ctype("dir/Page.HTML"))
    assert.are.equal(200, (s:request { method = "PUT", key = "noext", body = "x" }))
    assert.are.equal("application/octet-stream", ctype("noext"))
    assert.are.equal(200, (s:request { method = "PUT", key = "a.unknownext", body = "x" }))
    assert.are.equal("application/octet-stream", ctype("a.unknownext"))
  end)

  it("keeps a Content-Type the request gives", function()
    assert.are.equal(200, (s:request { method = "PUT", key = "3.zip", body = "x", headers = { ["Content-Type"] = "text/x-mine" } }))
    assert.are.equal("text/x-mine", ctype("3.zip"))
  end)

  it("derives it at Initiate, so a multipart 1.txt initiated with an empty Content-Type ends as text/plain", function()
    local id, etag = upload_one_part(s, "mp/1.txt", { ["Content-Type"] = "" })
    local st = complete(s, "mp/1.txt", id, etag)
    assert.are.equal(200, st)
    assert.are.equal("text/plain", ctype("mp/1.txt"))
    local _, h = s:request { key = "mp/1.txt" }
    assert.are.equal("text/plain", h["content-type"])
  end)

  it("derives it when an append creates the object", function()
    local st = s:request { method = "POST", key = "log.json", query = { { "append" }, { "position", "0" } }, body = "{}" }
    assert.are.equal(200, st)
    assert.are.equal("application/json", ctype("log.json"))
  end)

  it("gives lua-cos uploads without ContentType the same type whichever side derives it", function()
    local cos = COS.new(s:client_options())
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "lua/report.pdf", Body = "%PDF" })
    assert.are.equal("application/pdf", ctype("lua/report.pdf"))
    cos:close()
  end)
end)

describe("cosd signature in one `sign` query parameter", function()
  local s
  setup(function()
    s = cosd.start()
    assert.are.equal(200, (s:request { method = "PUT", key = "2.zip", body = "signed zip" }))
  end)
  teardown(function() s:cleanup() end)

  it("accepts GET /2.zip?sign=<URL-encoded Authorization>, like the q-* form and the header", function()
    for _, form in ipairs({ "merged", "query", true }) do
      local st, _, body = s:request { key = "2.zip", sign = form }
      assert.are.equal(200, st, tostring(form))
      assert.are.equal("signed zip", body)
    end
    -- a signed extra parameter is covered too
    local st, h = s:request { key = "2.zip", sign = "merged", query = { { "response-content-type", "text/plain" } } }
    assert.are.equal(200, st)
    assert.are.equal("text/plain", h["content-type"])
  end)

  it("applies the same checks: bad signature, unknown SecretId, expired", function()
    local st, _, body = s:request { key = "2.zip", sign = "merged", key_secret = "wrongsecretwrongsecretwrongsecre" }
    assert.are.equal(403, st)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body))
    st, _, body = s:request { key = "2.zip", sign = "merged", id = "AKIDunknown000000000000000000000000" }
    assert.are.equal(403, st)
    assert.are.equal("InvalidAccessKeyId", cosd.err_code(body))
    local past = os.time() - 7200
    st, _, body = s:request { key = "2.zip", sign = "merged", key_time = past .. ";" .. (past + 60) }
    assert.are.equal(403, st)
    assert.are.equal("AccessDenied", cosd.err_code(body))
    assert.truthy(body:find("Request has expired", 1, true))
    -- a parameter added after signing is not covered
    st, _, body = s:request { key = "2.zip", sign = "merged", query = { { "response-content-type", "text/plain" } },
      tamper = function(a) return (a:gsub("q%-url%-param%-list=[^&]*", "q-url-param-list=")) end }
    assert.are.equal(403, st)
    assert.are.equal("SignatureDoesNotMatch", cosd.err_code(body))
  end)

  it("signs uploads that way too", function()
    local st = s:request { method = "PUT", key = "via-sign.txt", body = "up", sign = "merged" }
    assert.are.equal(200, st)
    local _, _, body = s:request { key = "via-sign.txt" }
    assert.are.equal("up", body)
  end)
end)

describe("cosd regions", function()
  it("answers a bucket only under its own region, with 404 NoSuchBucket elsewhere", function()
    local s = cosd.start()
    assert.are.equal(200, (s:request { method = "PUT", key = "r.txt", body = "in guangzhou" }))
    local st, _, body = s:request { key = "r.txt", region = "ap-beijing" }
    assert.are.equal(404, st)
    assert.are.equal("NoSuchBucket", cosd.err_code(body))
    assert.truthy(body:find("<Resource>" .. BUCKET .. ".cos.ap-beijing.myqcloud.com/r.txt</Resource>", 1, true))
    st = s:request { method = "PUT", key = "r2.txt", body = "x", region = "ap-beijing" }
    assert.are.equal(404, st)
    assert.are.equal(404, (s:request { key = "r2.txt" })) -- nothing was stored
    -- the lua-cos client with a Region typo fails the same way
    local cos = COS.new(s:client_options())
    local data, err = cos:getObject { Bucket = BUCKET, Region = "ap-guangzhuo", Key = "r.txt" }
    assert.is_nil(data)
    assert.are.equal(404, err.statusCode)
    assert.are.equal("NoSuchBucket", err.code)
    assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "r.txt" })
    cos:close()
    -- a host naming no region (an IP, path style) reaches the bucket; so does global acceleration
    st, _, body = s:request { key = "r.txt", style = "path" }
    assert.are.equal(200, st)
    assert.are.equal("in guangzhou", body)
    st = s:request { key = "r.txt", region = "accelerate" }
    assert.are.equal(200, st)
    -- the path-style service host names a region too (anonymous GET of a public object)
    assert.are.equal(200, (s:request { method = "PUT", key = "pub.txt", body = "pub", headers = { ["x-cos-acl"] = "public-read" },
      sign_headers = { "x-cos-acl" } }))
    st, _, body = s:request { key = "pub.txt", style = "path", sign = false, headers = { Host = "cos.ap-beijing.myqcloud.com" } }
    assert.are.equal(404, st)
    assert.are.equal("NoSuchBucket", cosd.err_code(body))
    st, _, body = s:request { key = "pub.txt", style = "path", sign = false, headers = { Host = "cos." .. REGION .. ".myqcloud.com" } }
    assert.are.equal(200, st)
    assert.are.equal("pub", body)
    s:cleanup()
  end)

  it("places buckets given as NAME-APPID:REGION in that region, others in --region", function()
    local s = cosd.start { buckets = { "bj-1250000000:ap-beijing", BUCKET },
      extra = { "--region", "ap-shanghai" } }
    assert.are.equal(200, (s:request { bucket = "bj-1250000000", region = "ap-beijing", method = "PUT", key = "a", body = "b" }))
    local st, _, body = s:request { bucket = "bj-1250000000", region = "ap-guangzhou", key = "a" }
    assert.are.equal(404, st)
    assert.are.equal("NoSuchBucket", cosd.err_code(body))
    -- the bucket without a region lives in --region (given last, it wins over the fixture's)
    assert.are.equal(404, (s:request { method = "PUT", key = "a", body = "b", region = "ap-guangzhou" }))
    assert.are.equal(200, (s:request { method = "PUT", key = "a", body = "b", region = "ap-shanghai" }))
    s:cleanup()
  end)

  it("names the bucket's region in Complete's Location", function()
    local s = cosd.start { buckets = { BUCKET .. ":ap-chengdu" } }
    local r = { region = "ap-chengdu" }
    local st, _, body = s:request { method = "POST", key = "loc.bin", query = { { "uploads" } }, region = r.region }
    assert.are.equal(200, st)
    local id = body:match("<UploadId>(.-)</UploadId>")
    local _, h = s:request { method = "PUT", key = "loc.bin", query = { { "partNumber", "1" }, { "uploadId", id } }, body = "x", region = r.region }
    st, _, body = s:request { method = "POST", key = "loc.bin", query = { { "uploadId", id } }, region = r.region,
      body = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" .. h.etag .. "</ETag></Part></CompleteMultipartUpload>" }
    assert.are.equal(200, st)
    assert.truthy(body:find("<Location>http://" .. BUCKET .. ".cos.ap-chengdu.myqcloud.com/loc.bin</Location>", 1, true))
    s:cleanup()
  end)
end)

describe("cosd keys made of dots and slashes", function()
  local s
  setup(function()
    s = cosd.start()
    assert.are.equal(200, (s:request { method = "PUT", key = "listed.txt", body = "x" }))
  end)
  teardown(function() s:cleanup() end)

  it("reads a path made only of slashes as the bucket itself: GET lists the bucket", function()
    for _, key in ipairs({ "/", "//////" }) do
      local st, _, body = s:request { key = key }
      assert.are.equal(200, st, key)
      assert.truthy(body:find("<ListBucketResult>", 1, true), key)
      assert.truthy(body:find("<Key>listed.txt</Key>", 1, true), key)
    end
  end)

  it("refuses keys that resolve to the bucket root with 400 InvalidObjectName, and stores nothing", function()
    for _, key in ipairs({ "./", ".", "..", "../", "/./", "a/..", "/abc/../", "///abc/.//def//../../", "././/./" }) do
      local st, _, body = s:request { method = "PUT", key = key, body = "dots" }
      assert.are.equal(400, st, key)
      assert.are.equal("InvalidObjectName", cosd.err_code(body), key)
      st, _, body = s:request { key = key }
      assert.are.equal(400, st, key)
      st = s:request { method = "POST", key = key, query = { { "uploads" } } }
      assert.are.equal(400, st, key)
    end
    local _, _, body = s:request { query = { { "prefix", "" } } }
    local _, n = body:gsub("<Contents>", "")
    assert.are.equal(1, n) -- listed.txt only
  end)

  it("keeps other keys with dots and slashes as opaque bytes", function()
    for _, key in ipairs({ "../x", "a/../b", "a//b", ".hidden", "...", "a/./b" }) do
      assert.are.equal(200, (s:request { method = "PUT", key = key, body = key }), key)
      local st, _, body = s:request { key = key }
      assert.are.equal(200, st, key)
      assert.are.equal(key, body)
    end
  end)
end)

describe("cosd second Complete of a finished upload", function()
  it("answers 404 NoSuchUpload, as COS documents for an UploadId that no longer exists; the object stays", function()
    local s = cosd.start()
    local id, etag = upload_one_part(s, "twice.txt")
    local st, _, body = complete(s, "twice.txt", id, etag)
    assert.are.equal(200, st)
    local object_etag = body:match("<ETag>(.-)</ETag>")
    st, _, body = complete(s, "twice.txt", id, etag)
    assert.are.equal(404, st)
    assert.are.equal("NoSuchUpload", cosd.err_code(body))
    local h
    st, h, body = s:request { key = "twice.txt" }
    assert.are.equal(200, st)
    assert.are.equal("part one", body)
    assert.are.equal(object_etag:gsub("&quot;", '"'), h.etag)
    s:cleanup()
  end)
end)
