-- Hostile and careless input: refused before anything is sent, with an error naming the parameter.
-- Header injection, keys that address the bucket or that HTTP layers rewrite, numbers and options
-- (NaN, ranges, typos), files that are not regular files or change under an upload, bodies
-- shorter than announced, and the Content-Type derived from the file's or key's extension.
-- Every "refused" case checks that cosd saw no request meanwhile.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB
local BUCKET, REGION = cosd.BUCKET, cosd.REGION

local function P(key, extra) return U.params(key, extra) end

describe("hostile and careless input", function()
  local srv, cos, dir

  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, RetryTimes = 0, ProgressInterval = 1 })
  end)

  teardown(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  -- Requests cosd has seen so far (settled: the request log is written before cosd answers).
  local function seen()
    U.settle(srv)
    return #srv:request_log()
  end

  -- Runs fn (a call that must be refused) and checks that no request reached cosd.
  local function refused(fn, param)
    local before = seen()
    local data, err = fn()
    assert.are.equal(before, seen(), "a request reached cosd")
    assert.is_nil(data)
    assert.is_table(err)
    assert.are.equal("Error", err.code)
    if param then assert.are.equal(param, err.param, err.message) end
    return err
  end

  local function file(name, content)
    local path = dir .. "/" .. name
    local f = assert(io.open(path, "wb"))
    f:write(content)
    f:close()
    return path
  end

  -- The last request cosd logged with this method whose target starts with "/" .. key.
  local function last_request(method, key)
    local log = srv:request_log()
    for i = #log, 1, -1 do
      local e = log[i]
      if e.method == method and e.target:sub(1, #key + 1) == "/" .. key then return e end
    end
  end

  describe("header injection", function()
    it("refuses CR/LF/NUL in x-cos-meta-* params, naming the param", function()
      refused(function()
        return cos:putObject(P("inj1.txt", { Body = "x", ["x-cos-meta-a"] = "v\r\nx-cos-acl: public-read" }))
      end, "x-cos-meta-a")
      refused(function() return cos:putObject(P("inj2.txt", { Body = "x", ["x-cos-meta-c"] = "abc\0def" })) end,
        "x-cos-meta-c")
      refused(function() return cos:putObject(P("inj3.txt", { Body = "x", ["x-cos-meta-d"] = "a\nb" })) end,
        "x-cos-meta-d")
      local _, herr = cos:headObject(P("inj1.txt"))
      assert.are.equal(404, herr.statusCode)
    end)

    it("refuses CR/LF/NUL in Headers names and values", function()
      refused(function()
        return cos:putObject(P("inj4.txt", { Body = "x", Headers = { Foo = "v\r\nX-Cos-Meta-Evil: injected" } }))
      end, "Headers.Foo")
      refused(function()
        return cos:putObject(P("inj5.txt", { Body = "x", Headers = { ["Foo: bar\r\nX-Evil"] = "v" } }))
      end, "Headers")
      refused(function() return cos:headObject(P("inj5.txt", { Headers = { ["X-A"] = "a\0b" } })) end, "Headers.X-A")
      refused(function() return cos:getObject(P("inj6.txt", { Query = { a = "x\0y" } })) end, "Query")
      refused(function() return cos:getObject(P("inj6.txt", { VersionId = "v\r\n" })) end, "VersionId")
    end)

    it("refuses them in every named header param of every operation", function()
      refused(function() return cos:putObject(P("s1.txt", { Body = "x", ContentType = "text/plain\r\nx-cos-acl: public-read" })) end,
        "ContentType")
      refused(function() return cos:putObject(P("s2.txt", { Body = "x", CacheControl = "no-cache\n" })) end, "CacheControl")
      refused(function() return cos:headObject(P("s3.txt", { IfMatch = "\"x\"\r\nFoo: bar" })) end, "IfMatch")
      refused(function() return cos:getObject(P("s4.txt", { Range = "bytes=0-1\r\n" })) end, "Range")
      refused(function() return cos:multipartInit(P("s5.txt", { ContentDisposition = "a\rb" })) end,
        "ContentDisposition")
      refused(function() return cos:appendObject(P("s6.txt", { Body = "x", Position = 0, ACL = "private\n" })) end, "ACL")
      local path = U.random_file(dir .. "/s7.bin", 2 * MIB)
      refused(function()
        return cos:sliceUploadFile(P("s7.bin", { FilePath = path, ["x-cos-meta-m"] = "a\r\nb" }))
      end, "x-cos-meta-m")
      local err = refused(function()
        return cos:uploadFiles { files = { P("s8.txt", { Body = "x" }), P("s9.txt", { Body = "y", StorageClass = "STANDARD\r\n" }) } }
      end, "StorageClass")
      assert.truthy(err.message:find("files[2]", 1, true), err.message)
    end)

    it("refuses a header name that is not a token in a top-level x-cos- param", function()
      refused(function() return cos:putObject(P("s10.txt", { Body = "x", ["x-cos-meta-a\r\nx-evil"] = "v" })) end)
      refused(function()
        return cos:postObject(P("s11.txt", { Body = "x", Fields = { ['a"\r\nContent-Type: text/html'] = "v" } }))
      end, "Fields")
    end)

    it("refuses a 1 MiB header value with a real error naming the param", function()
      local err = refused(function()
        return cos:putObject(P("big-meta.txt", { Body = "x", ["x-cos-meta-big"] = string.rep("a", MIB) }))
      end, "x-cos-meta-big")
      assert.truthy(err.message:find("1048576", 1, true), err.message)
      assert.truthy(err.message:find("8192", 1, true), err.message)
    end)

    it("refuses control characters and NUL in client options at construction", function()
      for _, case in ipairs {
        { UserAgent = "ua\r\nX-Evil: 1" }, { SecurityToken = "tok\nx-cos-acl: public-read" },
        { SecretKey = "secret\0tail" }, { SecretId = "id\r" }, { Domain = "{Bucket}.example.com\r\n" },
      } do
        local name = next(case)
        local ok, e = pcall(COS.new, srv:client_options(case))
        assert.is_false(ok, name)
        assert.truthy(tostring(e):find("option " .. name, 1, true), tostring(e))
        assert.is_nil(tostring(e):find("secret", 1, true), "the error shows the secret")
      end
    end)

    it("still passes well-formed headers and metadata through", function()
      local data, err = cos:putObject(P("fine.txt", { Body = "x", ["x-cos-meta-a"] = "v\twith tab",
        Headers = { ["x-cos-meta-b"] = "b" } }))
      assert.is_nil(err)
      assert.are.equal(200, data.statusCode)
      local h = U.head(cos, "fine.txt").headers
      assert.are.equal("v\twith tab", h["x-cos-meta-a"])
      assert.are.equal("b", h["x-cos-meta-b"])
    end)
  end)

  describe("keys", function()
    it("refuses a Key that addresses the bucket, on every object operation", function()
      refused(function() return cos:getObject(P("/")) end, "Key")
      refused(function() return cos:headObject(P("/")) end, "Key")
      refused(function() return cos:deleteObject(P("/")) end, "Key")
      refused(function() return cos:putObject(P("/", { Body = "x" })) end, "Key")
      refused(function() return cos:appendObject(P("/", { Body = "x", Position = 0 })) end, "Key")
      refused(function() return cos:multipartInit(P("/")) end, "Key")
      refused(function() return cos:multipartUpload(P("/", { UploadId = "u", PartNumber = 1, Body = "x" })) end, "Key")
      refused(function() return cos:uploadFiles { files = { P("/", { Body = "x" }) } } end, "Key")
    end)

    it("sends the path exactly as signed: a/./b and a/../b are stored and read under those keys", function()
      for _, key in ipairs { "a/./b", "a/../b", "./dot", "c/../../d", "a//b", "q?x#y", "sp ace+%2F" } do
        local data, err = cos:putObject(P(key, { Body = "body of " .. key }))
        assert.is_nil(err, key .. ": " .. tostring(err))
        assert.are.equal(200, data.statusCode)
        local got, gerr = cos:getObject(P(key))
        assert.is_nil(gerr, key .. ": " .. tostring(gerr))
        assert.are.equal("body of " .. key, got.Body)
        assert.truthy(last_request("PUT", cosd.encode(key, true)), "the request line carried " .. key)
      end
      local _, herr = cos:headObject(P("a/b"))
      assert.are.equal(404, herr.statusCode, "a/./b was stored as a/b")
      local list = assert(cos:getBucket { Bucket = BUCKET, Region = REGION, Prefix = "a/" })
      local keys = {}
      for _, c in ipairs(list.Contents) do keys[c.Key] = true end
      assert.is_true(keys["a/./b"])
      assert.is_true(keys["a/../b"])
      -- e/.. resolves to the bucket root, which cosd refuses as a key: it must still go out as signed
      -- (normalised to the bucket it would be a 501 PUT Bucket, or a signature mismatch)
      local _, err = cos:putObject(P("e/..", { Body = "x" }))
      assert.are.equal(400, err and err.statusCode)
      assert.are.equal("InvalidObjectName", err.code)
      assert.truthy(last_request("PUT", cosd.encode("e/..", true)), "the request line carried e/..")
    end)
  end)

  describe("numbers and options", function()
    it("refuses NaN, infinities and out-of-range client options, naming the option", function()
      for _, case in ipairs {
        { "MaxConnections", 0 / 0 }, { "MaxConnections", 0 }, { "MaxConnections", 5000 }, { "Timeout", math.huge },
        { "Timeout", -1 }, { "ChunkSize", -1 }, { "ChunkSize", 0 }, { "ChunkSize", "abc" }, { "ChunkSize", 1e30 },
        { "ChunkSize", 1024 }, { "ChunkParallelLimit", 0 }, { "ChunkParallelLimit", 257 }, { "RetryTimes", -1 },
        { "RetryTimes", 1.5 }, { "FileParallelLimit", 0 / 0 }, { "MaxPartNumber", 1e9 }, { "ProgressInterval", -1 },
        { "SystemClockOffset", 0 / 0 }, { "SliceSize", -1 }, { "UploadQueueSize", 0 }, { "ChunkRetryTimes", -math.huge },
        { "UseRawKey", "yes" }, { "Checkpoint", 0 },
      } do
        local ok, e = pcall(COS.new, srv:client_options { [case[1]] = case[2] })
        assert.is_false(ok, case[1] .. " = " .. tostring(case[2]))
        assert.truthy(tostring(e):find("option " .. case[1], 1, true), tostring(e))
      end
      -- in range (numeric strings too) is fine
      local c = COS.new(srv:client_options { MaxConnections = "8", ChunkSize = 2 * MIB, Timeout = 1000.5,
        ChunkParallelLimit = 256, MaxPartNumber = 1024 })
      c:close()
    end)

    it("refuses unknown client options, suggesting the right name", function()
      local ok, e = pcall(COS.new, srv:client_options { ChunckSize = 2 * MIB })
      assert.is_false(ok)
      assert.truthy(tostring(e):find("unknown option ChunckSize (did you mean ChunkSize?)", 1, true), tostring(e))
      ok, e = pcall(COS.new, { secretId = "x" })
      assert.is_false(ok)
      assert.truthy(tostring(e):find("did you mean SecretId?", 1, true), tostring(e))
      ok, e = pcall(COS.new, { Proxy = "http://proxy:3128" })
      assert.is_false(ok)
      assert.truthy(tostring(e):find("unknown option Proxy", 1, true), tostring(e))
      -- Node SDK options for behaviour lua-cos lacks are accepted without effect
      COS.new(srv:client_options { KeepAlive = true, UploadIdCacheLimit = 10 }):close()
    end)

    it("refuses bad ChunkSize, SliceSize, AsyncLimit and ContentLength params, naming them", function()
      local path = U.random_file(dir .. "/n.bin", 2 * MIB)
      for _, case in ipairs {
        { "ChunkSize", -1 }, { "ChunkSize", 0 }, { "ChunkSize", "abc" }, { "ChunkSize", 1e30 }, { "ChunkSize", 0 / 0 },
        { "AsyncLimit", 0 }, { "AsyncLimit", 1 / 0 }, { "SliceSize", -5 },
      } do
        refused(function() return cos:sliceUploadFile(P("n.bin", { FilePath = path, [case[1]] = case[2] })) end, case[1])
        refused(function() return cos:uploadFile(P("n.bin", { FilePath = path, [case[1]] = case[2] })) end, case[1])
      end
      refused(function() return cos:putObject(P("n.txt", { Body = "x", ContentLength = -1 })) end, "ContentLength")
      refused(function() return cos:putObject(P("n.txt", { Body = "x", ContentLength = 0 / 0 })) end, "ContentLength")
      refused(function()
        return cos:putObject(P("n.txt", { Body = function() return nil end, ContentLength = 0 / 0 }))
      end, "ContentLength")
      local f = assert(io.open(path, "rb"))
      refused(function() return cos:putObject(P("n.txt", { Body = f, ContentLength = math.huge })) end, "ContentLength")
      f:close()
    end)

    it("refuses unknown params, suggesting the right name, and keeps x-cos-* pass-through", function()
      local path = U.random_file(dir .. "/t.bin", MIB)
      local err = refused(function() return cos:sliceUploadFile(P("t.bin", { FilePath = path, ChunckSize = 2 * MIB })) end,
        "ChunckSize")
      assert.truthy(err.message:find("did you mean ChunkSize?", 1, true), err.message)
      err = refused(function() return cos:putObject(P("t.txt", { Body = "x", ContentTyp = "text/plain" })) end, "ContentTyp")
      assert.truthy(err.message:find("ContentType", 1, true), err.message)
      err = refused(function() return cos:uploadFiles { files = { P("t.txt", { Body = "x", Buckets = "b" }) } } end, "Buckets")
      assert.truthy(err.message:find("files[1]: unknown param Buckets", 1, true), err.message)
      refused(function() return cos:uploadFiles { files = {}, SlizeSize = 1 } end, "SlizeSize")
      local data = assert(cos:putObject(P("t2.txt", { Body = "x", ["x-cos-meta-anything"] = "1", ["x-cos-tagging"] = "a=b" })))
      assert.are.equal(200, data.statusCode)
    end)

    it("getAuthorization and getObjectUrl refuse malformed Method, KeyTime, Expires", function()
      local base = { SecretId = "AKIDx", SecretKey = "k", Key = "a.txt" }
      local function auth(extra)
        local o = {}
        for k, v in pairs(base) do o[k] = v end
        for k, v in pairs(extra) do o[k] = v end
        return pcall(COS.getAuthorization, o)
      end
      for _, case in ipairs {
        { "Method", {} }, { "Method", "GET\r\n" }, { "KeyTime", "x;y" }, { "KeyTime", "20;10" }, { "KeyTime", "1;" },
        { "Expires", "abc" }, { "Expires", 0 / 0 }, { "Expires", -5 }, { "SystemClockOffset", 0 / 0 },
        { "SecretKey", "k\0tail" }, { "SecretId", "AKID\r\n" },
      } do
        local ok, e = auth { [case[1]] = case[2] }
        assert.is_false(ok, case[1])
        assert.truthy(tostring(e):find("param " .. case[1], 1, true), tostring(e))
      end
      assert.is_true((auth { Method = "put", KeyTime = "10;20" }))
      assert.is_true((auth { Expires = "60" }))
      for _, case in ipairs { { "Expires", "abc" }, { "Expires", 0 }, { "Method", {} }, { "KeyTime", "x;y" } } do
        local url, err = cos:getObjectUrl(P("a.txt", { [case[1]] = case[2] }))
        assert.is_nil(url)
        assert.are.equal(case[1], err.param)
      end
      assert.truthy(cos:getObjectUrl(P("a.txt", { Expires = 60 })))
      -- typos in their options too
      local ok, e = auth { Expire = 60 }
      assert.is_false(ok)
      assert.truthy(tostring(e):find("unknown param Expire (did you mean Expires?)", 1, true), tostring(e))
      local url, uerr = cos:getObjectUrl(P("a.txt", { Expire = 60 }))
      assert.is_nil(url)
      assert.are.equal("Expire", uerr.param)
    end)
  end)

  describe("files", function()
    local fifo, adir
    setup(function()
      fifo = dir .. "/fifo"
      adir = dir .. "/adir"
      assert(cosd.exec("mkfifo " .. cosd.sh_quote(fifo) .. " && mkdir -p " .. cosd.sh_quote(adir)))
    end)

    it("refuses a FIFO or a directory as FilePath on every upload path, without blocking", function()
      for _, path in ipairs { fifo, adir, "/dev/null" } do
        refused(function() return cos:putObject(P("f.bin", { FilePath = path })) end, "FilePath")
        refused(function() return cos:appendObject(P("f.bin", { FilePath = path, Position = 0 })) end, "FilePath")
        refused(function() return cos:sliceUploadFile(P("f.bin", { FilePath = path })) end, "FilePath")
        refused(function() return cos:uploadFile(P("f.bin", { FilePath = path })) end, "FilePath")
        refused(function() return cos:postObject(P("f.bin", { FilePath = path })) end, "FilePath")
        refused(function()
          return cos:multipartUpload(P("f.bin", { FilePath = path, UploadId = "u", PartNumber = 1 }))
        end, "FilePath")
        local err = refused(function() return cos:uploadFiles { files = { P("f.bin", { FilePath = path }) } } end, "FilePath")
        assert.truthy(err.message:find("files[1]", 1, true), err.message)
      end
      -- the asynchronous form returns at once too, with the callback already called
      local got
      local id = cos:putObject(P("f.bin", { FilePath = fifo }), function(err) got = err end)
      assert.is_nil(id)
      assert.are.equal("FilePath", got.param)
    end)

    it("fails a sliceUploadFile whose file is truncated mid-upload with FileModified and aborts it", function()
      local path = U.random_file(dir .. "/trunc.bin", 6 * MIB)
      local truncated = false
      local data, err = cos:sliceUploadFile(P("trunc.bin", {
        FilePath = path, ChunkSize = MIB, AsyncLimit = 1,
        onProgress = function(p)
          if not truncated and p.loaded >= 2 * MIB then
            truncated = true
            assert(cosd.exec("truncate -s 3000000 " .. cosd.sh_quote(path)))
          end
        end,
      }))
      assert.is_true(truncated)
      assert.is_nil(data)
      assert.are.equal("FileModified", err.code, tostring(err))
      -- the multipart upload is aborted on the server (the abort goes out right after the failure)
      local uploads
      U.poll_until(cos, function()
        local l = assert(cos:multipartList { Bucket = BUCKET, Region = REGION, Prefix = "trunc.bin" })
        uploads = #l.Upload
        return uploads == 0
      end, 10)
      assert.are.equal(0, uploads)
    end)

    it("states both sizes when a body is shorter than its ContentLength", function()
      local path = file("ten.txt", "0123456789")
      local f = assert(io.open(path, "rb"))
      local err = refused(function() return cos:putObject(P("ten.txt", { Body = f, ContentLength = 20 })) end,
        "ContentLength")
      f:close()
      assert.truthy(err.message:find("20", 1, true) and err.message:find("10", 1, true), err.message)
      -- a pulled body that ends early: both sizes in the error too
      local sent = false
      local _, perr = cos:putObject(P("pull.txt", { ContentLength = 20, Body = function()
        if sent then return nil end
        sent = true
        return "0123456789"
      end }))
      assert.are.equal("EBODYREAD", perr.code)
      assert.truthy(perr.message:find("after 10 of the 20 bytes", 1, true), perr.message)
    end)

    it("gives uploadFile of an unreadable file the real cause, naming the path", function()
      local path = file("secret.txt", "not for nobody")
      assert(cosd.exec("chmod 600 " .. cosd.sh_quote(path) .. " && chmod 755 " .. cosd.sh_quote(dir)))
      -- root reads any file: run the upload as nobody
      local script = file("unreadable.lua", ([[
        local COS = require "cos"
        local cos = COS.new { SecretId = %q, SecretKey = %q, Protocol = "http:", Ip = %q, Checkpoint = false }
        local _, err = cos:uploadFile { Bucket = %q, Region = %q, Key = "secret.txt", FilePath = %q }
        io.write(tostring(err and err.code), "|", tostring(err and err.message))
      ]]):format(cosd.SECRET_ID, cosd.SECRET_KEY, srv.endpoint, BUCKET, REGION, path))
      -- nobody may not reach the checkout (a clone in a 0700 directory): the module goes with the
      -- script, into the test's own directory, which nobody can read
      local function search(name, path) -- package.searchpath, which Lua 5.1 lacks
        for tpl in path:gmatch("[^;]+") do
          local f = tpl:gsub("%?", (name:gsub("%.", "/")))
          local h = io.open(f, "rb")
          if h then h:close() return f end
        end
      end
      local lua_dir = search("cos", package.path):match("^(.*)/init%.lua$")
      local core = search("cos.core", package.cpath)
      assert(cosd.exec(("mkdir -p %s/mod/cos && cp %s/*.lua %s %s/mod/cos/ && chmod -R a+rX %s/mod"):format(
        cosd.sh_quote(dir), cosd.sh_quote(lua_dir), cosd.sh_quote(core), cosd.sh_quote(dir), cosd.sh_quote(dir))))
      local mod_path = dir .. "/mod/?.lua;" .. dir .. "/mod/?/init.lua"
      -- runuser drops LD_PRELOAD: the sanitizer pass's runtimes are handed over explicitly
      local preload = os.getenv("COS_SAN_PRELOAD") or ""
      local cmd = ("runuser -u nobody -- env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 LUA_PATH=%s LUA_CPATH=%s %s %s"):format(
        cosd.sh_quote(preload), cosd.sh_quote(mod_path), cosd.sh_quote(dir .. "/mod/?.so"), cosd.LUA, cosd.sh_quote(script))
      local out = cosd.capture(cmd)
      assert.are.equal("EACCES", out:match("^([^|]*)"), out)
      assert.truthy(out:find(path, 1, true), out)
    end)
  end)

  describe("a nil Body", function()
    it("is refused naming Body, unless the Key ends in / or Body is \"\"", function()
      refused(function() return cos:putObject(P("nil.txt", { Body = io.open(dir .. "/missing") })) end, "Body")
      refused(function() return cos:putObject(P("nil.txt")) end, "Body")
      refused(function() return cos:appendObject(P("nil.txt", { Position = 0 })) end, "Body")
      local _, herr = cos:headObject(P("nil.txt"))
      assert.are.equal(404, herr.statusCode)
      assert.are.equal(200, assert(cos:putObject(P("folder/"))).statusCode)
      assert.are.equal(200, assert(cos:putObject(P("empty.txt", { Body = "" }))).statusCode)
      assert.are.equal("0", U.head(cos, "empty.txt").headers["content-length"])
    end)
  end)

  describe("Content-Type", function()
    local function sent_type(method, key) return (last_request(method, key) or { header = {} }).header["content-type"] end

    it("derives it from the file's extension on every upload path when none is given", function()
      local small = file("photo.jpg", "jpeg bytes")
      local big = U.random_file(dir .. "/movie.mp4", 3 * MIB)
      assert(cos:putObject(P("photo.jpg", { FilePath = small })))
      assert.are.equal("image/jpeg", sent_type("PUT", "photo.jpg"))
      assert.are.equal("image/jpeg", U.head(cos, "photo.jpg").headers["content-type"])
      assert(cos:uploadFile(P("up/photo.jpg", { FilePath = small })))
      assert.are.equal("image/jpeg", sent_type("PUT", "up/photo.jpg"))
      assert(cos:uploadFile(P("up/movie.mp4", { FilePath = big })))
      assert.are.equal("video/mp4", sent_type("POST", "up/movie.mp4?uploads"))
      assert.are.equal("video/mp4", U.head(cos, "up/movie.mp4").headers["content-type"])
      assert(cos:sliceUploadFile(P("sl/movie.mp4", { FilePath = big })))
      assert.are.equal("video/mp4", sent_type("POST", "sl/movie.mp4?uploads"))
      assert(cos:uploadFiles { files = { P("many/photo.jpg", { FilePath = small }) } })
      assert.are.equal("image/jpeg", sent_type("PUT", "many/photo.jpg"))
      assert(cos:postObject(P("form/photo.jpg", { FilePath = small })))
      assert.are.equal("image/jpeg", U.head(cos, "form/photo.jpg").headers["content-type"])
      -- the file's name wins over the key's; no known extension: application/octet-stream
      local pdf = file("doc.pdf", "%PDF")
      assert(cos:putObject(P("noext", { FilePath = pdf })))
      assert.are.equal("application/pdf", sent_type("PUT", "noext"))
      local odd = file("data.zzqq", "?")
      assert(cos:putObject(P("odd.zzqq", { FilePath = odd })))
      assert.are.equal("application/octet-stream", sent_type("PUT", "odd.zzqq"))
    end)

    it("derives it from the key for string bodies and multipartInit; a given ContentType wins", function()
      assert(cos:putObject(P("conf.json", { Body = "{}" })))
      assert.are.equal("application/json", sent_type("PUT", "conf.json"))
      assert(cos:putObject(P("given.json", { Body = "{}", ContentType = "text/x-mine" })))
      assert.are.equal("text/x-mine", sent_type("PUT", "given.json"))
      local init = assert(cos:multipartInit(P("mp/page.html")))
      assert.are.equal("text/html", sent_type("POST", "mp/page.html?uploads"))
      assert(cos:multipartAbort(P("mp/page.html", { UploadId = init.UploadId })))
    end)
  end)
end)
