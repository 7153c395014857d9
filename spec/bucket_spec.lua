-- getBucket (list objects) against a real cosd: the Node SDK's shape (children of
-- <ListBucketResult> as strings, Contents and CommonPrefixes always arrays), paging, grouping.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION

describe("getBucket against cosd", function()
  local srv, cos

  setup(function()
    srv = cosd.start()
    cos = COS.new(srv:client_options())
    for _, key in ipairs { "docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "img/x.png", "root.txt", "sp ace+plus.txt" } do
      assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = key, Body = "body of " .. key })
    end
  end)

  teardown(function()
    if cos then cos:close() end
    if srv then srv:cleanup() end
  end)

  local function list(extra)
    local p = { Bucket = BUCKET, Region = REGION }
    for k, v in pairs(extra or {}) do p[k] = v end
    local data, err = cos:getBucket(p)
    assert.is_nil(err)
    return data
  end

  local function keys(data)
    local out = {}
    for i, c in ipairs(data.Contents) do out[i] = c.Key end
    return out
  end

  it("lists every object with the SDK's fields, all values strings", function()
    local data = list()
    assert.are.equal(200, data.statusCode)
    assert.are.equal("table", type(data.headers))
    assert.are.equal("string", type(data.RequestId))
    assert.are.equal(BUCKET, data.Name)
    assert.are.equal("", data.Prefix)
    assert.are.equal("", data.Marker)
    assert.are.equal("1000", data.MaxKeys)
    assert.are.equal("false", data.IsTruncated)
    assert.are.same({ "docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "img/x.png", "root.txt", "sp ace+plus.txt" },
      keys(data))
    assert.are.same({}, data.CommonPrefixes)
    local c = data.Contents[1]
    assert.are.equal("docs/a.txt", c.Key)
    assert.are.equal(tostring(#"body of docs/a.txt"), c.Size)
    assert.are.equal('"' .. files.md5_string("body of docs/a.txt") .. '"', c.ETag)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d", c.LastModified)
    assert.are.equal("string", type(c.StorageClass))
    assert.are.equal("table", type(c.Owner))
    for _, entry in ipairs(data.Contents) do
      for k, v in pairs(entry) do
        if k ~= "Owner" then assert.are.equal("string", type(v), k) end
      end
    end
  end)

  it("filters by Prefix and groups by Delimiter into CommonPrefixes (always an array)", function()
    local data = list { Prefix = "docs/", Delimiter = "/" }
    assert.are.equal("docs/", data.Prefix)
    assert.are.same({ "docs/a.txt", "docs/b.txt" }, keys(data))
    assert.are.equal(1, #data.CommonPrefixes) -- a single <CommonPrefixes> is still an array
    assert.are.same({ Prefix = "docs/sub/" }, data.CommonPrefixes[1])

    local top = list { Delimiter = "/" }
    assert.are.same({ "root.txt", "sp ace+plus.txt" }, keys(top))
    local cps = {}
    for i, cp in ipairs(top.CommonPrefixes) do cps[i] = cp.Prefix end
    assert.are.same({ "docs/", "img/" }, cps)
  end)

  it("gives empty arrays when nothing matches", function()
    local data = list { Prefix = "nothing/" }
    assert.are.same({}, data.Contents)
    assert.are.same({}, data.CommonPrefixes)
    assert.are.equal("false", data.IsTruncated)
  end)

  it("pages with MaxKeys / Marker / NextMarker", function()
    local seen, marker, pages = {}, nil, 0
    repeat
      local data = list { MaxKeys = 2, Marker = marker }
      pages = pages + 1
      assert.is_true(#data.Contents <= 2)
      for _, k in ipairs(keys(data)) do seen[#seen + 1] = k end
      if data.IsTruncated == "true" then
        assert.are.equal("string", type(data.NextMarker))
        marker = data.NextMarker
      else
        marker = nil
      end
    until not marker or pages > 10
    assert.are.equal(3, pages)
    assert.are.equal(6, #seen)
    local p = list { MaxKeys = "1" }
    assert.are.equal("1", p.MaxKeys)
    assert.are.equal("true", p.IsTruncated)
  end)

  it("sends prefix= always and the optional params under their wire names", function()
    local before = #srv:request_log() -- written before each answer: complete, unlike the access log
    list()
    list { Prefix = "docs/", Delimiter = "/", Marker = "docs/a.txt", MaxKeys = 5, EncodingType = "url" }
    -- the request log is written before cosd answers, so both lines are there (in order)
    local log = srv:request_log(before + 2)
    assert.are.equal("/?prefix=", log[before + 1].target)
    local t = log[before + 2].target
    assert.matches("^/%?prefix=docs%%2F", t)
    assert.matches("delimiter=%%2F", t)
    assert.matches("marker=docs%%2Fa%.txt", t)
    assert.matches("max%-keys=5", t)
    assert.matches("encoding%-type=url", t)
  end)

  it("returns url-encoded keys with EncodingType = 'url'", function()
    local data = list { Prefix = "sp", EncodingType = "url" }
    assert.are.equal(1, #data.Contents)
    assert.are_not.equal("sp ace+plus.txt", data.Contents[1].Key)
    assert.matches("^sp", data.Contents[1].Key)
  end)

  it("reports a missing bucket as NoSuchBucket", function()
    local data, err = cos:getBucket { Bucket = "missing-1250000000", Region = REGION }
    assert.is_nil(data)
    assert.are.equal("NoSuchBucket", err.code)
    assert.are.equal(404, err.statusCode)
  end)

  it("runs asynchronously with a callback", function()
    local got
    local id = cos:getBucket({ Bucket = BUCKET, Region = REGION, Prefix = "img/" }, function(err, data)
      got = { err = err, data = data }
    end)
    assert.are.equal("number", type(id))
    cos:run()
    assert.is_nil(got.err)
    assert.are.same({ "img/x.png" }, keys(got.data))
  end)
end)
