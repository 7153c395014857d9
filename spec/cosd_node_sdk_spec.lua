-- cosd against the official Node.js SDK (cos-nodejs-sdk-v5 from npm, installed into spec/node).
local cosd = require("support.cosd")

-- spec/node beside this file (the runners start busted from the repository root)
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "spec"
local node_dir = here .. "/node"

-- Installs the SDK once. Passes of make test run side by side: the install holds a lock (flock), so
-- a second pass waits for the first one's install instead of reading its half-written modules.
local function sdk_ready()
  if not cosd.exec("command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1") then
    io.stderr:write("cosd_node_sdk_spec: node/npm not found, Node SDK check skipped\n")
    return false
  end
  local modules = node_dir .. "/node_modules"
  local install = ("test -f %s || npm install --no-save --no-package-lock --prefix %s cos-nodejs-sdk-v5@3 >/dev/null 2>&1")
    :format(cosd.sh_quote(modules .. "/cos-nodejs-sdk-v5/package.json"), cosd.sh_quote(node_dir))
  local ok = cosd.exec(("mkdir -p %s && flock %s sh -c %s"):format(cosd.sh_quote(modules),
    cosd.sh_quote(modules .. "/.lua-cos-install.lock"), cosd.sh_quote(install)))
  if not ok then io.stderr:write("cosd_node_sdk_spec: npm install cos-nodejs-sdk-v5 failed, Node SDK check skipped\n") end
  return ok and true or false
end

local function md5(path) return (cosd.capture("md5sum " .. cosd.sh_quote(path)):match("^(%x+)")) end

describe("cosd with the Node.js SDK", function()
  local ready = sdk_ready()
  if not ready then
    pending("cos-nodejs-sdk-v5 unavailable (see stderr)")
    return
  end

  it("putObject, appendObject, headObject, multipart family, sliceUploadFile (20 MiB), uploadFiles, and what the SDK's tests expect of COS", function()
    local s = cosd.start()
    local w = s.dir
    cosd.exec("head -c 20971520 /dev/urandom > " .. w .. "/big.bin && printf small > " .. w .. "/small.txt && head -c 3000000 /dev/urandom > " .. w .. "/medium.bin")
    local out, ok = cosd.capture("cd " .. cosd.sh_quote(node_dir) .. " && node sdk_check.js " .. s.port .. " " .. cosd.sh_quote(w) .. " 2>&1")
    assert.is_truthy(ok, out)
    for _, step in ipairs({ "putObject", "headObject", "appendObject", "multipart", "multipartAbort", "sliceUploadFile", "uploadFiles", "fidelity" }) do
      assert.truthy(out:find("OK " .. step, 1, true), step .. "\n" .. out)
    end
    -- the stored bytes, read back with curl
    local checks = { { "sdk/big.bin", w .. "/big.bin" }, { "sdk/mp.bin", w .. "/mp.expected" },
      { "sdk/files/small.txt", w .. "/small.txt" }, { "sdk/files/medium.bin", w .. "/medium.bin" } }
    for i, c in ipairs(checks) do
      local st = s:request{ key = c[1], out_file = w .. "/got" .. i }
      assert.are.equal(200, st, c[1])
      assert.are.equal(md5(c[2]), md5(w .. "/got" .. i), c[1])
    end
    local _, _, ab = s:request{ key = "sdk/append.txt" }
    assert.are.equal("abcdef", ab)
    s:cleanup()
  end)
end)
