-- uploadDirectory: a local folder to a key prefix, recursively, over uploadFiles: skips what is
-- already there (same size and CRC-64), a symlink policy, one aggregate progress, the failed files
-- listed, and a re-run that sends only what is missing.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"

local function sh(cmd) assert(cosd.exec(cmd), cmd) end
local function q(s) return cosd.sh_quote(s) end

local function puts(srv)
  local keys = {}
  for _, l in ipairs(U.access_log(srv)) do
    if l.method == "PUT" or (l.method == "POST" and l.target:find("?uploads", 1, true)) then
      keys[#keys + 1] = l.target:gsub("%?.*", "")
    end
  end
  return keys
end

describe("uploadDirectory", function()
  local srv, cos, dir, tree

  before_each(function()
    srv = cosd.start()
    cos = COS.new(srv:client_options { Checkpoint = false, RetryTimes = 0 })
    dir = U.tmpdir()
    tree = dir .. "/tree"
    sh(("mkdir -p %s/a/b %s/empty-dir %s/'with space'"):format(q(tree), q(tree), q(tree)))
    U.write(tree .. "/top.txt", "top")
    U.write(tree .. "/a/one.txt", "one")
    U.write(tree .. "/a/b/two.txt", "two")
    U.write(tree .. "/with space/s p.txt", "spaced")
    U.write(tree .. "/a/zero.bin", "")
    U.random_file(tree .. "/a/b/big.bin", 3 * U.MIB)
  end)

  after_each(function()
    cos:close()
    U.shutdown(srv)
    U.rmdir(dir)
  end)

  local function params(extra)
    local p = { Bucket = U.BUCKET, Region = U.REGION, LocalPath = tree, Prefix = "backup/", SliceSize = U.MIB }
    for k, v in pairs(extra or {}) do p[k] = v end
    return p
  end

  it("uploads every file under the folder to prefix .. relative path, with one aggregate progress", function()
    local events = {}
    local data = assert(cos:uploadDirectory(params { onProgress = function(p) events[#events + 1] = p end }))
    local keys = {}
    for _, f in ipairs(data.files) do
      assert.is_nil(f.error)
      keys[#keys + 1] = f.options.Key
    end
    table.sort(keys)
    assert.are.same({ "backup/a/b/big.bin", "backup/a/b/two.txt", "backup/a/one.txt", "backup/a/zero.bin",
      "backup/top.txt", "backup/with space/s p.txt" }, keys)
    assert.are.same({}, data.skipped)
    assert.are.same({}, data.failed)
    for _, rel in ipairs { "top.txt", "a/one.txt", "a/b/two.txt", "with space/s p.txt", "a/zero.bin", "a/b/big.bin" } do
      assert.is_true(U.object_equals_file(cos, "backup/" .. rel, tree .. "/" .. rel), rel)
    end
    local last = events[#events]
    assert.are.equal(1, last.percent)
    assert.are.equal(6, last.filesTotal)
    assert.are.equal(6, last.filesDone)
    assert.are.equal(3 * U.MIB + 3 + 3 + 3 + 6, last.total)
  end)

  it("skips objects already there with the same size and CRC-64; a re-run sends only what changed", function()
    assert(cos:uploadDirectory(params()))
    local before = #puts(srv)
    local again = assert(cos:uploadDirectory(params()))
    assert.are.equal(0, #again.files)
    assert.are.equal(6, #again.skipped)
    assert.are.equal(before, #puts(srv)) -- nothing sent
    U.write(tree .. "/a/one.txt", "ONE") -- same size, other bytes: the CRC tells
    U.write(tree .. "/new.txt", "new")
    local third = assert(cos:uploadDirectory(params()))
    local keys = {}
    for _, f in ipairs(third.files) do keys[#keys + 1] = f.options.Key end
    table.sort(keys)
    assert.are.same({ "backup/a/one.txt", "backup/new.txt" }, keys)
    assert.is_true(U.object_equals_file(cos, "backup/a/one.txt", tree .. "/a/one.txt"))
    -- SkipExisting = false sends everything again
    local all = assert(cos:uploadDirectory(params { SkipExisting = false }))
    assert.are.equal(7, #all.files)
    -- the one boolean rule of params: "false" is false; anything else is refused naming the param
    assert.are.equal(7, #assert(cos:uploadDirectory(params { SkipExisting = "false" })).files)
    local none, err = cos:uploadDirectory(params { SkipExisting = "no" })
    assert.is_nil(none)
    assert.are.equal("SkipExisting", err.param)
  end)

  it("lists the files that failed, and a re-run uploads just those", function()
    U.restart(srv, { "op=PutObject,nth=2,status=403,code=AccessDenied" })
    local data = assert(cos:uploadDirectory(params()))
    assert.are.equal(1, #data.failed)
    local f = data.failed[1]
    assert.are.equal("AccessDenied", f.error.code)
    assert.truthy(tostring(f.error):find("^cos error AccessDenied"))
    assert.truthy(f.Key:find("^backup/"))
    assert.truthy(f.FilePath:find(tree, 1, true))
    local again = assert(cos:uploadDirectory(params()))
    assert.are.equal(1, #again.files)
    assert.are.equal(f.Key, again.files[1].options.Key)
    assert.are.same({}, again.failed)
  end)

  it("symlinks: skipped by default, followed (loops end) or refused on request", function()
    sh(("ln -s ../top.txt %s/a/link.txt && ln -s .. %s/a/b/loop"):format(q(tree), q(tree)))
    local skip = assert(cos:uploadDirectory(params()))
    for _, f in ipairs(skip.files) do assert.falsy(f.options.Key:find("link", 1, true)) end
    assert.are.equal(6, #skip.files)
    local follow = assert(cos:uploadDirectory(params { Symlinks = "follow" }))
    assert.are.equal(1, #follow.files) -- everything else is there already
    assert.are.equal("backup/a/link.txt", follow.files[1].options.Key)
    assert.is_true(U.object_equals_file(cos, "backup/a/link.txt", tree .. "/top.txt"))
    local _, err = cos:uploadDirectory(params { Symlinks = "error" })
    assert.truthy(err)
    assert.truthy(err.message:find("link", 1, true), err.message)
    local _, bad = cos:uploadDirectory(params { Symlinks = "sometimes" })
    assert.truthy(bad.message:find("Symlinks", 1, true))
  end)

  it("refuses a LocalPath that is not a directory, naming it", function()
    local _, err = cos:uploadDirectory(params { LocalPath = tree .. "/top.txt" })
    assert.truthy(err.message:find("LocalPath", 1, true), err.message)
    local p = params()
    p.LocalPath = nil
    local _, missing = cos:uploadDirectory(p)
    assert.truthy(missing.message:find("LocalPath", 1, true))
  end)

  it("with a callback, runs inside cos:run() like every other operation", function()
    local got
    assert.truthy(cos:uploadDirectory(params(), function(err, data) got = err or data end))
    assert.is_nil(got)
    cos:run()
    assert.are.equal(6, #got.files)
    got = nil
    cos:uploadDirectory(params(), function(err, data) got = err or data end)
    cos:run()
    assert.are.equal(6, #got.skipped)
  end)
end)
