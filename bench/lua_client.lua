-- Benchmark client: lua-cos (lua/cos + build/lua/cos/core.so).
-- usage: lua5.4 bench/lua_client.lua mode=slice|upload|files port=PORT [file=PATH key=KEY]
--                                    [dir=DIR n=COUNT] [chunk=BYTES par=N fpar=N] [defaults=1]
--   slice   cos:sliceUploadFile{...} with ChunkSize=chunk, AsyncLimit=par
--   upload  cos:uploadFile{...} (with defaults=1: nothing but the credentials and the endpoint)
--   files   cos:uploadFiles{files = n files dir/f00000...}
--   pipe    cos:sliceUploadFile{Body = io.popen(cmd)} with ChunkSize=chunk, AsyncLimit=par: a stream
--           of unknown length; cmd=... (bytes=N it produces), or file=PATH read through `cat`
-- Prints one line: "BENCH ok=1 wall=SECONDS cpu=SECONDS bytes=N files=N" or "BENCH ok=0 err=MESSAGE".
-- cpu is os.clock() (the process's user+sys CPU, all threads) over the call.
-- wall covers only the upload call. Lua has no sub-second clock, so it is read with `date +%s.%N`
-- (one fork before and one after the call, a millisecond or so).
local args = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^([%w_]+)=(.*)$")
  if k then args[k] = v end
end

local function finish(line, code)
  io.stdout:write("BENCH ", line, "\n")
  io.stdout:flush()
  os.exit(code)
end

local function errtext(e)
  if e == nil then return "unknown error" end
  if type(e) == "table" then
    local s = tostring(e.code or "Error") .. ": " .. tostring(e.message or "")
    if e.statusCode then s = s .. " (HTTP " .. tostring(e.statusCode) .. ")" end
    return s
  end
  return tostring(e)
end

local function quote(s) return '"' .. tostring(s):gsub("[\r\n]", " "):gsub('"', "'") .. '"' end

local function now()
  local p = io.popen("date +%s.%N")
  local s = p:read("l")
  p:close()
  return tonumber(s)
end

local function fsize(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local ok, COS = pcall(require, "cos")
if not ok then finish("ok=0 err=" .. quote("cannot load lua-cos: " .. tostring(COS)), 2) end

local Bucket, Region = "examplebucket-1250000000", "ap-guangzhou"
local defaults = args.defaults == "1"
local opts = {
  SecretId = "AKIDcosdTESTsecretid0000000000000000",
  SecretKey = "cosdTESTsecretkey000000000000000",
  Protocol = "http:",
  Ip = "127.0.0.1:" .. tostring(args.port),
}
if not defaults then
  if args.chunk then opts.ChunkSize = tonumber(args.chunk) end
  if args.par then opts.ChunkParallelLimit = tonumber(args.par) end
  if args.fpar then opts.FileParallelLimit = tonumber(args.fpar) end
end
local cos = COS.new(opts)

if args.mode == "slice" or args.mode == "upload" then
  local size = fsize(args.file)
  local params = { Bucket = Bucket, Region = Region, Key = args.key, FilePath = args.file }
  if not defaults and args.mode == "slice" then
    if args.chunk then params.ChunkSize = tonumber(args.chunk) end
    if args.par then params.AsyncLimit = tonumber(args.par) end
  end
  local op = args.mode == "slice" and "sliceUploadFile" or "uploadFile"
  local t0, c0 = now(), os.clock()
  local data, err = cos[op](cos, params)
  local cpu, wall = os.clock() - c0, now() - t0
  if not data then finish("ok=0 err=" .. quote(errtext(err)), 1) end
  finish(("ok=1 wall=%.6f cpu=%.6f bytes=%d files=1 etag=%s"):format(wall, cpu, size, tostring(data.ETag)), 0)
elseif args.mode == "pipe" then
  local cmd = args.cmd or ("cat '" .. args.file:gsub("'", "'\\''") .. "'")
  local size = args.cmd and tonumber(args.bytes) or fsize(args.file)
  local params = { Bucket = Bucket, Region = Region, Key = args.key,
    ChunkSize = tonumber(args.chunk), AsyncLimit = tonumber(args.par) }
  local t0, c0 = now(), os.clock()
  params.Body = assert(io.popen(cmd, "r"))
  local data, err = cos:sliceUploadFile(params)
  local cpu, wall = os.clock() - c0, now() - t0
  params.Body:close()
  if not data then finish("ok=0 err=" .. quote(errtext(err)), 1) end
  finish(("ok=1 wall=%.6f cpu=%.6f bytes=%d files=1 etag=%s"):format(wall, cpu, size, tostring(data.ETag)), 0)
elseif args.mode == "files" then
  local n = tonumber(args.n)
  local files, bytes = {}, 0
  for i = 0, n - 1 do
    local name = ("f%05d"):format(i)
    local fp = args.dir .. "/" .. name
    bytes = bytes + fsize(fp)
    files[#files + 1] = { Bucket = Bucket, Region = Region, Key = "small/" .. name, FilePath = fp }
  end
  local t0, c0 = now(), os.clock()
  local data, err = cos:uploadFiles { files = files }
  local cpu, wall = os.clock() - c0, now() - t0
  if not data then finish("ok=0 err=" .. quote(errtext(err)), 1) end
  local got, failed, first = 0, 0, nil
  for _, f in ipairs(data.files or {}) do
    got = got + 1
    if f.error then
      failed = failed + 1
      first = first or f.error
    end
  end
  if failed > 0 or got ~= n then
    finish("ok=0 err=" .. quote(("%d of %d files failed (%d results): %s"):format(failed, n, got, errtext(first))), 1)
  end
  finish(("ok=1 wall=%.6f cpu=%.6f bytes=%d files=%d"):format(wall, cpu, bytes, n), 0)
else
  finish("ok=0 err=" .. quote("unknown mode " .. tostring(args.mode)), 2)
end
