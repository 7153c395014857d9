-- Temporary credentials (docs/cos-wire.md#temporary-credentials) against cosd: the SecurityToken
-- option, and the getAuthorization client option in both answer shapes (ready Authorization, STS
-- keys), its cache, refresh, errors and timeouts. cosd accepts any non-empty x-cos-security-token.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

-- Request log entries of one method, oldest first.
local function entries(srv, method, min)
  local out = {}
  for _, e in ipairs(srv:request_log(min)) do
    if e.method == method then out[#out + 1] = e end
  end
  return out
end

local function put(cos, key, body)
  return cos:putObject { Bucket = BUCKET, Region = REGION, Key = key, Body = body or key }
end

-- Options for a client without keys of its own.
local function keyless(srv, extra)
  local o = srv:client_options(extra)
  o.SecretId, o.SecretKey = nil, nil
  return o
end

local function sts(extra)
  local now = os.time()
  local c = { TmpSecretId = cosd.SECRET_ID, TmpSecretKey = cosd.SECRET_KEY, SecurityToken = "sts-token-1",
    StartTime = now - 5, ExpiredTime = now + 3600 }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

describe("temporary credentials", function()
  local srv

  before_each(function() srv = cosd.start() end)
  after_each(function() if srv then srv:cleanup() end end)

  it("sends SecurityToken as x-cos-security-token, unsigned, on every attempt", function()
    srv:cleanup()
    srv = cosd.start { faults = { "op=PutObject,nth=1,status=503" } }
    local cos = COS.new(srv:client_options { SecurityToken = "perm-token-xyz" })
    local data, err = put(cos, "t/token.txt")
    cos:close()
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    local puts = entries(srv, "PUT", 2)
    assert.are.equal(2, #puts)
    for _, e in ipairs(puts) do
      assert.are.equal("perm-token-xyz", e.header["x-cos-security-token"])
      local list = e.header["authorization"]:match("q%-header%-list=([^&]*)")
      assert.is_nil(list:find("x-cos-security-token", 1, true))
    end
    assert.are.equal("true", puts[2].header["x-cos-sdk-retry"])
  end)

  it("STS shape: one provider call serves two putObjects, KeyTime = StartTime;ExpiredTime", function()
    local calls, seen = 0, nil
    local creds = sts()
    local cos = COS.new(keyless(srv, { getAuthorization = function(opts, cb)
      calls = calls + 1
      seen = opts
      cb(creds)
    end }))
    assert(put(cos, "t/sts1.txt"))
    assert(put(cos, "t/sts2.txt"))
    cos:close()
    assert.are.equal(1, calls)
    -- the options the provider got
    assert.are.equal(BUCKET, seen.Bucket)
    assert.are.equal(REGION, seen.Region)
    assert.are.equal("PUT", seen.Method)
    assert.are.equal("t/sts1.txt", seen.Key)
    assert.are.equal("/t/sts1.txt", seen.Pathname)
    assert.are.equal("name/cos:PutObject", seen.Scope[1].action)
    assert.are.equal("t/sts1.txt", seen.Scope[1].prefix)
    assert.are.equal(BUCKET .. ".cos." .. REGION .. ".myqcloud.com", seen.Headers.Host)
    assert.are.equal(#"t/sts1.txt", seen.Headers["Content-Length"])
    assert.are.equal(true, seen.ForceSignHost)
    assert.are.equal(0, seen.SystemClockOffset)
    local kt = creds.StartTime .. ";" .. creds.ExpiredTime
    local puts = entries(srv, "PUT", 2)
    assert.are.equal(2, #puts)
    for _, e in ipairs(puts) do
      assert.are.equal("sts-token-1", e.header["x-cos-security-token"])
      assert.truthy(e.header["authorization"]:find("q-sign-time=" .. kt, 1, true))
      assert.truthy(e.header["authorization"]:find("q-ak=" .. cosd.SECRET_ID, 1, true))
    end
  end)

  it("STS with XCosSecurityToken and without StartTime: computed KeyTime; retries reuse the cache", function()
    srv:cleanup()
    srv = cosd.start { faults = { "op=PutObject,nth=1,status=500" } }
    local calls = 0
    local cos = COS.new(keyless(srv, { getAuthorization = function(_, cb)
      calls = calls + 1
      cb { TmpSecretId = cosd.SECRET_ID, TmpSecretKey = cosd.SECRET_KEY, XCosSecurityToken = "x-tok",
        ExpiredTime = tostring(os.time() + 3600) }
    end }))
    assert(put(cos, "t/xtok.txt"))
    cos:close()
    assert.are.equal(1, calls)
    local puts = entries(srv, "PUT", 2)
    assert.are.equal(2, #puts)
    for _, e in ipairs(puts) do assert.are.equal("x-tok", e.header["x-cos-security-token"]) end
  end)

  it("Authorization shape: computed with COS.getAuthorization, used as is, asked for every request", function()
    local calls = 0
    local cos = COS.new(keyless(srv, { getAuthorization = function(opts, cb)
      calls = calls + 1
      local auth = COS.getAuthorization { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY,
        Method = opts.Method, Pathname = opts.Pathname, Query = opts.Query, Headers = opts.Headers }
      cb { Authorization = auth, SecurityToken = "auth-token" }
    end }))
    assert(put(cos, "t/auth1.txt", "one"))
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "t/auth1.txt" })
    cos:close()
    assert.are.equal("one", got.Body)
    assert.are.equal(2, calls)
    local puts = entries(srv, "PUT", 1)
    assert.are.equal("auth-token", puts[1].header["x-cos-security-token"])
  end)

  it("names each request's own COS API in the Scope (name/cos:<API>), for operations and the upload engine", function()
    local actions = {}
    local cos = COS.new(keyless(srv, { ChunkSize = 1024 * 1024, ChunkParallelLimit = 1,
      getAuthorization = function(opts, cb)
        actions[#actions + 1] = opts.Scope[1].action:gsub("^name/cos:", "")
        cb { Authorization = COS.getAuthorization { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY,
          Method = opts.Method, Pathname = opts.Pathname, Query = opts.Query, Headers = opts.Headers } }
      end }))
    local function p(key, extra)
      local t = { Bucket = BUCKET, Region = REGION, Key = key }
      for k, v in pairs(extra or {}) do t[k] = v end
      return t
    end
    local dir = files.tmpdir()
    local ok, err = pcall(function()
      local path = files.random_file(dir .. "/two.bin", 1024 * 1024 + 7)
      assert(cos:sliceUploadFile(p("t/two.bin", { FilePath = path })))
      local id = assert(cos:multipartInit(p("t/mp.bin"))).UploadId
      assert(cos:multipartUpload(p("t/mp.bin", { UploadId = id, PartNumber = 1, Body = "x" })))
      assert(cos:multipartListPart(p("t/mp.bin", { UploadId = id })))
      assert(cos:multipartList { Bucket = BUCKET, Region = REGION })
      assert(cos:multipartAbort(p("t/mp.bin", { UploadId = id })))
      assert(put(cos, "t/o.txt", "o"))
      assert(cos:appendObject(p("t/a.txt", { Position = 0, Body = "a" })))
      assert(cos:headObject(p("t/o.txt")))
      assert(cos:getObject(p("t/o.txt")))
      assert(cos:deleteObject(p("t/o.txt")))
      assert(cos:getBucket { Bucket = BUCKET, Region = REGION })
    end)
    cos:close()
    cosd.exec("rm -rf " .. cosd.sh_quote(dir))
    if not ok then error(err, 0) end
    assert.are.same({
      "ListMultipartUploads", "InitiateMultipartUpload", "UploadPart", "UploadPart", "CompleteMultipartUpload",
      "InitiateMultipartUpload", "UploadPart", "ListParts", "ListMultipartUploads", "AbortMultipartUpload",
      "PutObject", "AppendObject", "HeadObject", "GetObject", "DeleteObject", "GetBucket",
    }, actions)
  end)

  it("refreshes STS credentials that expire within 60 s", function()
    local calls = 0
    local cos = COS.new(keyless(srv, { getAuthorization = function(_, cb)
      calls = calls + 1
      -- the first two answers are about to expire: never reused; the third is good for an hour
      cb(sts { SecurityToken = "tok-" .. calls, ExpiredTime = os.time() + (calls < 3 and 50 or 3600) })
    end }))
    for i = 1, 4 do assert(put(cos, "t/refresh" .. i .. ".txt")) end
    cos:close()
    assert.are.equal(3, calls)
    local puts = entries(srv, "PUT", 4)
    assert.are.equal("tok-1", puts[1].header["x-cos-security-token"])
    assert.are.equal("tok-2", puts[2].header["x-cos-security-token"])
    assert.are.equal("tok-3", puts[3].header["x-cos-security-token"])
    assert.are.equal("tok-3", puts[4].header["x-cos-security-token"])
  end)

  it("answers given later, from another poll step, release the waiting requests", function()
    local pending = {}
    local cos = COS.new(keyless(srv, { getAuthorization = function(_, cb) pending[#pending + 1] = cb end }))
    local results = {}
    for i = 1, 3 do
      cos:putObject({ Bucket = BUCKET, Region = REGION, Key = "t/later" .. i .. ".txt", Body = "x" },
        function(err, data) results[i] = err or data end)
    end
    for _ = 1, 5 do cos:poll(10) end
    assert.is_true(#pending >= 1)
    assert.is_nil(results[1])
    pending[1](sts()) -- one STS answer releases every waiting request
    cos:run()
    for _, cb in ipairs(pending) do cb(sts()) end -- late answers are ignored
    cos:close()
    for i = 1, 3 do assert.are.equal(200, results[i].statusCode) end
  end)

  it("a provider that raises or calls back with an error fails the operation with that error", function()
    local cos = COS.new(keyless(srv, { getAuthorization = function() error("no credentials for you", 0) end }))
    local data, err = put(cos, "t/err1.txt")
    cos:close()
    assert.is_nil(data)
    assert.truthy(err.message:find("no credentials for you", 1, true))

    cos = COS.new(keyless(srv, { getAuthorization = function(_, cb) cb { code = "Denied", message = "sts says no" } end }))
    data, err = put(cos, "t/err2.txt")
    cos:close()
    assert.is_nil(data)
    assert.are.equal("Denied", err.code)
    assert.are.equal("sts says no", err.message)

    cos = COS.new(keyless(srv, { getAuthorization = function(_, cb) cb { TmpSecretId = "x" } end }))
    data, err = put(cos, "t/err3.txt")
    cos:close()
    assert.is_nil(data)
    assert.are.equal("CredentialsError", err.code)
  end)

  it("a provider that never answers fails the request after Timeout instead of hanging run()", function()
    local cos = COS.new(keyless(srv, { Timeout = 300, getAuthorization = function() end }))
    local t0 = os.time()
    local data, err = put(cos, "t/never.txt")
    cos:close()
    assert.is_nil(data)
    assert.are.equal("ETIMEDOUT", err.code)
    assert.truthy(err.message:find("getAuthorization", 1, true))
    assert.is_true(os.time() - t0 <= 3)
    assert.are.equal(0, #entries(srv, "PUT"))
  end)

  it("postObject signs its form with the STS keys and carries the token field", function()
    local cos = COS.new(keyless(srv, { getAuthorization = function(_, cb) cb(sts { SecurityToken = "form-tok" }) end }))
    local data, err = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "t/form.txt", Body = "form" }
    cos:close()
    assert.is_nil(err)
    assert.are.equal(204, data.statusCode)
    local post = entries(srv, "POST", 1)[1]
    assert.is_nil(post.header["authorization"])
    assert.are.equal("form-tok", post.header["x-cos-security-token"])
  end)

  it("errors never contain TmpSecretKey or the request's signature", function()
    local secret = "tmpSECRETkeyWRONG0000000000000000"
    local cos = COS.new(keyless(srv, { getAuthorization = function(_, cb) cb(sts { TmpSecretKey = secret }) end }))
    local data, err = put(cos, "t/denied.txt")
    cos:close()
    assert.is_nil(data)
    assert.are.equal(403, err.statusCode)
    local all = table.concat(files.flatten(err), "\n")
    assert.is_nil(all:find(secret, 1, true))
    local sig = entries(srv, "PUT", 1)[1].header["authorization"]:match("q%-signature=(%x+)")
    assert.is_nil(all:find(sig, 1, true))
  end)

  it("rejects a getAuthorization option that is not a function", function()
    assert.has_error(function() COS.new { getAuthorization = "nope" } end)
  end)
end)
