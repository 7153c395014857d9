-- multipartList / multipartInit / multipartUpload / multipartListPart / multipartComplete /
-- multipartAbort end to end against a real cosd (docs/cos-wire.md, the multipart APIs), plus the requests
-- on the wire (cosd's request log) and COS's odd answers (cosd faults: 200 with <Error>, keep-alive
-- spaces, no ETag, malformed XML).
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local HOST = BUCKET .. ".cos." .. REGION .. ".myqcloud.com"
local MiB = 1024 * 1024

-- Every value of a table (recursively) but the headers is a string, as the SDK's XML parser gives.
local function all_strings(t, path)
  for k, v in pairs(t) do
    local p = (path or "") .. "." .. tostring(k)
    if type(v) == "table" then
      all_strings(v, p)
    elseif type(v) ~= "string" then
      error("not a string: " .. p .. " = " .. tostring(v))
    end
  end
  return true
end

local function xml_fields(data)
  local copy = {}
  for k, v in pairs(data) do
    if k ~= "statusCode" and k ~= "headers" then copy[k] = v end
  end
  return copy
end

describe("multipart operations against cosd", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open({ ProgressInterval = 10 }) end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function init(key, extra)
    local p = { Bucket = BUCKET, Region = REGION, Key = key }
    for k, v in pairs(extra or {}) do p[k] = v end
    local data, err = cos:multipartInit(p)
    assert.is_nil(err)
    return data.UploadId, data
  end

  local function upload(key, id, n, body)
    local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
      PartNumber = n, Body = body }
    assert.is_nil(err)
    return data.ETag, data
  end

  local function complete(key, id, parts)
    return cos:multipartComplete { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id, Parts = parts }
  end

  describe("multipartInit", function()
    it("returns {Bucket, Key, UploadId, statusCode, headers, RequestId}", function()
      local id, data = init("init/a.txt")
      assert.are.equal(200, data.statusCode)
      assert.are.equal(BUCKET, data.Bucket)
      assert.are.equal("init/a.txt", data.Key)
      assert.are.equal("string", type(id))
      assert.is_true(#id > 0)
      assert.are.equal("string", type(data.RequestId))
      assert.are.equal(data.headers["x-cos-request-id"], data.RequestId)
      assert.are.same({ Bucket = true, Key = true, UploadId = true, RequestId = true },
        (function() local s = {}; for k in pairs(xml_fields(data)) do s[k] = true end; return s end)())
    end)

    it("strips one leading '/' from Key", function()
      local _, data = init("/init/slash.txt")
      assert.are.equal("init/slash.txt", data.Key)
    end)

    it("stores ContentType and x-cos-meta-* given at init on the completed object", function()
      local key = "init/meta.txt"
      local id = init(key, { ContentType = "text/x-lua", ["x-cos-meta-colour"] = "blue", CacheControl = "no-cache" })
      local etag = upload(key, id, 1, "only part")
      assert(complete(key, id, { { PartNumber = 1, ETag = etag } }))
      local h = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = key })
      assert.are.equal("text/x-lua", h.headers["content-type"])
      assert.are.equal("blue", h.headers["x-cos-meta-colour"])
      assert.are.equal("no-cache", h.headers["cache-control"])
    end)
  end)

  describe("multipartUpload", function()
    it("returns the part's quoted MD5 ETag and the common fields", function()
      local id = init("up/a.bin")
      local etag, data = upload("up/a.bin", id, 1, "[Object Part]")
      assert.are.equal('"108f528eb63b65e734f27ae331f5ffaa"', etag)
      assert.are.equal(200, data.statusCode)
      assert.are.equal("string", type(data.RequestId))
      assert.are.equal("table", type(data.headers))
    end)

    it("accepts PartNumber as a numeric string", function()
      local id = init("up/str.bin")
      local etag = upload("up/str.bin", id, "2", "two")
      assert.are.equal('"' .. files.md5_string("two") .. '"', etag)
      local list = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = "up/str.bin", UploadId = id })
      assert.are.equal("2", list.Part[1].PartNumber)
    end)

    it("uploads a part from FilePath, from an io file with ContentLength, and from a function", function()
      local key = "up/sources.bin"
      local id = init(key)
      local path = files.random_file(dir .. "/part1", MiB + 17)
      local e1 = assert(cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        PartNumber = 1, FilePath = path }).ETag
      assert.are.equal('"' .. files.md5_file(path) .. '"', e1)

      local f = assert(io.open(path, "rb"))
      local e2 = assert(cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        PartNumber = 2, Body = f, ContentLength = MiB + 17 }).ETag
      f:close()
      assert.are.equal(e1, e2)

      local chunks, i = { "abc", "defg", "h" }, 0
      local e3 = assert(cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        PartNumber = 3, ContentLength = 8, Body = function() i = i + 1; return chunks[i] end }).ETag
      assert.are.equal('"' .. files.md5_string("abcdefgh") .. '"', e3)

      local list = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id })
      assert.are.equal(3, #list.Part)
      assert.are.equal(tostring(MiB + 17), list.Part[1].Size)
      assert.are.equal("8", list.Part[3].Size)
    end)

    it("reports upload progress ending at percent 1", function()
      local key = "up/progress.bin"
      local id = init(key)
      local body = string.rep("p", 3 * MiB)
      local events = {}
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        PartNumber = 1, Body = body, onProgress = function(p) events[#events + 1] = p end }
      assert.is_nil(err)
      assert.is_true(#events >= 1)
      local last = events[#events]
      assert.are.equal(1, last.percent)
      assert.are.equal(#body, last.loaded)
      assert.are.equal(#body, last.total)
      for j = 2, #events do assert.is_true(events[j].loaded >= events[j - 1].loaded) end
      assert.are.equal('"' .. files.md5_string(body) .. '"', data.ETag)
    end)

    it("fails with NoSuchUpload for an unknown UploadId", function()
      local data, err = cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "up/none.bin",
        UploadId = "1700000000" .. string.rep("0", 64), PartNumber = 1, Body = "x" }
      assert.is_nil(data)
      assert.are.equal("NoSuchUpload", err.code)
      assert.are.equal(404, err.statusCode)
      assert.are.equal("NoSuchUpload", err.error.Code)
      assert.are.equal("string", type(err.RequestId))
    end)
  end)

  describe("multipartListPart", function()
    it("shapes ListPartsResult: strings everywhere, quoted ETags, Part always an array", function()
      local key = "lp/a.bin"
      local id = init(key)
      local empty = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id })
      assert.are.same({}, empty.Part)
      assert.are.equal("false", empty.IsTruncated)

      local etag = upload(key, id, 1, "one")
      local one = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id })
      assert.are.equal(1, #one.Part) -- a single <Part> is still an array
      local p = one.Part[1]
      assert.are.equal("1", p.PartNumber)
      assert.are.equal(etag, p.ETag)
      assert.are.equal("3", p.Size)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", p.LastModified)
      assert.are.equal(BUCKET, one.Bucket)
      assert.are.equal(key, one.Key)
      assert.are.equal(id, one.UploadId)
      assert.are.equal("string", type(one.MaxParts))
      assert.is_true(all_strings(xml_fields(one)))
      assert.are.equal(200, one.statusCode)
    end)

    it("pages with MaxParts and PartNumberMarker", function()
      local key = "lp/paged.bin"
      local id = init(key)
      for n = 1, 3 do upload(key, id, n, "part" .. n) end
      local page1 = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        MaxParts = 2 })
      assert.are.equal(2, #page1.Part)
      assert.are.equal("true", page1.IsTruncated)
      assert.are.equal("2", page1.NextPartNumberMarker)
      local page2 = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        MaxParts = "2", PartNumberMarker = page1.NextPartNumberMarker })
      assert.are.equal(1, #page2.Part)
      assert.are.equal("3", page2.Part[1].PartNumber)
      assert.are.equal("false", page2.IsTruncated)
    end)

    it("fails with NoSuchUpload for an unknown UploadId", function()
      local _, err = cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = "lp/x", UploadId = "nope" }
      assert.are.equal("NoSuchUpload", err.code)
      assert.are.equal(404, err.statusCode)
    end)
  end)

  describe("multipartList", function()
    it("lists uploads with Upload always an array and every value a string", function()
      local key = "ml/one/file.bin"
      local id = init(key)
      local data, err = cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/one/" }
      assert.is_nil(err)
      assert.are.equal(200, data.statusCode)
      assert.are.equal(1, #data.Upload)
      local u = data.Upload[1]
      assert.are.equal(key, u.Key)
      assert.are.equal(id, u.UploadId)
      assert.are.equal("table", type(u.Initiator))
      assert.are.equal("table", type(u.Owner))
      assert.are.equal("string", type(u.Initiated))
      assert.are.equal("false", data.IsTruncated)
      assert.are.equal("ml/one/", data.Prefix)
      assert.are.equal(BUCKET, data.Bucket)
      assert.is_true(all_strings(xml_fields(data)))
    end)

    it("gives an empty Upload array when nothing matches", function()
      local data = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/nothing-here/" })
      assert.are.same({}, data.Upload)
    end)

    it("sends prefix= always, and the optional markers under their wire names", function()
      -- the request log has every answered request's line before the answer goes out (the access
      -- log only after it): counts taken between synchronous calls are exact
      local before = #srv:request_log()
      assert(cos:multipartList { Bucket = BUCKET, Region = REGION })
      assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/", Delimiter = "/", MaxUploads = 5,
        KeyMarker = "ml/a", UploadIdMarker = "1", EncodingType = "url" })
      -- Select the two list requests by shape: a line of an earlier test's dropped connection may
      -- still be written after `before` was taken.
      local lists = {}
      for i, e in ipairs(srv:request_log(before + 2)) do
        if i > before and e.method == "GET" and e.target:match("^/%?uploads=") then lists[#lists + 1] = e.target end
      end
      assert.are.equal(2, #lists)
      local t1, t2 = lists[1], lists[2]
      assert.matches("^/%?uploads=&prefix=$", t1)
      assert.matches("uploads=&", t2)
      assert.matches("delimiter=%%2F", t2)
      assert.matches("encoding%-type=url", t2)
      assert.matches("prefix=ml%%2F", t2)
      assert.matches("max%-uploads=5", t2)
      assert.matches("key%-marker=ml%%2Fa", t2)
      assert.matches("upload%-id%-marker=1", t2)
    end)

    it("groups keys under CommonPrefixes with a Delimiter", function()
      init("ml/grp/a/1.bin")
      init("ml/grp/b/2.bin")
      local data = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/grp/", Delimiter = "/" })
      assert.are.equal("table", type(data.CommonPrefixes))
      local got = {}
      for _, cp in ipairs(data.CommonPrefixes) do got[#got + 1] = cp.Prefix end
      table.sort(got)
      assert.are.same({ "ml/grp/a/", "ml/grp/b/" }, got)
    end)

    it("pages with MaxUploads, KeyMarker and UploadIdMarker", function()
      for n = 1, 3 do init("ml/page/" .. n) end
      local p1 = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/page/", MaxUploads = 2 })
      assert.are.equal(2, #p1.Upload)
      assert.are.equal("true", p1.IsTruncated)
      local p2 = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/page/", MaxUploads = 2,
        KeyMarker = p1.NextKeyMarker, UploadIdMarker = p1.NextUploadIdMarker })
      assert.are.equal(1, #p2.Upload)
      assert.are.equal("ml/page/3", p2.Upload[1].Key)
    end)
  end)

  describe("multipartComplete", function()
    it("assembles the object; Location is the SDK-built one; ETag is \"<md5>-<n>\"", function()
      local key = "mc/big file+(1).bin"
      local id = init(key)
      local p1 = string.rep("a", MiB)
      local e1 = upload(key, id, 1, p1)
      local e2 = upload(key, id, 2, "tail")
      -- the second ETag without its quotes: the SDK adds them
      local data, err = complete(key, id, { { PartNumber = 1, ETag = e1 }, { PartNumber = 2, ETag = e2:gsub('"', "") } })
      assert.is_nil(err)
      assert.are.equal(200, data.statusCode)
      assert.are.equal(HOST .. "/mc/big%20file%2B%281%29.bin", data.Location)
      assert.are.equal(BUCKET, data.Bucket)
      assert.are.equal(key, data.Key)
      assert.matches('^"%x+%-2"$', data.ETag)
      assert.are.equal("string", type(data.RequestId))
      local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = key })
      assert.are.equal(p1 .. "tail", got.Body)
      assert.are.equal(data.ETag, got.ETag)
    end)

    it("removes the upload from multipartList once completed", function()
      local key = "mc/gone.bin"
      local id = init(key)
      assert(complete(key, id, { { PartNumber = 1, ETag = upload(key, id, 1, "x") } }))
      local list = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = key })
      assert.are.same({}, list.Upload)
    end)

    it("fails with EntityTooSmall when a part other than the last is under 1 MiB", function()
      local key = "mc/small.bin"
      local id = init(key)
      local e1 = upload(key, id, 1, "small")
      local e2 = upload(key, id, 2, "tail")
      local data, err = complete(key, id, { { PartNumber = 1, ETag = e1 }, { PartNumber = 2, ETag = e2 } })
      assert.is_nil(data)
      assert.are.equal("EntityTooSmall", err.code)
      assert.are.equal(400, err.statusCode)
      assert.are.equal("EntityTooSmall", err.error.Code)
    end)

    it("fails with InvalidPart when a listed part was never uploaded or its ETag differs", function()
      local key = "mc/invalid.bin"
      local id = init(key)
      local e1 = upload(key, id, 1, "one")
      local _, err = complete(key, id, { { PartNumber = 1, ETag = e1 }, { PartNumber = 2, ETag = e1 } })
      assert.are.equal("InvalidPart", err.code)
      local _, err2 = complete(key, id, { { PartNumber = 1, ETag = '"' .. string.rep("0", 32) .. '"' } })
      assert.are.equal("InvalidPart", err2.code)
      assert.are.equal(400, err2.statusCode)
    end)

    it("fails with InvalidPartOrder when parts are not ascending", function()
      local key = "mc/order.bin"
      local id = init(key)
      local e1 = upload(key, id, 1, string.rep("b", MiB))
      local e2 = upload(key, id, 2, "tail")
      local _, err = complete(key, id, { { PartNumber = 2, ETag = e2 }, { PartNumber = 1, ETag = e1 } })
      assert.are.equal("InvalidPartOrder", err.code)
      assert.are.equal(400, err.statusCode)
    end)

    it("fails with NoSuchUpload for an unknown UploadId", function()
      local _, err = complete("mc/none.bin", "unknown-upload-id", { { PartNumber = 1, ETag = '"abc"' } })
      assert.are.equal("NoSuchUpload", err.code)
      assert.are.equal(404, err.statusCode)
    end)
  end)

  describe("multipartAbort", function()
    it("returns {statusCode = 204, headers, RequestId} and forgets the upload", function()
      local key = "ma/a.bin"
      local id = init(key)
      upload(key, id, 1, "x")
      local data, err = cos:multipartAbort { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id }
      assert.is_nil(err)
      assert.are.equal(204, data.statusCode)
      assert.are.equal("string", type(data.RequestId))
      assert.is_nil(data.ETag)
      local _, err2 = cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id }
      assert.are.equal("NoSuchUpload", err2.code)
    end)

    it("fails with NoSuchUpload when aborted twice", function()
      local key = "ma/twice.bin"
      local id = init(key)
      assert(cos:multipartAbort { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id })
      local data, err = cos:multipartAbort { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id }
      assert.is_nil(data)
      assert.are.equal("NoSuchUpload", err.code)
      assert.are.equal(404, err.statusCode)
      assert.are.equal("DELETE", err.method)
    end)
  end)

  it("runs the multipart calls asynchronously with callbacks", function()
    local key = "async/mp.bin"
    local result
    cos:multipartInit({ Bucket = BUCKET, Region = REGION, Key = key }, function(err, init_data)
      assert.is_nil(err)
      cos:multipartUpload({ Bucket = BUCKET, Region = REGION, Key = key, UploadId = init_data.UploadId,
        PartNumber = 1, Body = "async" }, function(err2, up)
        assert.is_nil(err2)
        cos:multipartComplete({ Bucket = BUCKET, Region = REGION, Key = key, UploadId = init_data.UploadId,
          Parts = { { PartNumber = 1, ETag = up.ETag } } }, function(err3, done)
          result = { err = err3, data = done }
        end)
      end)
    end)
    cos:run()
    assert.is_nil(result.err)
    assert.are.equal(HOST .. "/async/mp.bin", result.data.Location)
  end)
end)

-- The requests on the wire and the answers real COS gives that cosd does not by default, against a
-- cosd started for the purpose: what the client sent is read back from cosd's request log
-- (--request-log: method, raw target, headers as received, body), odd answers come from --fault.
local function md5_base64(s)
  local out = cosd.capture("printf %s " .. cosd.sh_quote(s) .. " | openssl dgst -md5 -binary | base64")
  return (out:gsub("%s+$", ""))
end

-- Starts cosd (opts for cosd.start) and a client with no retries; runs fn(cos, srv); cleans up.
local function with_cosd(opts, fn)
  local srv = cosd.start(opts)
  local cos = COS.new(srv:client_options { RetryTimes = 0 })
  local ok, err = pcall(fn, cos, srv)
  cos:close()
  srv:cleanup()
  if not ok then error(err, 0) end
end

-- The request log entry of the request cosd answered with this request id (waits for it a little).
local function logged(srv, request_id)
  for _ = 1, 100 do
    for _, e in ipairs(srv:request_log()) do
      if e.request_id == request_id then return e end
    end
    cosd.exec("sleep 0.02")
  end
  error("no request log entry with request id " .. tostring(request_id))
end

local function mp_init(cos, key)
  local data = assert(cos:multipartInit { Bucket = BUCKET, Region = REGION, Key = key })
  return data.UploadId
end

local function mp_upload(cos, key, id, n, body)
  return assert(cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id, PartNumber = n,
    Body = body }).ETag
end

describe("multipartComplete on the wire (cosd request log and faults)", function()
  it("POSTs ?uploadId= with the exact XML body, Content-Type and Content-MD5", function()
    with_cosd({}, function(cos, srv)
      local key = "k/c.bin"
      local id = mp_init(cos, key)
      local e1 = mp_upload(cos, key, id, 1, string.rep("a", MiB))
      local e2 = mp_upload(cos, key, id, 2, "tail")
      local data, err = cos:multipartComplete { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id, Parts = {
        { PartNumber = 1, ETag = e1 },
        { PartNumber = "2", ETag = e2:gsub('"', "") }, -- a string PartNumber, an ETag without quotes
      } }
      assert.is_nil(err)
      local req = logged(srv, data.RequestId)
      assert.are.equal("POST", req.method)
      assert.are.equal("/k/c.bin?uploadId=" .. id, req.target)
      local md5_1, md5_2 = e1:gsub('"', ""), e2:gsub('"', "")
      assert.are.equal("<CompleteMultipartUpload>" ..
        "<Part><PartNumber>1</PartNumber><ETag>&quot;" .. md5_1 .. "&quot;</ETag></Part>" ..
        "<Part><PartNumber>2</PartNumber><ETag>&quot;" .. md5_2 .. "&quot;</ETag></Part>" ..
        "</CompleteMultipartUpload>", req.body)
      assert.are.equal(#req.body, req.body_length)
      assert.are.equal("application/xml", req.header["content-type"])
      assert.are.equal(md5_base64(req.body), req.header["content-md5"])
      -- the result: XML children; Location is the SDK-built one (cosd's has a scheme)
      assert.are.equal(HOST .. "/k/c.bin", data.Location)
      assert.matches('^"%x+%-2"$', data.ETag)
      assert.are.equal(BUCKET, data.Bucket)
      assert.are.equal(key, data.Key)
      assert.are.equal(200, data.statusCode)
      local got = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = key })
      assert.are.equal(data.ETag, got.ETag)
    end)
  end)

  it("turns a 200 whose body is <Error> (after keep-alive spaces) into an error", function()
    with_cosd({ faults = { "op=CompleteMultipartUpload,complete-error,keepalive-spaces=40" } }, function(cos, srv)
      local key = "k/err.bin"
      local id = mp_init(cos, key)
      local e1 = mp_upload(cos, key, id, 1, "one")
      local data, err = cos:multipartComplete { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        Parts = { { PartNumber = 1, ETag = e1 } } }
      assert.is_nil(data)
      assert.are.equal("InternalError", err.code)
      assert.are.equal(200, err.statusCode)
      assert.are.equal("We encountered an internal error. Please try again.", err.message)
      assert.are.equal("string", type(err.error.TraceId))
      assert.is_true(#err.error.TraceId > 0)
      local req = logged(srv, err.RequestId)
      assert.are.equal("/k/err.bin?uploadId=" .. id, req.target)
      assert.are.equal(200, req.status)
      assert.are.equal("POST", err.method)
      -- the answer really was spaces then an <Error> document with status 200, and nothing was completed
      local status, _, body = srv:request { method = "POST", key = key, query = { { "uploadId", id } },
        body = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" .. e1 ..
          "</ETag></Part></CompleteMultipartUpload>", headers = { ["Content-Type"] = "application/xml" } }
      assert.are.equal(200, status)
      assert.matches("^" .. string.rep(" ", 40) .. "<%?xml[^\n]*\n<Error>", body)
      local parts = assert(cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id })
      assert.are.equal(1, #parts.Part)
    end)
  end)

  -- One reader decides what Complete's 200 + <Error> is (ops/messages.c, cos_msg_complete_read):
  -- multipartComplete, sliceUploadFile of a file and of a stream report the same, complete error.
  for _, case in ipairs {
    { code = "InvalidPart", completes = 1 },   -- a client-side kind: never sent again
    { code = "InternalError", completes = 2 }, -- a server-side kind: the engine sends it again (ChunkRetryTimes 1)
  } do
    it("gives the same complete error from multipartComplete and sliceUploadFile for 200 + <Error> " .. case.code, function()
      local srv = cosd.start { faults = { "op=CompleteMultipartUpload,complete-error,code=" .. case.code } }
      local cos = COS.new(srv:client_options { RetryTimes = 0, ChunkRetryTimes = 1 })
      local dir = files.tmpdir()
      local ok, perr = pcall(function()
        local function completes()
          local n = 0
          for _, e in ipairs(srv:request_log()) do
            if e.method == "POST" and e.target:find("uploadId=", 1, true) then n = n + 1 end
          end
          return n
        end
        local key = "drift/c.bin"
        local id = mp_init(cos, key)
        local e1 = mp_upload(cos, key, id, 1, "one")
        local _, single = cos:multipartComplete { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
          Parts = { { PartNumber = 1, ETag = e1 } } }
        local path = files.random_file(dir .. "/c.bin", 2 * MiB + 5)
        local before = completes()
        local _, sliced = cos:sliceUploadFile { Bucket = BUCKET, Region = REGION, Key = key, FilePath = path,
          ChunkSize = MiB }
        assert.are.equal(case.completes, completes() - before)
        local fh = assert(io.open(path, "rb"))
        local _, streamed = cos:sliceUploadFile { Bucket = BUCKET, Region = REGION, Key = key, Body = fh,
          ChunkSize = MiB }
        fh:close()
        for name, err in pairs { multipartComplete = single, sliceUploadFile = sliced, stream = streamed } do
          assert.is_table(err, name)
          assert.are.equal(case.code, err.code, name)
          assert.are.equal(case.code, err.name, name)
          assert.are.equal(200, err.statusCode, name)
          assert.are.equal(single.message, err.message, name)
          assert.is_true(#err.message > 0, name)
          assert.are.equal("POST", err.method, name)
          assert.are.equal(single.url, err.url, name)
          assert.are.equal(case.code, err.error.Code, name)
          assert.is_table(err.headers, name)
          assert.are.equal("string", type(err.RequestId), name)
          assert.are.equal(err.headers["x-cos-request-id"], err.RequestId, name)
          local req = logged(srv, err.RequestId)
          assert.are.equal(200, req.status, name)
          assert.truthy(req.target:find("uploadId=", 1, true), name)
        end
        assert.truthy(single.url:find("/drift/c.bin", 1, true))
      end)
      cos:close()
      srv:cleanup()
      cosd.exec("rm -rf " .. cosd.sh_quote(dir))
      if not ok then error(perr, 0) end
    end)
  end

  it("parses a result streamed after keep-alive spaces", function()
    with_cosd({ faults = { "op=CompleteMultipartUpload,keepalive-spaces=300" } }, function(cos)
      local key = "k/spaces.bin"
      local id = mp_init(cos, key)
      local e1 = mp_upload(cos, key, id, 1, "one")
      local data, err = cos:multipartComplete { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id,
        Parts = { { PartNumber = 1, ETag = e1 } } }
      assert.is_nil(err)
      assert.matches('^"%x+%-1"$', data.ETag)
      assert.are.equal(key, data.Key)
      local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = key })
      assert.are.equal("one", got.Body)
      assert.are.equal(data.ETag, got.ETag)
    end)
  end)
end)

describe("multipart requests on the wire (cosd request log and faults)", function()
  local srv, cos, dir

  setup(function()
    dir = files.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { RetryTimes = 0 })
  end)

  local function write(name, s)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(s)
    f:close()
    return dir .. "/" .. name
  end

  teardown(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
    if dir then cosd.exec("rm -rf " .. cosd.sh_quote(dir)) end
  end)

  -- Runs fn(); returns the request log entries (of server s, default the shared one) it added.
  local function requests_of(fn, s)
    s = s or srv
    local before = #s:request_log()
    local a, b = fn()
    local all, out = s:request_log(before + 1), {}
    for i = before + 1, #all do out[#out + 1] = all[i] end
    return out, a, b
  end

  it("refuses a malformed or DTD-carrying XML result instead of guessing", function()
    local bad = write("bad.xml", "<ListPartsResult><Part></ListPartsResult>")
    local dtd = write("dtd.xml",
      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><ListPartsResult><Key>&e;</Key></ListPartsResult>')
    -- the first two List Parts are answered 200 with these bodies
    with_cosd({ faults = { "op=ListParts,nth=1,body=" .. bad, "op=ListParts,nth=2,body=" .. dtd } }, function(cos1, srv1)
      local id = mp_init(cos1, "bad/k")
      for i = 1, 2 do
        local reqs, data, err = requests_of(function()
          return cos1:multipartListPart { Bucket = BUCKET, Region = REGION, Key = "bad/k", UploadId = id }
        end, srv1)
        assert.are.equal(1, #reqs) -- the fault did answer it (200 with the odd body)
        assert.are.equal(200, reqs[1].status)
        assert.is_nil(data, "body " .. i)
        assert.are.equal("Error", err.code)
        assert.are.equal(200, err.statusCode)
      end
      -- the faults are spent: the same call now parses cosd's own answer
      assert(cos1:multipartListPart { Bucket = BUCKET, Region = REGION, Key = "bad/k", UploadId = id })
    end)
  end)

  it("multipartInit: POST ?uploads= with empty Cache-Control and Content-Type, unsigned", function()
    local reqs, data, err = requests_of(function()
      return cos:multipartInit { Bucket = BUCKET, Region = REGION, Key = "k", ["x-cos-meta-a"] = "b" }
    end)
    assert.is_nil(err)
    assert.are.equal(1, #reqs)
    local req = reqs[1]
    assert.are.equal("POST", req.method)
    assert.are.equal("/k?uploads=", req.target)
    assert.are.equal("string", type(data.UploadId))
    assert.are.equal("", req.header["cache-control"])
    assert.are.equal("", req.header["content-type"])
    assert.are.equal("0", req.header["content-length"])
    assert.are.equal(0, req.body_length)
    assert.are.equal("b", req.header["x-cos-meta-a"])
    local hl = req.header.authorization:match("q%-header%-list=([^&]*)")
    assert.is_nil(hl:find("cache-control", 1, true))
    assert.is_truthy(hl:find("x-cos-meta-a", 1, true))
    assert.is_truthy(req.header.authorization:find("q-url-param-list=uploads", 1, true))
  end)

  it("multipartUpload: PUT ?partNumber=&uploadId= in that order, octet-stream for file bodies", function()
    local id = mp_init(cos, "k")
    local path = dir .. "/part.bin"
    local f = assert(io.open(path, "wb"))
    f:write("file part")
    f:close()
    local reqs, data, err = requests_of(function()
      return cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "k", UploadId = id, PartNumber = 7,
        FilePath = path }
    end)
    assert.is_nil(err)
    assert.are.equal('"' .. files.md5_string("file part") .. '"', data.ETag)
    local req = reqs[1]
    assert.are.equal("PUT", req.method)
    assert.are.equal("/k?partNumber=7&uploadId=" .. id, req.target)
    assert.are.equal("application/octet-stream", req.header["content-type"])
    assert.are.equal("9", req.header["content-length"])
    assert.are.equal("file part", req.body)
    assert.is_truthy(req.header.authorization:find("q-url-param-list=partnumber;uploadid", 1, true))
    -- an UploadId that needs encoding is encoded in the target (cosd does not know it)
    local reqs2, _, err2 = requests_of(function()
      return cos:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "k", UploadId = "u 1", PartNumber = 7,
        FilePath = path }
    end)
    assert.are.equal("NoSuchUpload", err2.code)
    assert.are.equal("/k?partNumber=7&uploadId=u%201", reqs2[1].target)
  end)

  it("multipartUpload refuses an answer without ETag (Complete names every part by its ETag)", function()
    -- the first Upload Part is answered without its ETag header (its CRC-64 vouches for the bytes,
    -- but the part cannot be named at Complete): an error, as sliceUploadFile's parts
    with_cosd({ faults = { "op=UploadPart,no-etag,times=1" } }, function(cos1, srv1)
      local id = mp_init(cos1, "k/noetag")
      local reqs, data, err = requests_of(function()
        return cos1:multipartUpload { Bucket = BUCKET, Region = REGION, Key = "k/noetag", UploadId = id, PartNumber = 1,
          Body = "x" }
      end, srv1)
      assert.is_nil(data)
      assert.are.equal("InvalidResponse", err.code)
      assert.are.equal(200, err.statusCode)
      assert.are.equal(1, #reqs)
      -- the next one has its ETag again
      assert.are.equal('"' .. files.md5_string("x") .. '"', mp_upload(cos1, "k/noetag", id, 1, "x"))
    end)
  end)

  it("multipartListPart: GET ?uploadId= with the optional params; one Part is still an array", function()
    local key = "k/list"
    local id = mp_init(cos, key)
    for n = 1, 3 do mp_upload(cos, key, id, n, "part" .. n) end
    local reqs, data, err = requests_of(function()
      return cos:multipartListPart { Bucket = BUCKET, Region = REGION, Key = key, UploadId = id, MaxParts = 5,
        PartNumberMarker = 2, EncodingType = "url" }
    end)
    assert.is_nil(err)
    assert.are.equal("GET", reqs[1].method)
    assert.are.equal("/k/list?uploadId=" .. id .. "&encoding-type=url&max-parts=5&part-number-marker=2", reqs[1].target)
    assert.are.equal("table", type(data.Part))
    assert.are.equal(1, #data.Part)
    assert.are.equal("3", data.Part[1].PartNumber)
    assert.are.equal('"' .. files.md5_string("part3") .. '"', data.Part[1].ETag)
    assert.are.equal("5", data.Part[1].Size)
  end)

  it("multipartAbort: DELETE ?uploadId= with Content-Length 0", function()
    local id = mp_init(cos, "dir/k")
    local reqs, data, err = requests_of(function()
      return cos:multipartAbort { Bucket = BUCKET, Region = REGION, Key = "dir/k", UploadId = id }
    end)
    assert.is_nil(err)
    assert.are.equal(204, data.statusCode)
    assert.are.equal(1, #reqs)
    assert.are.equal("DELETE", reqs[1].method)
    assert.are.equal("/dir/k?uploadId=" .. id, reqs[1].target)
    assert.are.equal("0", reqs[1].header["content-length"])
  end)
end)
