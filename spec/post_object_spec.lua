-- POST Object (HTML form upload, docs/cos-wire.md#post-object):
-- * COS.getPostPolicy: the pure helper that gives a web page its signed form fields;
-- * a browser-style form posted with `curl -F` from those fields to a real cosd;
-- * cos:postObject, the client's own form upload.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"
local json = require "dkjson"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local HOST = BUCKET .. ".cos." .. REGION .. ".myqcloud.com"

-- Default options with `extra` applied (false removes an option).
local function policy_opts(extra)
  local o = { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Bucket = BUCKET, Region = REGION, Key = "a.txt" }
  for k, v in pairs(extra or {}) do
    if v == false then o[k] = nil else o[k] = v end
  end
  return o
end

local function b64decode(s)
  return (cosd.capture("printf %s " .. cosd.sh_quote(s) .. " | base64 -d"))
end

-- The conditions as a set of JSON texts, for order-independent checks.
local function condition_set(doc)
  local set = {}
  for _, c in ipairs(doc.conditions) do set[json.encode(c)] = true end
  return set
end

describe("COS.getPostPolicy", function()
  it("returns url, policy, expiration and the signed form fields", function()
    local p = assert(COS.getPostPolicy(policy_opts { KeyTime = "1567150692;1567157892" }))
    assert.are.equal("https://" .. HOST .. "/", p.url)
    local f = p.fields
    assert.are.equal("a.txt", f.key)
    assert.are.equal("sha1", f["q-sign-algorithm"])
    assert.are.equal(cosd.SECRET_ID, f["q-ak"])
    assert.are.equal("1567150692;1567157892", f["q-key-time"])
    assert.matches("^%x+$", f["q-signature"])
    assert.are.equal(40, #f["q-signature"])
    assert.are.equal(p.policy, b64decode(f.policy))
    assert.are.equal("2019-08-30T09:38:12.000Z", p.expiration)
    local doc = assert(json.decode(p.policy))
    assert.are.equal(p.expiration, doc.expiration)
    local set = condition_set(doc)
    assert.is_true(set['{"q-sign-algorithm":"sha1"}'])
    assert.is_true(set['{"q-ak":"' .. cosd.SECRET_ID .. '"}'])
    assert.is_true(set['{"q-sign-time":"1567150692;1567157892"}'])
    assert.is_true(set['{"bucket":"' .. BUCKET .. '"}'])
    assert.is_true(set['{"key":"a.txt"}'])
    for k in pairs(p.fields) do assert.is_nil(tostring(p.fields[k]):find(cosd.SECRET_KEY, 1, true)) end
    assert.is_nil(p.policy:find(cosd.SECRET_KEY, 1, true))
  end)

  it("signs as COS does: hex(HMAC-SHA1(hex(HMAC-SHA1(SecretKey, KeyTime)), hex(SHA1(policy))))", function()
    local p = assert(COS.getPostPolicy(policy_opts { KeyTime = "1567150692;1567157892" }))
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(p.policy)
    f:close()
    local sig = cosd.capture(cosd.sh_quote(cosd.tools .. "/cos-sign") .. " --key " .. cosd.sh_quote(cosd.SECRET_KEY) ..
      " --post-policy " .. cosd.sh_quote(path) .. " --key-time '1567150692;1567157892'")
    os.remove(path)
    assert.are.equal(sig:match("%x+"), p.fields["q-signature"])
  end)

  it("defaults to a 900 s window starting a second ago", function()
    local before = os.time()
    local p = assert(COS.getPostPolicy(policy_opts()))
    local s, e = p.fields["q-key-time"]:match("^(%d+);(%d+)$")
    s, e = tonumber(s), tonumber(e)
    assert.is_true(s >= before - 2 and s <= os.time())
    assert.are.equal(901, e - s)
    assert.are.equal(os.date("!%Y-%m-%dT%H:%M:%S.000Z", e), p.expiration)
    local p2 = assert(COS.getPostPolicy(policy_opts { Expires = 60 }))
    local s2, e2 = p2.fields["q-key-time"]:match("^(%d+);(%d+)$")
    assert.are.equal(61, tonumber(e2) - tonumber(s2))
  end)

  it("KeyPrefix gives a starts-with condition and the ${filename} key", function()
    local p = assert(COS.getPostPolicy(policy_opts { Key = false, KeyPrefix = "uploads/user1/" }))
    assert.are.equal("uploads/user1/${filename}", p.fields.key)
    local set = condition_set(json.decode(p.policy))
    assert.is_true(set['["starts-with","$key","uploads/user1/"]'])
  end)

  it("pins Fields exactly, adds ContentLengthRange and passes Conditions through", function()
    local p = assert(COS.getPostPolicy(policy_opts {
      Fields = { ["Content-Type"] = "image/png", success_action_status = "201", ["x-cos-meta-user"] = "u1" },
      ContentLengthRange = { min = 1, max = 1048576 },
      Conditions = { { "starts-with", "$Cache-Control", "" }, { acl = "private" } },
    }))
    assert.are.equal("image/png", p.fields["Content-Type"])
    assert.are.equal("201", p.fields.success_action_status)
    assert.are.equal("u1", p.fields["x-cos-meta-user"])
    local set = condition_set(json.decode(p.policy))
    assert.is_true(set['{"Content-Type":"image/png"}'])
    assert.is_true(set['{"success_action_status":"201"}'])
    assert.is_true(set['{"x-cos-meta-user":"u1"}'])
    assert.is_true(set['["content-length-range",1,1048576]'])
    assert.is_true(set['["starts-with","$Cache-Control",""]'])
    assert.is_true(set['{"acl":"private"}'])
    local p2 = assert(COS.getPostPolicy(policy_opts { ContentLengthRange = { 0, 10 } }))
    assert.is_true(condition_set(json.decode(p2.policy))['["content-length-range",0,10]'])
  end)

  it("escapes strings as JSON: quotes, backslashes, control characters, UTF-8", function()
    local tricky = 'dir/"quoted"\\back\nline\ttab\1\31é中文.txt'
    local p = assert(COS.getPostPolicy(policy_opts { Key = tricky, Fields = { ["x-cos-meta-note"] = "a\"b\\c\r\n" } }))
    local doc = assert(json.decode(p.policy))
    local found_key, found_meta
    for _, c in ipairs(doc.conditions) do
      if type(c) == "table" and c.key then found_key = c.key end
      if type(c) == "table" and c["x-cos-meta-note"] then found_meta = c["x-cos-meta-note"] end
    end
    assert.are.equal(tricky, found_key)
    assert.are.equal("a\"b\\c\r\n", found_meta)
    assert.is_nil(p.policy:find("[%z\1-\31]")) -- no raw control characters in the JSON text
    assert.are.equal(tricky, p.fields.key)
  end)

  it("builds the url from Protocol and Domain", function()
    local p = assert(COS.getPostPolicy(policy_opts { Protocol = "http:" }))
    assert.are.equal("http://" .. HOST .. "/", p.url)
    local p2 = assert(COS.getPostPolicy(policy_opts { Domain = "{Bucket}.cdn.example.com" }))
    assert.are.equal("https://" .. BUCKET .. ".cdn.example.com/", p2.url)
  end)

  it("adds x-cos-security-token for temporary credentials", function()
    local p = assert(COS.getPostPolicy(policy_opts { SecurityToken = "tok123" }))
    assert.are.equal("tok123", p.fields["x-cos-security-token"])
  end)

  it("rejects bad options with an error naming the parameter", function()
    local cases = {
      { policy_opts { SecretId = "" }, "SecretId" },
      { policy_opts { SecretKey = false }, "SecretKey" },
      { policy_opts { Bucket = "nobucket" }, "Bucket" },
      { policy_opts { Region = "cos.ap-guangzhou" }, "Region" },
      { policy_opts { Key = false }, "Key" },
      { policy_opts { Expires = -5 }, "Expires" },
      { policy_opts { KeyTime = "later" }, "KeyTime" },
      { policy_opts { ContentLengthRange = { min = 10, max = 1 } }, "ContentLengthRange" },
      { policy_opts { Fields = { a = {} } }, "Fields" },
      { policy_opts { Conditions = "x" }, "Conditions" },
    }
    for _, c in ipairs(cases) do
      local res, err = COS.getPostPolicy(c[1])
      assert.is_nil(res)
      assert.are.equal("table", type(err))
      assert.are.equal(c[2], err.param)
      assert.are.equal("Error", err.code)
    end
  end)
end)

describe("a browser form (curl -F) built from getPostPolicy, posted to cosd", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open() end)
  teardown(function() cosd.close(srv, cos, dir) end)

  -- Posts the fields (in the policy's order, `file` last) like a browser; returns status and headers.
  local function post_form(policy, file_path, override)
    local args = { "curl -s -o /dev/null -D -", "-H " .. cosd.sh_quote("Host: " .. HOST), "-w '%{http_code}'" }
    local order = { "key" }
    for k in pairs(policy.fields) do if k ~= "key" then order[#order + 1] = k end end
    for _, k in ipairs(order) do
      local v = (override and override[k]) or policy.fields[k]
      args[#args + 1] = "--form-string " .. cosd.sh_quote(k .. "=" .. v)
    end
    args[#args + 1] = "-F " .. cosd.sh_quote("file=@" .. file_path)
    args[#args + 1] = cosd.sh_quote("http://" .. srv.endpoint .. "/")
    local out = cosd.capture(table.concat(args, " "))
    local headers = {}
    for line in out:gmatch("[^\r\n]+") do
      local k, v = line:match("^([^:]+):%s*(.-)%s*$")
      if k then headers[k:lower()] = v end
    end
    return tonumber(out:match("(%d+)$")), headers
  end

  local function get(key) return cos:getObject { Bucket = BUCKET, Region = REGION, Key = key } end

  it("uploads the file: 204, quoted ETag, the object readable back", function()
    local path = files.random_file(dir .. "/photo.bin", 5000)
    local policy = assert(COS.getPostPolicy(policy_opts { Key = "form/photo.bin" }))
    local status, headers = post_form(policy, path)
    assert.are.equal(204, status)
    assert.are.equal('"' .. files.md5_file(path) .. '"', headers.etag)
    local obj = assert(get("form/photo.bin"))
    assert.are.equal(5000, #obj.Body)
    assert.are.equal(headers.etag, obj.ETag)
  end)

  it("substitutes ${filename} under a KeyPrefix, keeps pinned fields and honours success_action_status", function()
    local path = files.random_file(dir .. "/cat.png", 100)
    local policy = assert(COS.getPostPolicy(policy_opts {
      Key = false, KeyPrefix = "form/user1/",
      Fields = { ["Content-Type"] = "image/png", ["x-cos-meta-user"] = "u1", success_action_status = "201" },
    }))
    local status = post_form(policy, path)
    assert.are.equal(201, status)
    local h = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "form/user1/cat.png" })
    assert.are.equal("image/png", h.headers["content-type"])
    assert.are.equal("u1", h.headers["x-cos-meta-user"])
  end)

  it("is refused when a pinned field is changed (403 AccessDenied)", function()
    local path = files.random_file(dir .. "/x.bin", 10)
    local policy = assert(COS.getPostPolicy(policy_opts { Key = "form/pinned.bin", Fields = { ["Content-Type"] = "image/png" } }))
    local status = post_form(policy, path, { ["Content-Type"] = "text/html" })
    assert.are.equal(403, status)
    local _, err = get("form/pinned.bin")
    assert.are.equal("NoSuchKey", err.code)
  end)

  it("is refused outside the content-length-range", function()
    local path = files.random_file(dir .. "/big.bin", 2048)
    local policy = assert(COS.getPostPolicy(policy_opts { Key = "form/big.bin", ContentLengthRange = { min = 1, max = 1024 } }))
    local status = post_form(policy, path)
    assert.are.equal(400, status)
  end)

  it("is refused once expired, or with a tampered signature", function()
    local path = files.random_file(dir .. "/old.bin", 10)
    local now = os.time()
    local expired = assert(COS.getPostPolicy(policy_opts { Key = "form/old.bin", KeyTime = (now - 100) .. ";" .. (now - 50) }))
    assert.are.equal(403, (post_form(expired, path)))
    local ok = assert(COS.getPostPolicy(policy_opts { Key = "form/old.bin" }))
    assert.are.equal(403, (post_form(ok, path, { ["q-signature"] = string.rep("0", 40) })))
  end)
end)

describe("cos:postObject against cosd", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open({ ProgressInterval = 10 }) end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function post(extra)
    local p = { Bucket = BUCKET, Region = REGION }
    for k, v in pairs(extra) do p[k] = v end
    return cos:postObject(p)
  end

  it("uploads a string: 204, ETag, Location, RequestId", function()
    local data, err = post { Key = "post/hello.txt", Body = "hello form" }
    assert.is_nil(err)
    assert.are.equal(204, data.statusCode)
    assert.are.equal('"' .. files.md5_string("hello form") .. '"', data.ETag)
    assert.are.equal(HOST .. "/post/hello.txt", data.Location)
    assert.are.equal("string", type(data.RequestId))
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "post/hello.txt" })
    assert.are.equal("hello form", got.Body)
  end)

  it("sends the named params and x-cos-meta-* as form fields that cosd stores", function()
    local data = assert(post { Key = "post/meta.txt", Body = "m", ContentType = "text/x-custom",
      CacheControl = "max-age=60", ["x-cos-meta-who"] = "me", SuccessActionStatus = 201 })
    assert.are.equal(201, data.statusCode)
    local h = assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = "post/meta.txt" })
    assert.are.equal("text/x-custom", h.headers["content-type"])
    assert.are.equal("max-age=60", h.headers["cache-control"])
    assert.are.equal("me", h.headers["x-cos-meta-who"])
  end)

  it("uploads from FilePath, from an io file and from a function, with progress", function()
    local path = files.random_file(dir .. "/src.bin", 700 * 1024)
    local md5 = '"' .. files.md5_file(path) .. '"'
    local events = {}
    local d1 = assert(post { Key = "post/path.bin", FilePath = path, onProgress = function(p) events[#events + 1] = p end })
    assert.are.equal(md5, d1.ETag)
    assert.are.equal(1, events[#events].percent)

    local f = assert(io.open(path, "rb"))
    local d2 = assert(post { Key = "post/fd.bin", Body = f, ContentLength = 700 * 1024 })
    f:close()
    assert.are.equal(md5, d2.ETag)

    local chunks, i = { "pulled ", "body" }, 0
    local d3 = assert(post { Key = "post/pull.txt", ContentLength = 11, Body = function() i = i + 1; return chunks[i] end })
    assert.are.equal('"' .. files.md5_string("pulled body") .. '"', d3.ETag)
  end)

  it("keeps a key with special characters intact", function()
    local key = "post/dir/sp ace+\"q\"(1).txt"
    local data = assert(post { Key = key, Body = "x" })
    assert.are.equal(HOST .. "/post/dir/sp%20ace%2B%22q%22%281%29.txt", data.Location)
    assert(cos:headObject { Bucket = BUCKET, Region = REGION, Key = key })
  end)

  it("fails like other operations on a service error (bad credentials)", function()
    local bad = COS.new(srv:client_options { SecretKey = "wrong-secret-key-0000000000000000" })
    local data, err = bad:postObject { Bucket = BUCKET, Region = REGION, Key = "post/denied.txt", Body = "x" }
    bad:close()
    assert.is_nil(data)
    assert.are.equal(403, err.statusCode)
    assert.are.equal("string", type(err.code))
  end)
end)
