-- multipartList / multipartInit / multipartUpload / multipartListPart / multipartComplete /
-- multipartAbort end to end against a real cosd (node-sdk-behaviour.md B.7-B.12), plus the exact
-- Complete request and a 200-with-<Error> answer against a scripted one-shot HTTP peer.
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

  setup(function()
    srv = cosd.start()
    cos = COS.new(srv:client_options { ProgressInterval = 10 })
    dir = files.tmpdir()
  end)

  teardown(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
    if dir then cosd.exec("rm -rf " .. cosd.sh_quote(dir)) end
  end)

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
      local before = #srv:access_log()
      assert(cos:multipartList { Bucket = BUCKET, Region = REGION })
      assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "ml/", Delimiter = "/", MaxUploads = 5,
        KeyMarker = "ml/a", UploadIdMarker = "1", EncodingType = "url" })
      -- cosd writes its access log line after answering: wait for both lines
      local log
      for _ = 1, 100 do
        log = srv:access_log()
        if #log >= before + 2 then break end
        os.execute("sleep 0.02")
      end
      local t1, t2 = log[#log - 1].target, log[#log].target
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

-- A one-shot scripted HTTP peer on loopback (luasocket), driven from the client's poll loop:
-- records the request it gets and answers with `response`.
local has_socket, socket = pcall(require, "socket")

local function scripted_exchange(response, start_op)
  local server = assert(socket.bind("127.0.0.1", 0))
  server:settimeout(0)
  local _, port = server:getsockname()
  local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Protocol = "http:",
    Ip = "127.0.0.1:" .. port, RetryTimes = 0 }
  local result, conn, req = nil, nil, nil
  start_op(cos, function(err, data) result = { err = err, data = data } end)
  local deadline = os.time() + 20
  while not result and os.time() < deadline do
    cos:poll(5)
    if not conn then
      conn = server:accept()
      if conn then conn:settimeout(5) end
    elseif not req then
      local head = {}
      while true do
        local line = assert(conn:receive("*l"))
        if line == "" then break end
        head[#head + 1] = line
      end
      local headers = {}
      for i = 2, #head do
        local k, v = head[i]:match("^([^:]+):%s*(.*)$")
        headers[k:lower()] = v
      end
      local body = ""
      local n = tonumber(headers["content-length"] or "0")
      if n > 0 then body = assert(conn:receive(n)) end
      req = { line = head[1], headers = headers, body = body }
      conn:send(response)
      conn:close()
    end
  end
  cos:close()
  server:close()
  return result, req
end

local describe_peer = has_socket and describe or pending

describe_peer("multipartComplete on the wire (scripted peer)", function()
  local function start_complete(parts)
    return function(cos, cb)
      cos:multipartComplete({ Bucket = BUCKET, Region = REGION, Key = "k/c.bin", UploadId = "up-id", Parts = parts }, cb)
    end
  end

  local ok_body = '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult xmlns="http://www.qcloud.com/document/product/436/7751">' ..
      "<Location>http://elsewhere/k/c.bin</Location><Bucket>" .. BUCKET .. "</Bucket><Key>k/c.bin</Key>" ..
      "<ETag>&quot;aa259a62513358f69e98e72e59856d88-3&quot;</ETag></CompleteMultipartUploadResult>"

  local function http200(body)
    return "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nx-cos-request-id: rid-1\r\nContent-Length: " .. #body ..
        "\r\nConnection: close\r\n\r\n" .. body
  end

  it("POSTs ?uploadId= with the exact XML body, Content-Type and Content-MD5", function()
    local result, req = scripted_exchange(http200(ok_body), start_complete {
      { PartNumber = 1, ETag = '"39270a968a357d24207e9911162507eb"' },
      { PartNumber = "2", ETag = "0123456789abcdef0123456789abcdef" },
    })
    assert.is_nil(result.err)
    assert.are.equal("POST /k/c.bin?uploadId=up-id HTTP/1.1", req.line)
    assert.are.equal("<CompleteMultipartUpload>" ..
      "<Part><PartNumber>1</PartNumber><ETag>&quot;39270a968a357d24207e9911162507eb&quot;</ETag></Part>" ..
      "<Part><PartNumber>2</PartNumber><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag></Part>" ..
      "</CompleteMultipartUpload>", req.body)
    assert.are.equal("application/xml", req.headers["content-type"])
    local md5_b64 = cosd.capture("printf %s " .. cosd.sh_quote(req.body) .. " | openssl dgst -md5 -binary | base64")
    assert.are.equal(md5_b64:gsub("%s+$", ""), req.headers["content-md5"])
    -- the result: XML children, Location overwritten with the SDK-built value
    local d = result.data
    assert.are.equal(HOST .. "/k/c.bin", d.Location)
    assert.are.equal('"aa259a62513358f69e98e72e59856d88-3"', d.ETag)
    assert.are.equal(BUCKET, d.Bucket)
    assert.are.equal("rid-1", d.RequestId)
    assert.are.equal(200, d.statusCode)
  end)

  it("turns a 200 whose body is <Error> (after keep-alive spaces) into an error", function()
    local body = "     \n<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n\t<Code>InternalError</Code>\n" ..
        "\t<Message>We encountered an internal error.</Message>\n\t<Resource>r</Resource>\n" ..
        "\t<RequestId>rid-1</RequestId>\n\t<TraceId>trace</TraceId>\n</Error>"
    local result = scripted_exchange(http200(body), start_complete { { PartNumber = 1, ETag = '"x"' } })
    assert.is_nil(result.data)
    local err = result.err
    assert.are.equal("InternalError", err.code)
    assert.are.equal(200, err.statusCode)
    assert.are.equal("We encountered an internal error.", err.message)
    assert.are.equal("trace", err.error.TraceId)
    assert.are.equal("rid-1", err.RequestId)
    assert.are.equal("POST", err.method)
  end)

  it("parses a result streamed after keep-alive spaces", function()
    local result = scripted_exchange(http200("   \n  " .. ok_body), start_complete { { PartNumber = 1, ETag = '"x"' } })
    assert.is_nil(result.err)
    assert.are.equal('"aa259a62513358f69e98e72e59856d88-3"', result.data.ETag)
  end)
end)

describe_peer("multipart requests on the wire (scripted peer)", function()
  local function http(status, body, extra)
    return "HTTP/1.1 " .. status .. "\r\nContent-Type: application/xml\r\n" .. (extra or "") .. "Content-Length: " .. #body ..
        "\r\nConnection: close\r\n\r\n" .. body
  end

  it("multipartInit: POST ?uploads= with empty Cache-Control and Content-Type, unsigned", function()
    local body = "<InitiateMultipartUploadResult><Bucket>" .. BUCKET .. "</Bucket><Key>k</Key><UploadId>u1</UploadId>" ..
        "</InitiateMultipartUploadResult>"
    local result, req = scripted_exchange(http("200 OK", body), function(cos, cb)
      cos:multipartInit({ Bucket = BUCKET, Region = REGION, Key = "k", ["x-cos-meta-a"] = "b" }, cb)
    end)
    assert.is_nil(result.err)
    assert.are.equal("u1", result.data.UploadId)
    assert.are.equal("POST /k?uploads= HTTP/1.1", req.line)
    assert.are.equal("", req.headers["cache-control"])
    assert.are.equal("", req.headers["content-type"])
    assert.are.equal("0", req.headers["content-length"])
    assert.are.equal("b", req.headers["x-cos-meta-a"])
    local hl = req.headers.authorization:match("q%-header%-list=([^&]*)")
    assert.is_nil(hl:find("cache-control", 1, true))
    assert.is_truthy(hl:find("x-cos-meta-a", 1, true))
    assert.is_truthy(req.headers.authorization:find("q-url-param-list=uploads", 1, true))
  end)

  it("multipartUpload: PUT ?partNumber=&uploadId= in that order, octet-stream for file bodies", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("file part")
    f:close()
    local result, req = scripted_exchange(http("200 OK", "", 'ETag: "abc"\r\n'), function(cos, cb)
      cos:multipartUpload({ Bucket = BUCKET, Region = REGION, Key = "k", UploadId = "u 1", PartNumber = 7,
        FilePath = path }, cb)
    end)
    os.remove(path)
    assert.is_nil(result.err)
    assert.are.equal('"abc"', result.data.ETag)
    assert.are.equal("PUT /k?partNumber=7&uploadId=u%201 HTTP/1.1", req.line)
    assert.are.equal("application/octet-stream", req.headers["content-type"])
    assert.are.equal("9", req.headers["content-length"])
    assert.are.equal("file part", req.body)
    assert.is_truthy(req.headers.authorization:find("q-url-param-list=partnumber;uploadid", 1, true))
  end)

  it("multipartUpload gives ETag '' when the response has none", function()
    local result = scripted_exchange(http("200 OK", ""), function(cos, cb)
      cos:multipartUpload({ Bucket = BUCKET, Region = REGION, Key = "k", UploadId = "u", PartNumber = 1, Body = "x" }, cb)
    end)
    assert.are.equal("", result.data.ETag)
  end)

  it("multipartListPart: GET ?uploadId= with the optional params; one Part is still an array", function()
    local body = "<ListPartsResult><Bucket>" .. BUCKET .. "</Bucket><Key>k</Key><UploadId>u</UploadId>" ..
        "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag><Size>10</Size></Part>" ..
        "<IsTruncated>false</IsTruncated></ListPartsResult>"
    local result, req = scripted_exchange(http("200 OK", body), function(cos, cb)
      cos:multipartListPart({ Bucket = BUCKET, Region = REGION, Key = "k", UploadId = "u", MaxParts = 5,
        PartNumberMarker = 2, EncodingType = "url" }, cb)
    end)
    assert.are.equal("GET /k?uploadId=u&encoding-type=url&max-parts=5&part-number-marker=2 HTTP/1.1", req.line)
    assert.are.same({ { PartNumber = "1", ETag = '"aa"', Size = "10" } }, result.data.Part)
  end)

  it("multipartAbort: DELETE ?uploadId= with Content-Length 0", function()
    local result, req = scripted_exchange("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", function(cos, cb)
      cos:multipartAbort({ Bucket = BUCKET, Region = REGION, Key = "dir/k", UploadId = "u" }, cb)
    end)
    assert.is_nil(result.err)
    assert.are.equal(204, result.data.statusCode)
    assert.are.equal("DELETE /dir/k?uploadId=u HTTP/1.1", req.line)
    assert.are.equal("0", req.headers["content-length"])
  end)

  it("refuses a malformed or DTD-carrying XML result instead of guessing", function()
    for _, body in ipairs {
      "<ListPartsResult><Part></ListPartsResult>",
      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><ListPartsResult><Key>&e;</Key></ListPartsResult>',
    } do
      local result = scripted_exchange(http("200 OK", body), function(cos, cb)
        cos:multipartListPart({ Bucket = BUCKET, Region = REGION, Key = "k", UploadId = "u" }, cb)
      end)
      assert.is_nil(result.data)
      assert.are.equal("Error", result.err.code)
      assert.are.equal(200, result.err.statusCode)
    end
  end)
end)
