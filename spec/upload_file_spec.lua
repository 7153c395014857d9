-- uploadFile: the SliceSize threshold between one PUT and sliceUploadFile, UploadAddMetaMd5,
-- onFileFinish(err, data, options) before the callback, fs errors.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local MIB = U.MIB

describe("uploadFile", function()
  local srv, cos, dir

  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 20 })
  end)

  teardown(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  it("sends a file of SliceSize bytes or less in one PUT, with onFileFinish before the callback", function()
    local path = U.random_file(dir .. "/small.bin", MIB)
    local order, options, ready = {}, nil, nil
    local prog = U.progress_recorder()
    local id = cos:uploadFile(U.params("small.bin", { FilePath = path, ContentType = "application/x-test",
      onProgress = prog.fn,
      onTaskReady = function(tid) ready = tid end,
      onFileFinish = function(err, data, opts)
        order[#order + 1] = "file"
        options = opts
        assert.is_nil(err)
        assert.are.equal(200, data.statusCode)
      end }), function(err, data)
      order[#order + 1] = "callback"
      assert.is_nil(err)
      assert.truthy(data.ETag)
      assert.truthy(data.Location:find("/small.bin", 1, true))
    end)
    cos:run()
    assert.are.same({ "file", "callback" }, order)
    assert.are.equal(id, ready)
    assert.are.equal(id, options.TaskId)
    assert.are.equal("small.bin", options.Key)
    assert.are.equal(path, options.FilePath)
    assert.are.equal(U.BUCKET, options.Bucket)
    assert.are.equal(1, #U.log_matching(srv, "PUT", "^/small%.bin$"))
    assert.are.equal(0, #U.part_puts(srv, "small.bin"))
    assert.are.equal(1, prog.last().percent)
    assert.is_false(prog.backwards)
    assert.are.equal("application/x-test", U.head(cos, "small.bin").headers["content-type"])
    assert.is_true(U.object_equals_file(cos, "small.bin", path))
  end)

  it("uses sliceUploadFile above SliceSize (default 1 MiB), with the client's ChunkSize for the parts", function()
    local path = U.random_file(dir .. "/big.bin", 7 * MIB + 3)
    local data, err = cos:uploadFile(U.params("big.bin", { FilePath = path, SliceSize = 3 * MIB }))
    assert.is_nil(err)
    assert.truthy(data.UploadId)
    assert.truthy(data.ETag:match("%-8\"$"))
    assert.are.equal(8, #U.part_puts(srv, "big.bin"))
    assert.is_true(U.object_equals_file(cos, "big.bin", path))
    local path2 = U.random_file(dir .. "/two.bin", MIB + 1)
    data, err = cos:uploadFile(U.params("two.bin", { FilePath = path2 }))
    assert.is_nil(err)
    assert.are.equal(2, #U.part_puts(srv, "two.bin"))
  end)

  it("adds x-cos-meta-md5 (the whole file's MD5) with UploadAddMetaMd5, on both paths", function()
    local small = U.random_file(dir .. "/m1.bin", 1000)
    local big = U.random_file(dir .. "/m2.bin", 3 * MIB)
    assert.is_nil(select(2, cos:uploadFile(U.params("m1.bin", { FilePath = small, UploadAddMetaMd5 = true }))))
    assert.is_nil(select(2, cos:uploadFile(U.params("m2.bin", { FilePath = big, UploadAddMetaMd5 = true }))))
    assert.are.equal(U.md5_file(small), U.head(cos, "m1.bin").headers["x-cos-meta-md5"])
    assert.are.equal(U.md5_file(big), U.head(cos, "m2.bin").headers["x-cos-meta-md5"])
  end)

  it("refuses a directory as FilePath, naming FilePath (the Node SDK uploads an empty object)", function()
    local d = dir .. "/adir"
    assert(cosd.exec("mkdir -p " .. cosd.sh_quote(d)))
    local data, err = cos:uploadFile(U.params("adir", { FilePath = d }))
    assert.is_nil(data)
    assert.are.equal("Error", err.code)
    assert.are.equal("FilePath", err.param)
    assert.truthy(err.message:find("is a directory", 1, true), err.message)
    local _, herr = cos:headObject(U.params("adir"))
    assert.are.equal(404, herr.statusCode)
  end)

  it("hands back the fs error of a missing file through the callback", function()
    local got
    cos:uploadFile(U.params("missing.bin", { FilePath = dir .. "/missing" }), function(err, data) got = { err, data } end)
    cos:run()
    assert.are.equal("ENOENT", got[1].code)
    assert.is_nil(got[2])
  end)

  it("validates its params synchronously", function()
    local data, err = cos:uploadFile { Bucket = U.BUCKET, Region = U.REGION, FilePath = "/etc/hostname" }
    assert.is_nil(data)
    assert.truthy(err.message:find("Key"))
  end)
end)

-- A file under SliceSize goes out in one PUT; its UploadAddMetaMd5 is hashed in slices too (SliceSize
-- may be up to 5 GiB): a cos:poll step never hashes more than the step budget, and pause or cancel
-- in the middle act at once.
describe("uploadFile's whole-file PUT hashes x-cos-meta-md5 in slices", function()
  local srv, cos, dir, path
  local SIZE = 24 * MIB
  setup(function()
    dir = U.tmpdir()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, ProgressInterval = 0, SliceSize = 64 * MIB })
    path = U.random_file(dir .. "/w.bin", SIZE)
  end)
  teardown(function()
    if cos then cos:close() end
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  local function start(key, on_first_hash)
    return U.hashing_upload(cos, "uploadFile", U.params(key, { FilePath = path, UploadAddMetaMd5 = true }),
      on_first_hash)
  end

  it("spreads the MD5 over many steps, then PUTs once with the whole file's MD5", function()
    local st = start("w.bin")
    cos:run()
    assert.is_nil(st.err, st.err and st.err.message)
    -- 24 MiB at most 1 MiB (COS_STEP_MAX_BYTES) a step: at least 24 slices after the start emission
    assert.is_true(#st.hashes >= 24, "hash progress emissions: " .. #st.hashes)
    for i = 2, #st.hashes do
      assert.is_true(st.hashes[i] - st.hashes[i - 1] <= MIB, "a step hashed more than 1 MiB")
    end
    assert.are.equal(SIZE, st.hashes[#st.hashes])
    assert.are.equal(1, #U.log_matching(srv, "PUT", "w%.bin"))
    assert.are.equal(0, #U.log_matching(srv, "POST", "w%.bin%?uploads"))
    assert.are.equal(U.md5_file(path), U.head(cos, "w.bin").headers["x-cos-meta-md5"])
  end)

  it("a pause while hashing stops at once; restart hashes again and PUTs", function()
    local st = start("wp.bin", function(s) assert.is_true(cos:pauseTask(s.id)) end)
    cos:run()
    assert.is_nil(st.done)
    assert.are.equal("paused", U.state(cos, st.id))
    assert.are.equal(st.acted, #st.hashes)
    assert.are.equal(0, #U.log_matching(srv, "PUT", "wp%.bin"))
    assert.is_true(cos:restartTask(st.id))
    cos:run()
    assert.is_nil(st.err, st.err and st.err.message)
    assert.are.equal(U.md5_file(path), U.head(cos, "wp.bin").headers["x-cos-meta-md5"])
  end)

  it("a cancel while hashing ends the task at once, before any request", function()
    local st = start("wc.bin", function(s) assert.is_true(cos:cancelTask(s.id)) end)
    cos:run()
    assert.is_true(st.done)
    assert.truthy(st.err)
    assert.are.equal(st.acted, #st.hashes)
    assert.are.equal(0, #U.log_matching(srv, "PUT", "wc%.bin"))
  end)
end)
