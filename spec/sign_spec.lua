-- COS.getAuthorization and cos:getObjectUrl, byte for byte.
-- Every expected Authorization below was derived twice, independently: with a 20-line Python
-- implementation of docs/cos-wire.md#signing (hashlib/hmac, urllib.parse.quote(safe='-_.~')), which
-- also reproduces the DOC 7778 FormatString SHA1s 54ecfe22... (GET) and 8b2751e7... (PUT), and with
-- the real cos-nodejs-sdk-v5 3.0.0 COS.getAuthorization (spec/node). Both agreed on every vector.
local COS = require "cos"

local KT = "1700000000;1700000900"
local SID, SKEY = "AKIDsecretid", "secretkey123"
local HOST = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"

local function auth_string(sid, kt, headers, params, sig)
  return ("q-sign-algorithm=sha1&q-ak=%s&q-sign-time=%s&q-key-time=%s&q-header-list=%s&q-url-param-list=%s&q-signature=%s")
      :format(sid, kt, kt, headers, params, sig)
end

describe("COS.getAuthorization", function()
  it("reproduces the Go SDK's published vector", function()
    local a = COS.getAuthorization {
      SecretId = "QmFzZTY0IGlzIGEgZ2VuZXJp", SecretKey = "AKIDZfbOA78asKUYBcXFrJD0a1ICvR98JM",
      Method = "put", Pathname = "/testfile2", KeyTime = "1480932292;1481012292",
      Headers = {
        Host = "testbucket-125000000.cos.ap-guangzhou.myqcloud.com",
        ["x-cos-content-sha1"] = "db8ac1c259eb89d4a131b253bacfca5f319d54f2",
        ["x-cos-stroage-class"] = "nearline",
      },
    }
    assert.are.equal(auth_string("QmFzZTY0IGlzIGEgZ2VuZXJp", "1480932292;1481012292",
      "host;x-cos-content-sha1;x-cos-stroage-class", "", "ce4ac0ecbcdb30538b3fee0a97cc6389694ce53a"), a)
  end)

  it("signs the DOC 7778 GET example (decoded CJK path, query, Date not signed by the Node rules)", function()
    local a = COS.getAuthorization {
      SecretId = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", SecretKey = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz",
      Method = "GET", Pathname = "/exampleobject(腾讯云)", KeyTime = "1557989753;1557996953",
      Query = { ["response-content-type"] = "application/octet-stream", ["response-cache-control"] = "max-age=600" },
      Headers = { Date = "Thu, 16 May 2019 06:55:53 GMT", Host = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com" },
    }
    assert.are.equal(auth_string("AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", "1557989753;1557996953", "host",
      "response-cache-control;response-content-type", "cf18ded2f669fcafa4b98e02c2a3fdb2b2e55c43"), a)
  end)

  it("signs the DOC 7778 PUT example headers", function()
    local a = COS.getAuthorization {
      SecretId = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", SecretKey = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz",
      Method = "PUT", Pathname = "/exampleobject(腾讯云)", KeyTime = "1557989151;1557996351",
      Headers = {
        ["Content-Type"] = "text/plain", ["Content-Length"] = "13", ["Content-MD5"] = "mQ/fVh815F3k6TAUm8m0eg==",
        Date = "Thu, 16 May 2019 06:45:51 GMT", ["x-cos-acl"] = "private",
        ["x-cos-grant-read"] = 'uin="100000000011"', Host = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
      },
    }
    assert.are.equal(auth_string("AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", "1557989151;1557996351",
      "content-length;content-md5;content-type;host;x-cos-acl;x-cos-grant-read", "",
      "fc4e4717b501da12715d5fc84a4880a87ad2b7ab"), a)
  end)

  it("keeps an odd Key raw in the signed path (spaces, + ~ * ! ' ( ))", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "put", Key = "folder/my file+(1)*!'~.txt", KeyTime = KT,
      Headers = { Host = HOST, ["Content-Length"] = "13" },
    }
    assert.are.equal(auth_string(SID, KT, "content-length;host", "", "5fb171187c6ccf43ae5a0641449c1ac1c76f0178"), a)
  end)

  it("signs a CJK path and a query value with quotes, spaces and CJK", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "get", Pathname = "/目录/文件 名.txt", KeyTime = KT,
      Query = { ["response-content-disposition"] = 'attachment; filename="文件.txt"' },
      Headers = { Host = HOST },
    }
    assert.are.equal(auth_string(SID, KT, "host", "response-content-disposition",
      "2e2e613c2ab93bd8c8644278ced2c9e88bc650b4"), a)
  end)

  it("signs an empty-valued param (uploads) and drops unsignable headers (User-Agent)", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "post", Key = "big/file.bin", KeyTime = KT,
      Query = { uploads = "" },
      Headers = {
        Host = HOST, ["Content-Length"] = "0", ["Content-Type"] = "application/x-test",
        ["x-cos-meta-k"] = "v", ["x-cos-storage-class"] = "STANDARD", ["User-Agent"] = "cos-nodejs-sdk-v5-3.0.0",
      },
    }
    assert.are.equal(auth_string(SID, KT, "content-length;content-type;host;x-cos-meta-k;x-cos-storage-class",
      "uploads", "db3b4b8a0d69bdc9221d50d0abc77fc01e1d657f"), a)
  end)

  it("lower-cases mixed-case header and param names, keeps values", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "Put", Key = "a/b.txt", KeyTime = KT,
      Query = { partNumber = "1", uploadId = "1700-AbC_x", Versionid = "v 1" },
      Headers = {
        HOST = HOST, ["X-Cos-Meta-Author"] = "Alice Smith", ["Content-MD5"] = "1B2M2Y8AsgTpgAmY7PhCfg==",
        ["X-Custom"] = "not signed",
      },
    }
    assert.are.equal(auth_string(SID, KT, "content-md5;host;x-cos-meta-author", "partnumber;uploadid;versionid",
      "696ba307f279419360de6978dbc53d2831889d70"), a)
  end)

  it("stringifies numbers in Query and Headers (append=&position=0)", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "post", Key = "app.log", KeyTime = KT,
      Query = { append = "", position = 0 }, Headers = { Host = HOST, ["Content-Length"] = 5 },
    }
    assert.are.equal(auth_string(SID, KT, "content-length;host", "append;position",
      "dbf165ab5b5a02556e48c2b2327861fc865fbf6c"), a)
  end)

  it("encodes names in the lists (lower-case hex) and sorts them", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "get", Key = "k", KeyTime = KT,
      Query = { ["a b"] = "c/d", ["Z=1"] = "%", prefix = "目录/" },
      Headers = { ["x-cos-meta-名字"] = "值 v" },
    }
    assert.are.equal(auth_string(SID, KT, "x-cos-meta-%e5%90%8d%e5%ad%97", "a%20b;prefix;z%3d1",
      "38895ebce5d91343b37e4583105f3d4e9d04d85b"), a)
  end)

  it("gives empty lists for no headers and no params", function()
    local a = COS.getAuthorization { SecretId = SID, SecretKey = SKEY, Method = "get", Pathname = "/", KeyTime = KT }
    assert.are.equal(auth_string(SID, KT, "", "", "096bdf04dbab91cea779c4a54e2178d63b1db1e5"), a)
  end)

  it("signs an empty-valued header as key= (the static function keeps it, as the Node SDK does)", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "put", Key = "e.txt", KeyTime = KT,
      Headers = { Host = HOST, ["Cache-Control"] = "", ["x-cos-meta-empty"] = "" },
    }
    assert.are.equal(auth_string(SID, KT, "cache-control;host;x-cos-meta-empty", "",
      "d5e2faf76e59cd41f91cdd3f8638129cbc149fd4"), a)
  end)

  it("adds the virtual-hosted Host when Bucket and Region are given; Key keeps its leading /", function()
    local a = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "get", Bucket = "examplebucket-1250000000",
      Region = "ap-guangzhou", Key = "/a/b.txt", KeyTime = KT,
    }
    assert.are.equal(auth_string(SID, KT, "host", "", "5b272d6f0a5007ef3de944ed9f7886d1c1b1d3e3"), a)
  end)

  it("signs '//a' as '//a'", function()
    local a = COS.getAuthorization { SecretId = SID, SecretKey = SKEY, Method = "delete", Key = "//a", KeyTime = KT }
    assert.are.equal(auth_string(SID, KT, "", "", "5ff8bb388a52597454fee45a2ea63fe337914b44"), a)
  end)

  it("defaults KeyTime to round(now)-1 .. +900, and honours Expires", function()
    local before = os.time()
    local a = COS.getAuthorization { SecretId = SID, SecretKey = SKEY, Key = "x" }
    local s, e = a:match("q%-sign%-time=(%d+);(%d+)&")
    s, e = tonumber(s), tonumber(e)
    assert.is_true(s >= before - 2 and s <= os.time() + 1)
    assert.are.equal(900, e - s)
    assert.truthy(a:find("q-key-time=" .. s .. ";" .. e .. "&", 1, true))
    local b = COS.getAuthorization { SecretId = SID, SecretKey = SKEY, Key = "x", Expires = 60 }
    local s2, e2 = b:match("q%-sign%-time=(%d+);(%d+)&")
    assert.are.equal(60, tonumber(e2) - tonumber(s2))
  end)

  it("applies SystemClockOffset (ms) to the default KeyTime", function()
    local a = COS.getAuthorization { SecretId = SID, SecretKey = SKEY, Key = "x", SystemClockOffset = 3600 * 1000 }
    local s = tonumber(a:match("q%-sign%-time=(%d+);"))
    assert.is_true(math.abs(s - (os.time() + 3600)) <= 2)
  end)

  it("is deterministic with a KeyTime", function()
    local o = { SecretId = SID, SecretKey = SKEY, Method = "put", Key = "k", KeyTime = KT, Headers = { Host = HOST } }
    assert.are.equal(COS.getAuthorization(o), COS.getAuthorization(o))
  end)

  it("names a missing SecretId / SecretKey, without leaking the other secret", function()
    local ok, err = pcall(COS.getAuthorization, { SecretId = SID, Key = "x" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("SecretKey", 1, true))
    ok, err = pcall(COS.getAuthorization, { SecretKey = SKEY, Key = "x" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("SecretId", 1, true))
    assert.falsy(tostring(err):find(SKEY, 1, true))
  end)

  it("rejects a non-table argument", function()
    assert.has_error(function() COS.getAuthorization("nope") end)
  end)
end)

describe("cos:getObjectUrl", function()
  local cos = COS.new { SecretId = SID, SecretKey = SKEY }
  local BASE = "https://" .. HOST

  it("builds the unsigned URL with the strictly encoded key (Sign = false)", function()
    assert.are.equal(BASE .. "/folder/my%20file%2B%281%29%2A%21%27~.txt", cos:getObjectUrl {
      Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = "folder/my file+(1)*!'~.txt", Sign = false,
    })
  end)

  it("appends a sorted, encoded Query to the unsigned URL", function()
    assert.are.equal(BASE .. "/a/%E4%B8%AD%E6%96%87.txt?b=x%20y&response-content-type=text%2Fplain", cos:getObjectUrl {
      Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = "a/中文.txt", Sign = false,
      Query = { ["response-content-type"] = "text/plain", b = "x y" },
    })
  end)

  it("signs by default: url?<Authorization> with Host signed, verifiable with getAuthorization", function()
    local key = "dir/my file(1).txt"
    local url = cos:getObjectUrl { Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = key }
    local kt = url:match("q%-sign%-time=(%d+;%d+)&")
    assert.truthy(kt)
    local s, e = kt:match("(%d+);(%d+)")
    assert.are.equal(900, tonumber(e) - tonumber(s))
    local expected = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "get", Key = key, KeyTime = kt, Headers = { Host = HOST },
    }
    assert.are.equal(BASE .. "/dir/my%20file%281%29.txt?" .. expected, url)
    assert.falsy(url:find(SKEY, 1, true))
  end)

  it("signs Query params and appends them after the signature; honours Expires", function()
    local url = cos:getObjectUrl {
      Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = "k.txt", Expires = 60,
      Query = { ["response-content-type"] = "text/plain" },
    }
    local kt = url:match("q%-sign%-time=(%d+;%d+)&")
    local s, e = kt:match("(%d+);(%d+)")
    assert.are.equal(60, tonumber(e) - tonumber(s))
    local expected = COS.getAuthorization {
      SecretId = SID, SecretKey = SKEY, Method = "get", Key = "k.txt", KeyTime = kt, Headers = { Host = HOST },
      Query = { ["response-content-type"] = "text/plain" },
    }
    assert.are.equal(BASE .. "/k.txt?" .. expected .. "&response-content-type=text%2Fplain", url)
  end)

  it("calls back with {Url} when given a callback", function()
    local got
    local url = cos:getObjectUrl({ Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = "k", Sign = false },
      function(err, data) got = { err = err, data = data } end)
    assert.are.equal(BASE .. "/k", url)
    assert.is_nil(got.err)
    assert.are.equal(url, got.data.Url)
  end)

  it("uses Protocol and Domain options", function()
    local c = COS.new { SecretId = SID, SecretKey = SKEY, Protocol = "http:", Domain = "{Bucket}.cos.{Region}.example.com" }
    assert.are.equal("http://examplebucket-1250000000.cos.ap-guangzhou.example.com/k",
      c:getObjectUrl { Bucket = "examplebucket-1250000000", Region = "ap-guangzhou", Key = "k", Sign = false })
  end)

end)
