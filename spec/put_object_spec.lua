-- putObject / appendObject / headObject / getObject end to end against a real cosd process.
local COS = require "cos"
local cosd = require "support.cosd"
local files = require "support.files"

local BUCKET, REGION = cosd.BUCKET, cosd.REGION
local HOST = BUCKET .. ".cos." .. REGION .. ".myqcloud.com"
local MiB = 1024 * 1024

describe("putObject against cosd", function()
  local srv, cos, dir

  setup(function() srv, cos, dir = cosd.open({ ProgressInterval = 20 }) end)
  teardown(function() cosd.close(srv, cos, dir) end)

  local function head(key)
    return cos:headObject { Bucket = BUCKET, Region = REGION, Key = key }
  end

  local function download_md5(key)
    local out = dir .. "/download-" .. key:gsub("[^%w]", "_")
    local data, err = cos:getObject { Bucket = BUCKET, Region = REGION, Key = key, Output = out }
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    local h = files.md5_file(out)
    os.remove(out)
    return h
  end

  it("uploads a string synchronously and returns the Node SDK's data shape", function()
    local data, err = cos:putObject { Bucket = BUCKET, Region = REGION, Key = "1.txt", Body = "hello!" }
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    assert.are.equal('"5a8dd3ad0756a93ded72b823b19dd877"', data.ETag)
    assert.are.equal(HOST .. "/1.txt", data.Location)
    assert.are.equal("table", type(data.headers))
    assert.are.equal("string", type(data.RequestId))
    local h = assert(head("1.txt"))
    assert.are.equal("6", tostring(h.headers["content-length"]))
    assert.are.equal(data.ETag, h.ETag)
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "1.txt" })
    assert.are.equal("hello!", got.Body)
  end)

  it("uploads a string asynchronously: returns the task id, calls back from run()", function()
    local result, ready_id
    local id = cos:putObject({
      Bucket = BUCKET, Region = REGION, Key = "async.txt", Body = "async body",
      onTaskReady = function(tid) ready_id = tid end,
    }, function(err, data) result = { err = err, data = data } end)
    assert.are.equal("number", type(id))
    assert.are.equal(id, ready_id)
    assert.is_nil(result) -- nothing happens before the engine runs
    cos:run()
    assert.is_nil(result.err)
    assert.are.equal(200, result.data.statusCode)
    assert.are.equal('"' .. files.md5_string("async body") .. '"', result.data.ETag)
  end)

  it("can be driven one step at a time with poll(timeout)", function()
    local done = false
    cos:putObject({ Bucket = BUCKET, Region = REGION, Key = "polled.txt", Body = ("x"):rep(100000) },
      function(err) assert.is_nil(err); done = true end)
    local steps = 0
    while not done and steps < 2000 do
      cos:poll(50)
      steps = steps + 1
    end
    assert.is_true(done)
    assert.are.equal(0, cos:poll(0))
  end)

  it("creates a directory with an empty body and Key 'a/'", function()
    local data, err = cos:putObject { Bucket = BUCKET, Region = REGION, Key = "a/", Body = "" }
    assert.is_nil(err)
    assert.are.equal(200, data.statusCode)
    assert.are.equal('"d41d8cd98f00b204e9800998ecf8427e"', data.ETag)
    local h = assert(head("a/"))
    assert.are.equal("0", tostring(h.headers["content-length"]))
  end)

  it("uploads an io file handle (tens of MiB) with ContentLength, byte for byte", function()
    local path = files.random_file(dir .. "/stream.bin", 24 * MiB)
    local f = assert(io.open(path, "rb"))
    local progress = {}
    local data, err = cos:putObject {
      Bucket = BUCKET, Region = REGION, Key = "stream.bin", Body = f, ContentLength = 24 * MiB,
      onProgress = function(p) progress[#progress + 1] = p end,
    }
    f:close()
    assert.is_nil(err)
    assert.are.equal('"' .. files.md5_file(path) .. '"', data.ETag)
    assert.are.equal(1, progress[#progress].percent)
    assert.are.equal(files.md5_file(path), download_md5("stream.bin"))
  end)

  it("uploads an io file from its current position", function()
    local path = files.random_file(dir .. "/offset.bin", 300000)
    local f = assert(io.open(path, "rb"))
    local head_bytes = f:read(1000)
    assert.are.equal(1000, #head_bytes)
    local rest = f:read("*a")
    f:seek("set", 1000)
    local data, err = cos:putObject {
      Bucket = BUCKET, Region = REGION, Key = "offset.bin", Body = f, ContentLength = #rest,
    }
    f:close()
    assert.is_nil(err)
    assert.are.equal('"' .. files.md5_string(rest) .. '"', data.ETag)
    local h = assert(head("offset.bin"))
    assert.are.equal(tostring(#rest), tostring(h.headers["content-length"]))
  end)

  it("uploads from FilePath (tens of MiB): progress reaches 1, never goes back; HEAD and download match", function()
    local size = 40 * MiB
    local path = files.random_file(dir .. "/big.bin", size)
    local percents, loaded, id, ready_id, result = {}, {}, nil, nil, nil
    id = cos:putObject({
      Bucket = BUCKET, Region = REGION, Key = "dir/big file.bin", FilePath = path,
      onTaskReady = function(tid) ready_id = tid end,
      onProgress = function(p)
        percents[#percents + 1] = p.percent
        loaded[#loaded + 1] = p.loaded
        assert.are.equal(size, p.total)
      end,
    }, function(err, data) result = { err = err, data = data } end)
    assert.are.equal(id, ready_id)
    cos:run()
    assert.is_nil(result.err)
    assert.are.equal(HOST .. "/dir/big%20file.bin", result.data.Location)
    assert.is_true(#percents >= 2)
    assert.are.equal(1, percents[#percents])
    assert.are.equal(size, loaded[#loaded])
    for i = 2, #percents do
      assert.is_true(percents[i] >= percents[i - 1], "percent went backwards at " .. i)
      assert.is_true(loaded[i] >= loaded[i - 1], "loaded went backwards at " .. i)
    end
    local md5 = files.md5_file(path)
    assert.are.equal('"' .. md5 .. '"', result.data.ETag)
    local h = assert(head("dir/big file.bin"))
    assert.are.equal(tostring(size), tostring(h.headers["content-length"]))
    assert.are.equal(md5, download_md5("dir/big file.bin"))
  end)

  it("uploads a body pulled from a function, with ContentLength", function()
    local chunks = { ("a"):rep(70000), ("b"):rep(70000), "tail" }
    local whole = table.concat(chunks)
    local i = 0
    local data, err = cos:putObject {
      Bucket = BUCKET, Region = REGION, Key = "pulled.txt", ContentLength = #whole,
      Body = function() i = i + 1; return chunks[i] end,
    }
    assert.is_nil(err)
    assert.are.equal('"' .. files.md5_string(whole) .. '"', data.ETag)
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "pulled.txt" })
    assert.are.equal(whole, got.Body)
  end)

  it("fails the upload when the Body function raises, and raises that error from the engine", function()
    local result
    cos:putObject({
      Bucket = BUCKET, Region = REGION, Key = "pull-fails.txt", ContentLength = 10,
      Body = function() error("disk on fire", 0) end,
    }, function(err, data) result = { err = err, data = data } end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("disk on fire", e)
    cos:run()
    assert.truthy(result and result.err)
    local _, herr = head("pull-fails.txt")
    assert.are.equal(404, herr.statusCode)
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "after-pull.txt", Body = "fine" })
  end)

  it("runs several uploads concurrently", function()
    local done = 0
    for n = 1, 6 do
      cos:putObject({ Bucket = BUCKET, Region = REGION, Key = "many/" .. n, Body = ("%d"):format(n):rep(50000) },
        function(err) assert.is_nil(err); done = done + 1 end)
    end
    cos:run()
    assert.are.equal(6, done)
  end)

  it("sends headers from params (ContentType, x-cos-meta-*) and they come back on HEAD", function()
    local _, err = cos:putObject {
      Bucket = BUCKET, Region = REGION, Key = "meta.txt", Body = "m", ContentType = "text/plain",
      ["x-cos-meta-author"] = "alice", Headers = { ["x-cos-meta-extra"] = "e x" },
    }
    assert.is_nil(err)
    local h = assert(head("meta.txt"))
    assert.are.equal("text/plain", h.headers["content-type"])
    assert.are.equal("alice", h.headers["x-cos-meta-author"])
    assert.are.equal("e x", h.headers["x-cos-meta-extra"])
  end)

  it("returns SignatureDoesNotMatch (403) for a wrong SecretKey, with no secret in the error", function()
    local wrong = "WRONGsecretKEYwrongSECRETkey0000"
    local bad = COS.new(srv:client_options { SecretKey = wrong })
    local data, err = bad:putObject { Bucket = BUCKET, Region = REGION, Key = "denied.txt", Body = "x" }
    assert.is_nil(data)
    assert.are.equal("SignatureDoesNotMatch", err.code)
    assert.are.equal(403, err.statusCode)
    assert.is_false(files.contains_anywhere(err, wrong))
    assert.is_false(files.contains_anywhere(err, cosd.SECRET_KEY))
    assert.falsy(tostring(err):find(wrong, 1, true))
    assert.falsy(tostring(bad):find(wrong, 1, true))
    -- async form: same error through the callback
    local got
    bad:putObject({ Bucket = BUCKET, Region = REGION, Key = "denied.txt", Body = "x" }, function(e) got = e end)
    bad:run()
    assert.are.equal("SignatureDoesNotMatch", got.code)
    bad:close()
  end)

  it("reports a missing object on HEAD as an error with statusCode 404", function()
    local data, err = head("no/such/key")
    assert.is_nil(data)
    assert.are.equal(404, err.statusCode)
  end)

  it("surfaces an error raised in a user callback from run(), and the client keeps working", function()
    cos:putObject({ Bucket = BUCKET, Region = REGION, Key = "cb-error.txt", Body = "x" },
      function() error("boom from the callback", 0) end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal("boom from the callback", e)
    -- the upload itself succeeded and the engine is usable
    local h = assert(head("cb-error.txt"))
    assert.are.equal(200, h.statusCode)
    local data = assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "after.txt", Body = "ok" })
    assert.are.equal(200, data.statusCode)
  end)

  it("surfaces an error raised in onProgress, keeps the original error value, fails that upload", function()
    local err_value = { reason = "progress handler failed" }
    local finished, calls = nil, 0
    cos:putObject({
      Bucket = BUCKET, Region = REGION, Key = "progress-error.bin", Body = ("p"):rep(2 * MiB),
      onProgress = function()
        calls = calls + 1
        error(err_value)
      end,
    }, function(err) finished = err end)
    local ok, e = pcall(cos.run, cos)
    assert.is_false(ok)
    assert.are.equal(err_value, e)
    cos:run() -- nothing more is raised; the task ended with the callback's error
    assert.are.equal(1, calls)
    assert.are.equal("CallbackError", finished.code)
  end)

  it("appends with appendObject: Position 0, then the next position from HEAD", function()
    local d1, e1 = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "app.log", Body = "12345", Position = 0 }
    assert.is_nil(e1)
    assert.are.equal("5", tostring(d1.headers["x-cos-next-append-position"]))
    local h = assert(head("app.log"))
    assert.are.equal("appendable", h.headers["x-cos-object-type"])
    local position = h.headers["content-length"]
    local d2, e2 = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "app.log", Body = "66666", Position = position }
    assert.is_nil(e2)
    assert.are.equal("10", tostring(d2.headers["x-cos-next-append-position"]))
    local got = assert(cos:getObject { Bucket = BUCKET, Region = REGION, Key = "app.log" })
    assert.are.equal("1234566666", got.Body)
    local _, e3 = cos:appendObject { Bucket = BUCKET, Region = REGION, Key = "app.log", Body = "x", Position = 3 }
    assert.are.equal(409, e3.statusCode)
    assert.are.equal("AppendPositionErr", e3.code) -- COS's code (docs/cos-wire.md#append-object)
  end)

  it("downloads to an io file handle with getObject Output", function()
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "out.txt", Body = "written to a handle" })
    local path = dir .. "/out.txt"
    local f = assert(io.open(path, "wb"))
    local data, err = cos:getObject { Bucket = BUCKET, Region = REGION, Key = "out.txt", Output = f }
    f:close()
    assert.is_nil(err)
    assert.is_nil(data.Body)
    assert.are.equal(files.md5_string("written to a handle"), files.md5_file(path))
  end)

  it("uploadFile: onTaskReady, onFileFinish before the callback, content matches", function()
    local path = files.random_file(dir .. "/uf.bin", 3 * MiB + 17)
    local order, ready_id = {}, nil
    local id = cos:uploadFile({
      Bucket = BUCKET, Region = REGION, Key = "uf.bin", FilePath = path, SliceSize = MiB,
      onTaskReady = function(tid) ready_id = tid end,
      onFileFinish = function(err, data, options)
        order[#order + 1] = "file"
        assert.is_nil(err)
        assert.are.equal("uf.bin", options.Key)
        assert.truthy(data.ETag)
      end,
    }, function(err, data)
      order[#order + 1] = "done"
      assert.is_nil(err)
      assert.are.equal(HOST .. "/uf.bin", data.Location)
    end)
    assert.are.equal(id, ready_id)
    cos:run()
    assert.are.same({ "file", "done" }, order)
    assert.are.equal(files.md5_file(path), download_md5("uf.bin"))
  end)

  it("uploadFiles: per-file onTaskReady and onFileFinish, results in input order", function()
    local small = files.random_file(dir .. "/small.bin", 1000)
    local big = files.random_file(dir .. "/big2.bin", 2 * MiB + 5)
    local ready, per_file, top = {}, {}, {}
    local result
    cos:uploadFiles({
      files = {
        { Bucket = BUCKET, Region = REGION, Key = "files/big", FilePath = big,
          onTaskReady = function(tid) ready[1] = tid end,
          onFileFinish = function(err) per_file[#per_file + 1] = { "big", err } end },
        { Bucket = BUCKET, Region = REGION, Key = "files/small", FilePath = small,
          onTaskReady = function(tid) ready[2] = tid end,
          onFileFinish = function(err) per_file[#per_file + 1] = { "small", err } end },
      },
      SliceSize = MiB,
      onFileFinish = function(err, _, options) top[#top + 1] = { options.Index, err } end,
    }, function(err, data) result = { err = err, data = data } end)
    assert.are.equal("number", type(ready[1]))
    assert.are.equal("number", type(ready[2]))
    assert.are_not.equal(ready[1], ready[2])
    cos:run()
    assert.is_nil(result.err)
    assert.are.equal(2, #result.data.files)
    assert.are.equal("files/big", result.data.files[1].options.Key)
    assert.are.equal("files/small", result.data.files[2].options.Key)
    assert.are.equal(2, #per_file)
    assert.are.equal(2, #top)
    assert.are.equal(files.md5_file(big), download_md5("files/big"))
    assert.are.equal(files.md5_file(small), download_md5("files/small"))
  end)

  it("deletes an object", function()
    assert(cos:putObject { Bucket = BUCKET, Region = REGION, Key = "gone.txt", Body = "x" })
    local data, err = cos:deleteObject { Bucket = BUCKET, Region = REGION, Key = "gone.txt" }
    assert.is_nil(err)
    assert.are.equal(204, data.statusCode)
    local _, herr = head("gone.txt")
    assert.are.equal(404, herr.statusCode)
  end)
end)
