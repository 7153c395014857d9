-- Errors never contain a secret (cos.h): SecretKey, the session token's key material, or the
-- request's Authorization signature must not appear in any field of any error class, at any
-- depth (message, headers, parsed <Error>, url, ...).
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

-- Every string in the error (keys and values, recursively) must be free of every secret.
local function assert_clean(err, secrets)
  assert.is_table(err)
  local all = table.concat(files.flatten(err), "\n")
  for _, s in ipairs(secrets) do
    assert(s and #s >= 8, "secret too short to check")
    assert(not all:find(s, 1, true), "an error field contains a secret: " .. s)
  end
end

-- The q-signature values the client sent (from cosd's request log).
local function sent_signatures(srv)
  local out = {}
  for _, e in ipairs(srv:request_log()) do
    local auth = e.header["authorization"]
    local sig = auth and auth:match("q%-signature=(%x+)")
    if sig then out[#out + 1] = sig end
  end
  return out
end

describe("errors carry no secret", function()
  local srv, dir

  setup(function()
    srv = cosd.start()
    dir = files.tmpdir()
  end)

  teardown(function()
    if srv then srv:cleanup() end
    if dir then cosd.exec("rm -rf " .. cosd.sh_quote(dir)) end
  end)

  it("service error with an <Error> body (bad SecretKey -> 403)", function()
    local wrong = "wrongSECRETkey00000000000000000000"
    local cos = COS.new(srv:client_options { SecretKey = wrong, SecurityToken = "tokenSECRETvalue-123456" })
    local data, err = cos:putObject { Bucket = BUCKET, Region = REGION, Key = "s/a.txt", Body = "x" }
    local _, err2 = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "s/b.txt", Body = "x" }
    cos:close()
    assert.is_nil(data)
    assert.are.equal(403, err.statusCode)
    local secrets = { wrong, cosd.SECRET_KEY }
    for _, sig in ipairs(sent_signatures(srv)) do secrets[#secrets + 1] = sig end
    assert.is_true(#secrets > 2)
    assert_clean(err, secrets)
    assert_clean(err2, secrets)
  end)

  it("HTTP error without a body (HEAD of a missing object -> 404)", function()
    local cos = COS.new(srv:client_options {})
    local data, err = cos:headObject { Bucket = BUCKET, Region = REGION, Key = "s/missing.txt" }
    cos:close()
    assert.is_nil(data)
    assert.are.equal(404, err.statusCode)
    local secrets = { cosd.SECRET_KEY }
    for _, sig in ipairs(sent_signatures(srv)) do secrets[#secrets + 1] = sig end
    assert_clean(err, secrets)
  end)

  it("network error (ECONNREFUSED)", function()
    -- A port nothing listens on: start a server, note its port, stop it.
    local s = cosd.start()
    local endpoint = s.endpoint
    s:cleanup()
    local cos = COS.new({ SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Protocol = "http:", Ip = endpoint,
      RetryTimes = 0, SecurityToken = "tokenSECRETvalue-123456" })
    local data, err = cos:putObject { Bucket = BUCKET, Region = REGION, Key = "s/n.txt", Body = "x" }
    local path = files.random_file(dir .. "/n.bin", 1024)
    local _, err2 = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "s/n.bin", FilePath = path }
    cos:close()
    assert.is_nil(data)
    assert.are.equal("ECONNREFUSED", err.code)
    assert_clean(err, { cosd.SECRET_KEY })
    assert_clean(err2, { cosd.SECRET_KEY })
  end)

  it("validation errors (client options and params)", function()
    local cos = COS.new(srv:client_options {})
    local _, err = cos:putObject { Region = REGION, Key = "s/v.txt", Body = "x" }
    local _, err2 = cos:postObject { Bucket = BUCKET, Region = REGION, Key = "s/v.txt" }
    cos:close()
    assert.is_table(err)
    assert_clean(err, { cosd.SECRET_KEY })
    assert_clean(err2, { cosd.SECRET_KEY })
    local ok, e3 = pcall(COS.new, { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Timeout = "soon" })
    assert.is_false(ok)
    assert_clean(type(e3) == "table" and e3 or { tostring(e3) }, { cosd.SECRET_KEY })
    local ok4, e4 = pcall(COS.getAuthorization, { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Method = 1 / 0 })
    assert.is_false(ok4)
    assert_clean({ tostring(e4) }, { cosd.SECRET_KEY })
  end)
end)
