-- Starts and stops a real nginx with the lua module (Debian's nginx + libnginx-mod-http-lua) for
-- specs: its own prefix directory and config, one worker, listening on a free loopback port.
-- Usage: local ngx_srv = nginx.start{ build = ".../build-luajit", http = "...", server = "..." }
--        ngx_srv.port, ngx_srv.prefix, ngx_srv:url(path), ngx_srv:error_log(), ngx_srv:stop()
-- `http` and `server` are config text placed in the http and server blocks; PREFIX in them is
-- replaced by the prefix directory. package.path reaches lua/ and spec/ of this checkout,
-- package.cpath the module built in `build` (nginx's lua module runs LuaJIT: the LuaJIT build);
-- `lua_path` ("dir/?.lua;") is put in front of package.path.
local cosd = require "support.cosd"

local M = {}

M.BIN = "/usr/sbin/nginx"
M.MODULES = "/usr/lib/nginx/modules"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- True when nginx and its lua module are installed.
function M.available()
  return exists(M.BIN) and exists(M.MODULES .. "/ngx_http_lua_module.so")
end

local function own_pid()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return pid
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local CONF = [[
daemon off;
master_process on;
worker_processes 1;
USER
pid PREFIX/logs/nginx.pid;
error_log PREFIX/logs/error.log info;
load_module MODULES/ndk_http_module.so;
load_module MODULES/ngx_http_lua_module.so;
events { worker_connections 256; }
http {
  access_log PREFIX/logs/access.log;
  client_body_temp_path PREFIX/tmp/body;
  proxy_temp_path PREFIX/tmp/proxy;
  fastcgi_temp_path PREFIX/tmp/fastcgi;
  uwsgi_temp_path PREFIX/tmp/uwsgi;
  scgi_temp_path PREFIX/tmp/scgi;
  lua_package_path "LUAPATHROOT/lua/?.lua;ROOT/lua/?/init.lua;ROOT/spec/?.lua;;";
  lua_package_cpath "BUILD/lua/?.so;;";
HTTP
  server {
    listen 127.0.0.1:PORT;
    location = /__ready { return 200 "ready\n"; }
SERVER
  }
}
]]

local Server = {}
Server.__index = Server

function Server:url(path) return "http://127.0.0.1:" .. self.port .. path end
function Server:error_log() return cosd.read_file(self.prefix .. "/logs/error.log") or "" end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local stat = f:read("*l")
  f:close()
  local state = stat and stat:match(".*%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- Writes the config for `port`, starts nginx in the foreground of a background shell, and waits
-- until /__ready answers. Returns true, or false and the error log (e.g. the port was taken).
local function launch(self, port)
  self.port = port
  local conf = CONF:gsub("[A-Z]+", {
    USER = cosd.capture("id -u"):match("^0") and "user root;" or "", HTTP = self.http, SERVER = self.server,
  }):gsub("[A-Z]+", {
    PREFIX = self.prefix, MODULES = M.MODULES, ROOT = self.root, LUAPATHROOT = self.lua_path .. self.root, BUILD = self.build, PORT = tostring(port),
  })
  write(self.prefix .. "/conf/nginx.conf", conf)
  os.remove(self.prefix .. "/logs/error.log")
  local q = cosd.sh_quote
  -- nginx stops (TERM) when this test process is gone, even if it crashed before its teardown.
  local parent = own_pid() or "1"
  -- A background shell runs nginx and reaps it; its watchdog goes with it.
  local cmd = ("( %s -p %s -c %s -e %s >%s 2>&1 & n=$!; echo $n; "
    .. "( while kill -0 %s && kill -0 $n; do sleep 1; done; kill -TERM $n ) >/dev/null 2>&1 & w=$!; "
    .. "wait $n; kill $w ) 2>/dev/null &"):format(M.BIN, q(self.prefix), q(self.prefix .. "/conf/nginx.conf"),
    q(self.prefix .. "/logs/error.log"), q(self.prefix .. "/logs/stdout.log"), parent)
  local p = cosd.popen(cmd)
  self.pid = tonumber(p:read("*l"))
  p:close()
  for _ = 1, 300 do
    local out = cosd.capture("curl -s --max-time 2 " .. q(self:url("/__ready")))
    if out == "ready\n" then return true end
    if not alive(self.pid) then break end
    cosd.exec("sleep 0.05")
  end
  self:stop()
  return false, self:error_log() .. (cosd.read_file(self.prefix .. "/logs/stdout.log") or "")
end

function M.start(o)
  local self = setmetatable({ http = o.http or "", server = o.server or "", build = assert(o.build, "build"),
    root = assert(o.root, "root"), lua_path = o.lua_path or "" }, Server)
  self.prefix = cosd.tmpdir("lua-cos-nginx")
  assert(cosd.exec("mkdir -p " .. cosd.sh_quote(self.prefix) .. "/conf " .. cosd.sh_quote(self.prefix) .. "/logs "
    .. cosd.sh_quote(self.prefix) .. "/tmp"))
  self.http = self.http:gsub("PREFIX", self.prefix)
  self.server = self.server:gsub("PREFIX", self.prefix)
  math.randomseed(os.time() + (tonumber(own_pid()) or 0))
  local log
  for _ = 1, 8 do -- a random port; another one if it was taken
    local ok
    ok, log = launch(self, math.random(20000, 59999))
    if ok then return self end
    if not log:find("Address already in use", 1, true) then break end
  end
  error("nginx did not start:\n" .. tostring(log))
end

function Server:stop()
  if not self.pid then return end
  cosd.exec("kill -TERM " .. self.pid .. " 2>/dev/null")
  for _ = 1, 200 do
    if not alive(self.pid) then break end
    cosd.exec("sleep 0.05")
  end
  cosd.exec("kill -KILL " .. self.pid .. " 2>/dev/null")
  self.pid = nil
end

function Server:cleanup()
  self:stop()
  cosd.exec("rm -rf " .. cosd.sh_quote(self.prefix))
end

return M
