-- lua-cos inside a real nginx (Debian's nginx + lua module, i.e. OpenResty's ngx_lua on LuaJIT):
-- synchronous calls in yieldable phases drive the engine in short steps and yield to nginx, so the
-- one worker keeps answering other requests during an upload; one client shared by concurrent
-- requests; an upload from ngx.timer.at; a clear error from a phase that cannot yield. Every
-- uploaded object is read back and compared byte for byte.
-- nginx's lua module runs LuaJIT, so these specs run in the LuaJIT pass (they load that build of
-- cos.core) and are skipped, visibly, in the others.
local COS = require "cos"
local cosd = require "support.cosd"
local U = require "support.upload_util"
local nginx = require "support.nginx"
local rt = require "support.runtime"
local it_if = rt.it_if(it, pending)

local MIB = U.MIB
local q = cosd.sh_quote

local root = cosd.capture("pwd"):match("[^\n]+")
local build = os.getenv("COS_BUILD") or (root .. "/build-luajit")
local usable = rt.jit ~= nil and nginx.available()
local why = rt.jit and "nginx and its lua module are not installed"
  or "nginx's lua module runs LuaJIT: these specs run in the LuaJIT pass"

local LOCATIONS = [[
    location = /ping { content_by_lua_block { require("support.ngx_app").ping() } }
    location = /upload { content_by_lua_block { require("support.ngx_app").upload() } }
    location = /timer { content_by_lua_block { require("support.ngx_app").timer_upload() } }
    location = /result { content_by_lua_block { require("support.ngx_app").result() } }
    location = /set {
      set_by_lua_block $cos_err { return require("support.ngx_app").sync_call_error("set.txt") }
      return 200 "$cos_err\n";
    }
    location = /header {
      header_filter_by_lua_block { ngx.header["X-Cos-Error"] = require("support.ngx_app").sync_call_error("hf.txt") }
      return 200 "ok\n";
    }
]]

describe("inside nginx", function()
  local srv, ngx_srv, cos, dir

  setup(function()
    if not usable then return end
    dir = U.tmpdir()
    -- Complete is held for a while, so every upload has a window in which the worker must go on
    -- serving other requests (only possible if the upload's handler yields).
    srv = cosd.start { faults = { "op=CompleteMultipartUpload,stall=1000" } }
    U.write(dir .. "/cos.lua", ("return { Bucket = %q, Region = %q, options = { SecretId = %q, SecretKey = %q, "
      .. "Protocol = 'http:', Ip = %q } }"):format(U.BUCKET, U.REGION, cosd.SECRET_ID, cosd.SECRET_KEY, srv.endpoint))
    ngx_srv = nginx.start { build = build, root = root, server = LOCATIONS, http = [[
  lua_shared_dict cos_spec 1m;
  init_worker_by_lua_block { require("support.ngx_app").init_worker("]] .. dir .. [[/cos.lua") }
]] }
    cos = COS.new(srv:client_options())
  end)

  teardown(function()
    if cos then cos:close() end
    if ngx_srv then ngx_srv:cleanup() end
    if srv then U.shutdown(srv) end
    if dir then U.rmdir(dir) end
  end)

  local function get(path) return cosd.capture("curl -s --max-time 120 " .. q(ngx_srv:url(path))) end

  -- Starts a request in the background; returns the curl pid and the file its answer goes to.
  local function get_async(path, name)
    local out = dir .. "/" .. name .. ".out"
    local p = cosd.popen(("curl -s --max-time 300 -o %s %s & echo $!"):format(q(out), q(ngx_srv:url(path))))
    local pid = tonumber(p:read("*l"))
    p:close()
    return pid, out
  end

  local function upload_path(key, file) return "/upload?key=" .. key .. "&file=" .. file end

  it_if(usable, why, "answers another location of the same worker during a synchronous 64 MiB sliceUploadFile", function()
    local file = U.random_file(dir .. "/big.bin", 64 * MIB)
    local pid, out = get_async(upload_path("big.bin", file), "big")
    local pings, during = 0, 0
    while U.alive(pid) do
      local answer = get("/ping")
      if answer:match("^pong") then pings = pings + 1 end
      if answer:match("uploading=1") then during = during + 1 end
    end
    local res = cosd.read_file(out) or ""
    assert.truthy(res:match("^ok key=big.bin "), res .. ngx_srv:error_log())
    assert.truthy(pings > 0)
    -- pings answered while the upload handler was inside sliceUploadFile, seen from both sides
    assert.truthy(during > 0, "no ping was answered during the upload")
    assert.truthy(tonumber(res:match("pings=(%d+)")) > 0, res)
    assert.is_true(U.object_equals_file(cos, "big.bin", file))
  end)

  it_if(usable, why, "completes two concurrent uploads through one shared client, each with its own result", function()
    local a = U.random_file(dir .. "/a.bin", 20 * MIB)
    local b = U.random_file(dir .. "/b.bin", 12 * MIB + 12345)
    local pa, outa = get_async(upload_path("a.bin", a), "a")
    local pb, outb = get_async(upload_path("b.bin", b), "b")
    assert.is_true(U.wait_exit(pa, 300))
    assert.is_true(U.wait_exit(pb, 300))
    local ra, rb = cosd.read_file(outa) or "", cosd.read_file(outb) or ""
    assert.truthy(ra:match("^ok key=a.bin etag=\"%x+%-3\""), ra .. ngx_srv:error_log())
    assert.truthy(rb:match("^ok key=b.bin etag=\"%x+%-2\""), rb .. ngx_srv:error_log())
    -- both were inside sliceUploadFile at the same time (Complete alone is held for a second)
    assert.truthy(tonumber(ra:match("max_active=(%d+)")) >= 2 or tonumber(rb:match("max_active=(%d+)")) >= 2, ra .. rb)
    assert.is_true(U.object_equals_file(cos, "a.bin", a))
    assert.is_true(U.object_equals_file(cos, "b.bin", b))
  end)

  it_if(usable, why, "uploads from an ngx.timer.at callback", function()
    local file = U.random_file(dir .. "/t.bin", 9 * MIB)
    assert.are.equal("scheduled\n", get("/timer?key=t.bin&file=" .. file))
    local res
    for _ = 1, 1200 do
      res = get("/result?key=t.bin")
      if res ~= "pending\n" then break end
      cosd.exec("sleep 0.05")
    end
    assert.truthy(res:match("^ok key=t.bin "), res .. ngx_srv:error_log())
    assert.is_true(U.object_equals_file(cos, "t.bin", file))
  end)

  it_if(usable, why, "raises a clear error naming the phase in phases that cannot yield, before anything is sent", function()
    local set = get("/set")
    assert.truthy(set:find("cos:putObject cannot wait in nginx's set phase", 1, true), set)
    assert.truthy(set:find("ngx.timer.at", 1, true), set)
    local headers = cosd.capture("curl -s -D - -o /dev/null " .. q(ngx_srv:url("/header")))
    assert.truthy(headers:find("cos:putObject cannot wait in nginx's header_filter phase", 1, true), headers)
    local _, err = cos:headObject(U.params("set.txt"))
    assert.are.equal(404, err.statusCode)
    _, err = cos:headObject(U.params("hf.txt"))
    assert.are.equal(404, err.statusCode)
  end)
end)

describe("examples/openresty", function()
  local pid, log, port, dir

  setup(function()
    if not usable then return end
    dir = U.tmpdir()
    log = dir .. "/run.log"
    math.randomseed(os.time())
    for _ = 1, 5 do -- a free port: another one when nginx could not bind it
      port = math.random(20000, 59999)
      local env = "env -u COS_SECRETID -u COS_SECRETKEY -u COS_BUCKET -u COS_REGION PORT=" .. port
      local p = cosd.popen(("cd %s && %s sh examples/openresty/run.sh >%s 2>&1 & echo $!"):format(q(root), env, q(log)))
      pid = tonumber(p:read("*l"))
      p:close()
      for _ = 1, 200 do
        if cosd.capture("curl -s --max-time 2 http://127.0.0.1:" .. port .. "/ping") == "pong\n" or not U.alive(pid) then break end
        cosd.exec("sleep 0.05")
      end
      if U.alive(pid) then break end
    end
  end)

  teardown(function()
    if pid then
      local master = cosd.read_file(root .. "/examples/openresty/logs/nginx.pid")
      if master and master:match("^%d+") then cosd.exec("kill -TERM " .. master:match("^%d+")) end
      U.wait_exit(pid, 30)
    end
    if dir then U.rmdir(dir) end
  end)

  it_if(usable, why, "starts with one command against cosd and stores a PUT body, read back byte for byte", function()
    local file = U.random_file(dir .. "/ex.bin", 10 * MIB + 7)
    local out = cosd.capture(("curl -s -T %s http://127.0.0.1:%d/upload/dir/ex.bin"):format(q(file), port))
    assert.truthy(out:match('^stored dir/ex.bin ETag "%x+%-2"'), out .. (cosd.read_file(log) or ""))
    local endpoint = (cosd.read_file(log) or ""):match("local cosd at (%S+)")
    local cos = COS.new { SecretId = cosd.SECRET_ID, SecretKey = cosd.SECRET_KEY, Protocol = "http:", Ip = endpoint }
    assert.is_true(U.object_equals_file(cos, "dir/ex.bin", file))
    cos:close()
  end)
end)
