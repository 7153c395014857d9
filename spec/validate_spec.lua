-- Client-side validation (docs/cos-wire.md#client-side-validation-errors): errors come back before
-- any request goes out, shaped {code = "Error", name = "Error", message, param}. The client points
-- at a real cosd: a check that let a request through would show up in cosd's logs, which every
-- expected validation error checks (and the valid variants must show up there).
local COS = require "cos"
local cosd = require "support.cosd"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

describe("parameter validation", function()
  local srv, cos

  setup(function()
    srv = cosd.start()
    cos = COS.new(srv:client_options { RetryTimes = 0 })
  end)

  teardown(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
  end)

  -- Requests cosd has seen: {request log entries, access log lines}. The request log line is written
  -- before cosd answers, the access log line once the answer is sent: waits (up to 2 s) until both
  -- agree, so the counts are settled.
  local function seen()
    local rl, al
    for _ = 1, 80 do
      rl, al = #srv:request_log(), #srv:access_log()
      if rl == al then break end
      cosd.exec("sleep 0.025")
    end
    return rl, al
  end

  -- Runs fn and checks that cosd saw no request meanwhile; returns fn's results.
  local function no_request(fn)
    local rl0, al0 = seen()
    local a, b = fn()
    local rl1, al1 = seen()
    assert.are.equal(al0, al1, "a request reached cosd (access log)")
    assert.are.equal(rl0, rl1, "a request reached cosd (request log)")
    return a, b
  end

  -- Runs fn, a call that passes validation: exactly one request reaches cosd, and the result is not
  -- a validation error (cosd may refuse it: NoSuchUpload, NoSuchBucket, ...).
  local function reaches_cosd(fn)
    local _, al0 = seen()
    local data, err = fn()
    local _, al1 = seen()
    assert.are.equal(al0 + 1, al1, "one request reaches cosd")
    assert.is_true(data ~= nil or err.code ~= "Error")
    return data, err
  end

  local function params(extra)
    local p = { Bucket = BUCKET, Region = REGION, Key = "k.txt" }
    for k, v in pairs(extra or {}) do p[k] = v end
    return p
  end

  -- Runs op synchronously and expects a validation error naming `param` with `message`.
  local function expect_invalid(op, p, param, message)
    local data, err = no_request(function() return cos[op](cos, p) end)
    assert.is_nil(data)
    assert.are.equal("table", type(err))
    assert.are.equal("Error", err.code)
    assert.are.equal("Error", err.name)
    if param then assert.are.equal(param, err.param) end
    if message then assert.are.equal(message, err.message) end
    assert.is_nil(err.statusCode)
    return err
  end

  it("a valid request does reach the network (sanity check of this spec's setup)", function()
    local data = reaches_cosd(function() return cos:multipartInit(params()) end)
    assert.are.equal("string", type(data.UploadId))
    assert.has_error(function() no_request(function() return cos:multipartInit(params()) end) end)
  end)

  describe("Bucket / Region / Key", function()
    local ops = { "multipartInit", "multipartUpload", "multipartListPart", "multipartComplete", "multipartAbort",
      "postObject" }

    for _, op in ipairs(ops) do
      it(op .. " requires Bucket, Region and Key, in that order", function()
        expect_invalid(op, { Region = REGION, Key = "k" }, "Bucket", "missing param Bucket")
        expect_invalid(op, { Bucket = BUCKET, Key = "k" }, "Region", "missing param Region")
        expect_invalid(op, { Bucket = BUCKET, Region = REGION }, "Key", "missing param Key")
        expect_invalid(op, { Bucket = "", Region = REGION, Key = "k" }, "Bucket", "missing param Bucket")
        expect_invalid(op, { Bucket = BUCKET, Region = REGION, Key = "" }, "Key", "missing param Key")
      end)
    end

    for _, op in ipairs { "multipartList", "getBucket" } do
      it(op .. " requires Bucket and Region but not Key", function()
        expect_invalid(op, { Region = REGION }, "Bucket", "missing param Bucket")
        expect_invalid(op, { Bucket = BUCKET }, "Region", "missing param Region")
        reaches_cosd(function() return cos[op](cos, { Bucket = BUCKET, Region = REGION }) end)
      end)
    end

    it("checks the Bucket format name-appid", function()
      local msg = 'Bucket should format as "test-1250000000".'
      for _, b in ipairs { "examplebucket", "Example-1250000000", "bucket-12x", "-1250000000", "a_b-1", "bucket-" } do
        expect_invalid("multipartInit", params { Bucket = b }, "Bucket", msg)
      end
      for _, b in ipairs { "a-1", "my-bucket-1250000000", "0-0" } do
        reaches_cosd(function() return cos:multipartInit(params { Bucket = b }) end)
      end
    end)

    it("checks the Region format", function()
      expect_invalid("multipartList", { Bucket = BUCKET, Region = "cos.ap-guangzhou" }, "Region",
        'param Region should not be start with "cos."')
      expect_invalid("multipartList", { Bucket = BUCKET, Region = "AP-Guangzhou" }, "Region", "Region format error.")
      expect_invalid("multipartList", { Bucket = BUCKET, Region = "ap_guangzhou" }, "Region", "Region format error.")
    end)

    it("checks parameter types", function()
      expect_invalid("multipartInit", params { Bucket = 1250000000 }, "Bucket", "param Bucket must be a string")
      expect_invalid("multipartInit", params { Region = {} }, "Region", "param Region must be a string")
      expect_invalid("multipartInit", params { Key = 12 }, "Key", "param Key must be a string")
      expect_invalid("multipartList", { Bucket = BUCKET, Region = REGION, Prefix = {} }, "Prefix")
      expect_invalid("getBucket", { Bucket = BUCKET, Region = REGION, Delimiter = true }, "Delimiter")
    end)
  end)

  describe("multipart parameters", function()
    it("requires UploadId for upload, listPart, complete and abort", function()
      expect_invalid("multipartUpload", params { PartNumber = 1, Body = "x" }, "UploadId", "missing param UploadId")
      expect_invalid("multipartListPart", params(), "UploadId", "missing param UploadId")
      expect_invalid("multipartComplete", params { Parts = { { PartNumber = 1, ETag = '"a"' } } }, "UploadId")
      expect_invalid("multipartAbort", params { UploadId = "" }, "UploadId", "missing param UploadId")
    end)

    it("requires a Body (or FilePath) for multipartUpload", function()
      expect_invalid("multipartUpload", params { UploadId = "u", PartNumber = 1 }, "Body", "missing param Body")
    end)

    it("requires PartNumber to be an integer between 1 and 10000", function()
      local msg = "param PartNumber must be an integer between 1 and 10000"
      expect_invalid("multipartUpload", params { UploadId = "u", Body = "x" }, "PartNumber", "missing param PartNumber")
      for _, n in ipairs { 0, 10001, 1.5, -1, "x", "1.0", "0x10", {} } do
        expect_invalid("multipartUpload", params { UploadId = "u", Body = "x", PartNumber = n }, "PartNumber", msg)
      end
      for _, n in ipairs { 1, 10000, "42" } do
        reaches_cosd(function() return cos:multipartUpload(params { UploadId = "u", Body = "x", PartNumber = n }) end)
      end
    end)

    it("requires Parts to be a non-empty array of {PartNumber, ETag}", function()
      local p = params { UploadId = "u" }
      expect_invalid("multipartComplete", p, "Parts", "missing param Parts")
      p.Parts = {}
      expect_invalid("multipartComplete", p, "Parts")
      p.Parts = { { PartNumber = 0, ETag = '"a"' } }
      expect_invalid("multipartComplete", p, "Parts.PartNumber")
      p.Parts = { { PartNumber = 1, ETag = '"a"' }, { PartNumber = 2 } }
      local err = expect_invalid("multipartComplete", p, "Parts.ETag")
      assert.matches("Parts%[2%]", err.message)
      p.Parts = { "not a part" }
      expect_invalid("multipartComplete", p, "Parts")
    end)

    it("bounds TrafficLimit / x-cos-traffic-limit to 819200..838860800", function()
      local base = { UploadId = "u", PartNumber = 1, Body = "x" }
      local function with(extra)
        local p = params(base)
        for k, v in pairs(extra) do p[k] = v end
        return p
      end
      expect_invalid("multipartUpload", with { TrafficLimit = 819199 }, "TrafficLimit")
      expect_invalid("multipartUpload", with { TrafficLimit = "838860801" }, "TrafficLimit")
      expect_invalid("multipartUpload", with { ["x-cos-traffic-limit"] = 100 }, "x-cos-traffic-limit")
      expect_invalid("multipartUpload", with { Headers = { ["X-Cos-Traffic-Limit"] = "1" } }, "x-cos-traffic-limit")
      reaches_cosd(function() return cos:multipartUpload(with { TrafficLimit = 819200 }) end)
      reaches_cosd(function() return cos:multipartUpload(with { TrafficLimit = "838860800" }) end)
    end)
  end)

  describe("appendObject Position", function()
    it("must be a non-negative integer (number or numeric string)", function()
      expect_invalid("appendObject", params { Body = "x" }, "Position", "missing param Position")
      for _, pos in ipairs { -1, 1.5, "abc", "-3" } do
        expect_invalid("appendObject", params { Body = "x", Position = pos }, "Position")
      end
      for _, pos in ipairs { 0, "0", 12 } do
        reaches_cosd(function() return cos:appendObject(params { Body = "x", Position = pos }) end)
      end
    end)
  end)

  describe("postObject", function()
    it("refuses a Key ending in '/' and a missing body", function()
      expect_invalid("postObject", params { Key = "dir/", Body = "x" }, "Key")
      expect_invalid("postObject", params(), "Body")
    end)
  end)

  it("calls the callback with the validation error in async mode, and returns no task id", function()
    local got
    local id, err = no_request(function()
      local i, e = cos:multipartUpload(params { UploadId = "u", PartNumber = 0 }, function(e, d) got = { e = e, d = d } end)
      cos:run()
      return i, e
    end)
    assert.is_nil(id)
    assert.are.equal("PartNumber", err.param)
    assert.are.equal("PartNumber", got.e.param)
    assert.is_nil(got.d)
  end)

  it("never leaks the secret key in validation errors", function()
    local _, err = no_request(function() return cos:multipartInit(params { Bucket = cosd.SECRET_KEY }) end)
    assert.are.equal("Bucket", err.param)
    for k, v in pairs(err) do
      assert.is_nil(tostring(v):find(cosd.SECRET_KEY, 1, true), "secret in err." .. tostring(k))
    end
  end)
end)
