-- cos: upload to Tencent Cloud Object Storage (COS) from Lua, on a C core.
--
--   local COS = require "cos"
--   local cos = COS.new { SecretId = ..., SecretKey = ... }     -- or COS{...}
--   -- synchronous: returns data, or nil, err
--   local data, err = cos:putObject { Bucket = ..., Region = ..., Key = "1.txt", Body = "hello!" }
--   -- asynchronous: queued, returns the task id; callbacks fire inside cos:run() / cos:poll(ms)
--   cos:putObject({ Bucket = ..., Region = ..., Key = "a.bin", FilePath = "a.bin",
--                   onProgress = function(p) print(p.percent) end },
--                 function(err, data) print(err or data.ETag) end)
--   cos:run()
--
-- Operations, parameters, callbacks and result fields are the Node.js SDK's (see docs). `err` is a
-- table: statusCode, headers, code, message, RequestId where the server gave one.
local core = require "cos.core"

local COS = {}
COS.__index = COS
COS.VERSION = core.VERSION
-- The metatable of every error table lua-cos hands out (readable tostring: code, status, message).
COS.Error = core.error_mt

local EVENTS = { ["list-update"] = true, ["task-list-update"] = true }

-- Inside nginx (OpenResty's ngx_lua) --------------------------------------------------------
-- The engine is poll-driven, so inside nginx run(), wait() and synchronous operations never
-- block the worker: they take one non-blocking engine step (poll(0)) and yield to nginx with
-- ngx.sleep between steps, so the worker keeps serving other requests. That needs a phase whose
-- handlers may yield; elsewhere a clear error says so. Everything else is the same as in plain Lua.
local NGX_YIELDABLE = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}
COS.NGX_STEP = 0.001 -- seconds given back to nginx between two engine steps

-- ngx and its phase when running inside nginx, else nil.
local function ngx_phase()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" or type(ngx.sleep) ~= "function" then return nil end
  return ngx, ngx.get_phase()
end

-- True when every unfinished task of the queue is paused: nothing can progress until the caller
-- restarts one, so a wait returns, as cos_run/cos_wait do in plain Lua. Tasks outside the queue
-- (headObject, putObject of a string, ...) cannot be paused and always progress.
local function only_paused(client)
  local paused = false
  for _, t in ipairs(client:task_list()) do
    local st = t.state
    if st == "paused" then paused = true
    elseif st ~= "success" and st ~= "error" and st ~= "canceled" then return false end
  end
  return paused
end

-- True while task `id` has not delivered its callback; false once it has, or once the client was
-- closed (from a callback, or by another request sharing it), as the C loop stops then too.
local function pending(client, id)
  local ok, p = pcall(client.pending, client, id)
  return ok and p
end

-- Inside nginx: raises unless the current phase can yield. Returns ngx, or nil outside nginx.
-- `what` names the call in the error (which has no position: the caller's frame may be a tail call).
local function ngx_check(what)
  local ngx, phase = ngx_phase()
  if ngx and not NGX_YIELDABLE[phase] then
    error(("cos:%s cannot wait in nginx's %s phase: that phase cannot yield, and waiting there would "
      .. "block the worker; start the operation from ngx.timer.at(0, handler) or from a rewrite, access "
      .. "or content handler"):format(what, tostring(phase)), 0)
  end
  return ngx
end

-- Inside nginx: drives the engine until more() (which takes one step) is false or only paused
-- tasks are left, and returns true. Outside nginx returns false: the caller uses the C loop.
local function ngx_drive(client, what, more)
  local ngx = ngx_check(what)
  if not ngx then return false end
  local checked = ngx.now()
  while more() do
    if ngx.now() - checked >= 0.1 then -- a cheap look at the queue, ten times a second
      checked = ngx.now()
      if only_paused(client) then break end
    end
    ngx.sleep(COS.NGX_STEP)
  end
  return true
end

local function check_self(self, method)
  if getmetatable(self) ~= COS then
    error(("bad self to '%s' (use cos:%s(...), not cos.%s(...))"):format(method, method, method), 3)
  end
  return self._client
end

-- The getAuthorization option (docs/cos-wire.md#temporary-credentials): the C core asks for credentials with
-- (token, options) from inside a poll step; provider(options, callback) answers now or later.
-- callback(data) as in the Node SDK (also callback(err) / callback(nil, data)), data being a
-- ready {Authorization, SecurityToken?} or STS {TmpSecretId, TmpSecretKey, SecurityToken,
-- StartTime?, ExpiredTime} (cached by the core until 60 s before ExpiredTime). A provider that
-- raises, or calls back with an error, fails the request with that error. Only the first answer
-- counts. A provider that never answers fails the request after Timeout (60 s without Timeout).
-- The client is held weakly, so the dispatcher (referenced from C) does not pin it.
local function credentials_dispatcher(client, provider)
  local weak = setmetatable({ client }, { __mode = "v" })
  return function(token, opts)
    local answered = false
    local function answer(err, creds)
      if answered then return end
      answered = true
      local c = weak[1]
      if c then pcall(c.provide_credentials, c, token, err, creds) end -- a closed client ignores it
    end
    local ok, e = pcall(provider, opts, function(a, b)
      if type(a) == "table" and (a.Authorization ~= nil or a.TmpSecretId ~= nil) then return answer(nil, a) end
      if a == nil and type(b) == "table" then return answer(nil, b) end
      if a == nil then return answer("getAuthorization gave no credentials") end
      return answer(type(a) == "table" and a or tostring(a))
    end)
    if not ok then answer(type(e) == "table" and e or tostring(e)) end
  end
end

--- COS.new(options) -> cos. Options as the Node SDK's constructor (SecretId, SecretKey, Protocol,
-- Domain, Ip, FileParallelLimit, ChunkParallelLimit, ChunkSize, SliceSize, ProgressInterval, ...).
-- Invalid options raise an error naming the option.
function COS.new(options)
  if options ~= nil and type(options) ~= "table" then
    error("bad argument #1 to 'COS.new' (options table expected, got " .. type(options) .. ")", 2)
  end
  local ok, client = pcall(core.new, options or {})
  if not ok then error(client, 2) end
  if options and options.getAuthorization ~= nil then
    if type(options.getAuthorization) ~= "function" then
      client:close()
      error("option getAuthorization must be a function", 2)
    end
    client:on_credentials(credentials_dispatcher(client, options.getAuthorization))
  end
  -- listeners live outside self, so the dispatcher held by the C side does not pin the client
  return setmetatable({ _client = client, _listeners = {} }, COS)
end

setmetatable(COS, { __call = function(_, options) return COS.new(options) end })

function COS:__tostring()
  return "COS client (" .. tostring(self._client) .. ")"
end

-- Runs operation `op`. With a callback: queued, returns the task id. Without: runs the engine until
-- this operation has finished and returns data, or nil, err.
-- after_start(id), when given, runs right after the operation was queued.
local function call(self, op, params, callback, after_start)
  local client = check_self(self, op)
  if type(params) ~= "table" then
    error(("bad argument #1 to '%s' (params table expected, got %s)"):format(op, type(params)), 3)
  end
  if callback ~= nil and type(callback) ~= "function" then
    error(("bad argument #2 to '%s' (callback function expected, got %s)"):format(op, type(callback)), 3)
  end
  if callback then
    local id, err = client:start(op, params, { callback = callback })
    if not id then
      callback(err, nil)
      return nil, err
    end
    if after_start then after_start(id) end
    return id
  end
  ngx_check(op) -- before anything starts
  local done, rerr, rdata = false, nil, nil
  local id, err = client:start(op, params, { callback = function(e, d) done, rerr, rdata = true, e, d end })
  if not id then return nil, err end
  if after_start then after_start(id) end
  local function more()
    if done or not pending(client, id) then return false end
    client:poll(0)
    return not done and pending(client, id)
  end
  if not ngx_drive(client, op, more) then
    client:wait(id)
  end
  if not done then
    return nil, setmetatable({ code = "TaskCanceled", message = op .. " task " .. id .. " was canceled" },
      core.error_mt)
  end
  if rerr then return nil, rerr end
  return rdata
end

-- One method per operation of the C core's index (core.operations, the Node SDK's names): an
-- operation added to the core is a method here with no change to this file. Methods defined
-- below (uploadFiles) add what only Lua does on top of the core's operation.
for _, op in ipairs(core.operations) do
  COS[op] = function(self, params, callback) return call(self, op, params, callback) end
end

-- uploadFiles: the files' own callbacks. Each file's onTaskReady(taskId) is called once the files
-- are queued (their tasks follow the uploadFiles call's id, in input order); each file's
-- onFileFinish(err, data) runs before the top-level onFileFinish(err, data, options), as in the
-- Node SDK (options.Index is the file's index as a string, "0", "1", ...); each file's
-- onProgress(progressData) gets that file's own progress (the core's onFileProgress(index,
-- progressData, taskId), which also reaches a top-level onFileProgress), while the top-level
-- onProgress gets the aggregate.
function COS:uploadFiles(params, callback)
  local client = check_self(self, "uploadFiles")
  if type(params) ~= "table" or type(params.files) ~= "table" then
    return call(self, "uploadFiles", params, callback)
  end
  local finish, ready, progress = {}, {}, {}
  for i, f in ipairs(params.files) do
    if type(f) == "table" then
      finish[i] = type(f.onFileFinish) == "function" and f.onFileFinish or nil
      ready[i] = type(f.onTaskReady) == "function" and f.onTaskReady or nil
      progress[i] = type(f.onProgress) == "function" and f.onProgress or nil
    end
  end
  if next(finish) or next(progress) then
    local copy = {}
    for k, v in pairs(params) do copy[k] = v end
    if next(finish) then
      local top = params.onFileFinish
      copy.onFileFinish = function(err, data, options)
        local idx = options and tonumber(options.Index)
        local fn = idx and finish[idx + 1]
        if fn then fn(err, data) end
        if top then top(err, data, options) end
      end
    end
    if next(progress) then
      local top = type(params.onFileProgress) == "function" and params.onFileProgress or nil
      copy.onFileProgress = function(index, progressData, taskId)
        local fn = progress[index + 1]
        if fn then fn(progressData) end
        if top then top(index, progressData, taskId) end
      end
    end
    params = copy
  end
  local after_start
  if next(ready) then
    after_start = function(parent_id)
      local tasks = {}
      for _, t in ipairs(client:task_list()) do
        if t.id > parent_id then tasks[#tasks + 1] = t end
      end
      table.sort(tasks, function(a, b) return a.id < b.id end)
      local claimed = {}
      for i, f in ipairs(params.files) do
        if ready[i] then
          local key = type(f.Key) == "string" and f.Key:gsub("^/", "") or nil
          for _, t in ipairs(tasks) do
            if not claimed[t.id] and t.Key == key and t.Bucket == f.Bucket then
              claimed[t.id] = true
              -- a raising callback fails the call it belongs to (as callbacks the core delivers do)
              local ok, e = pcall(ready[i], t.id)
              if not ok then
                local what = (type(e) == "string" or type(e) == "number") and tostring(e) or ("a " .. type(e) .. " value")
                client:fail_callback(parent_id, "files[" .. i .. "].onTaskReady raised an error: " .. what)
                error(e, 0)
              end
              break
            end
          end
        end
      end
    end
  end
  return call(self, "uploadFiles", params, callback, after_start)
end

-- uploadDirectory's own parameters (not passed on to each file).
local DIR_PARAMS = { LocalPath = true, Prefix = true, Symlinks = true, SkipExisting = true, onProgress = true,
  onFileFinish = true, onFileProgress = true, files = true }

--- cos:uploadDirectory(params[, callback]): the regular files under params.LocalPath, recursively,
-- to the keys params.Prefix .. <path relative to LocalPath> ('/'-separated), through uploadFiles
-- (one aggregate onProgress with filesDone/filesFailed/filesTotal, onFileFinish per file).
-- A file whose object already exists with the same size and CRC-64 (HEAD's x-cos-hash-crc64ecma)
-- is skipped, so re-running after an interruption or failures uploads only what is missing (and
-- a big file resumes its multipart upload from its checkpoint).
-- params: Bucket, Region, LocalPath, Prefix (default ""), Symlinks ("skip" (default), "follow",
-- "error"), SkipExisting (default true), onProgress, onFileFinish, onFileProgress, and any
-- uploadFile parameter, applied to every file (SliceSize, StorageClass, ...).
-- Result: { files = uploadFiles' files (those sent), skipped = { {Key, FilePath}, ... },
--   failed = { {Key, FilePath, error}, ... } }; err only when the folder cannot be listed.
function COS:uploadDirectory(params, callback)
  local client = check_self(self, "uploadDirectory")
  if type(params) ~= "table" then
    error("bad argument #1 to 'uploadDirectory' (params table expected, got " .. type(params) .. ")", 2)
  end
  if callback ~= nil and type(callback) ~= "function" then
    error("bad argument #2 to 'uploadDirectory' (callback function expected, got " .. type(callback) .. ")", 2)
  end
  local function fail(err)
    if callback then callback(err, nil) end
    return nil, err
  end
  if type(params.LocalPath) ~= "string" then
    return fail(setmetatable({ code = "InvalidParameter", message = "missing param LocalPath (a directory)" },
      core.error_mt))
  end
  if params.Prefix ~= nil and type(params.Prefix) ~= "string" then
    return fail(setmetatable({ code = "InvalidParameter", message = "Prefix must be a string" }, core.error_mt))
  end
  -- the one boolean rule of params (docs/api.md): true/"true", false/"false", nil is the default
  local skip_existing = params.SkipExisting
  if skip_existing == nil or skip_existing == "true" then skip_existing = true
  elseif skip_existing == "false" then skip_existing = false
  elseif type(skip_existing) ~= "boolean" then
    return fail(setmetatable({ code = "Error", param = "SkipExisting",
      message = "param SkipExisting must be true or false (or \"true\" / \"false\")" }, core.error_mt))
  end
  local list, err = core.list_files(params.LocalPath, params.Symlinks)
  if not list then return fail(err) end
  local prefix = params.Prefix or ""
  local skipped = {}

  local function file_params(f)
    local p = {}
    for k, v in pairs(params) do
      if not DIR_PARAMS[k] and type(v) ~= "function" then p[k] = v end
    end
    p.Key, p.FilePath = prefix .. f.RelativePath, f.FilePath
    return p
  end
  local function result(data)
    local r = { files = data and data.files or {}, skipped = skipped, failed = {} }
    for _, x in ipairs(r.files) do
      if x.error then
        r.failed[#r.failed + 1] = { Key = x.options.Key, FilePath = x.options.FilePath, error = x.error }
      end
    end
    return r
  end
  local function upload_rest()
    local files = {}
    for _, f in ipairs(list) do
      if not f.skip then files[#files + 1] = file_params(f) end
    end
    local up = { files = files, onProgress = params.onProgress, onFileFinish = params.onFileFinish,
      onFileProgress = params.onFileProgress, SliceSize = params.SliceSize }
    if #files == 0 then
      if callback then callback(nil, result(nil)) end
      return result(nil)
    end
    if callback then
      return self:uploadFiles(up, function(e, d)
        if e then callback(e, nil) else callback(nil, result(d)) end
      end)
    end
    local d, e = self:uploadFiles(up)
    if not d then return nil, e end
    return result(d)
  end

  -- Skip what is already there: HEAD every key at once (the engine bounds the connections), and
  -- hash a local file only when the sizes match.
  local pending, heads = #list, {}
  local function headed(f, e, data)
    local h = not e and data and data.headers or {}
    local remote_crc = h["x-cos-hash-crc64ecma"]
    if remote_crc and tonumber(h["content-length"]) == f.Size and core.file_crc64(f.FilePath) == remote_crc then
      f.skip = true
      skipped[#skipped + 1] = { Key = prefix .. f.RelativePath, FilePath = f.FilePath }
    end
    pending = pending - 1
    if pending == 0 and callback then upload_rest() end
  end
  if not skip_existing or #list == 0 then return upload_rest() end
  for _, f in ipairs(list) do
    heads[#heads + 1] = self:headObject({ Bucket = params.Bucket, Region = params.Region,
      Key = prefix .. f.RelativePath }, function(e, d) headed(f, e, d) end)
  end
  if callback then return true end
  for _, id in ipairs(heads) do client:wait(id) end
  table.sort(skipped, function(a, b) return a.Key < b.Key end)
  return upload_rest()
end

--- cos:getObjectUrl(params[, callback]) -> url | nil, err. With a callback, it also gets
-- callback(err, {Url = url}).
function COS:getObjectUrl(params, callback)
  local client = check_self(self, "getObjectUrl")
  if type(params) ~= "table" then
    error("bad argument #1 to 'getObjectUrl' (params table expected, got " .. type(params) .. ")", 2)
  end
  local url, err = client:get_object_url(params)
  if callback then
    if url then callback(nil, { Url = url }) else callback(err, nil) end
  end
  if not url then return nil, err end
  return url
end

-- Task queue ---------------------------------------------------------------------------------

function COS:getTaskList() return check_self(self, "getTaskList"):task_list() end
function COS:pauseTask(id) return check_self(self, "pauseTask"):pause(id) end
function COS:restartTask(id) return check_self(self, "restartTask"):restart(id) end
function COS:cancelTask(id) return check_self(self, "cancelTask"):cancel(id) end

--- cos:on('list-update', fn): fn({list = tasks}) after each batch of task changes.
function COS:on(event, fn)
  local client = check_self(self, "on")
  if not EVENTS[event] then error("bad argument #1 to 'on' (unknown event '" .. tostring(event) .. "')", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'on' (function expected, got " .. type(fn) .. ")", 2) end
  local listeners = self._listeners
  local had_any = next(listeners) ~= nil
  listeners[#listeners + 1] = { event = event, fn = fn }
  if not had_any then
    client:on_list_update(function(list)
      local snapshot = {}
      for i, l in ipairs(listeners) do snapshot[i] = l.fn end
      for _, f in ipairs(snapshot) do f({ list = list }) end
    end)
  end
  return self
end

function COS:off(event, fn)
  local client = check_self(self, "off")
  local listeners = self._listeners
  for i = #listeners, 1, -1 do
    local l = listeners[i]
    if l.event == event and (fn == nil or l.fn == fn) then table.remove(listeners, i) end
  end
  if next(listeners) == nil then client:on_list_update(nil) end
  return self
end

-- Driving the engine ----------------------------------------------------------------------------

--- cos:run(): advances every queued operation until none is left. An error raised by one of your
-- callbacks is raised from here (the engine stays consistent and usable).
-- Inside nginx it yields between engine steps (see above).
function COS:run()
  local client = check_self(self, "run")
  if ngx_drive(client, "run", function() return client:poll(0) > 0 end) then return end
  return client:run()
end

--- cos:poll([timeout_ms]) -> number of unfinished tasks. One step: waits up to timeout_ms (default
-- 0) for something to happen, as poll(2) does (an idle client sleeps the whole timeout).
function COS:poll(timeout_ms) return check_self(self, "poll"):poll(timeout_ms or 0) end

--- Event-loop integration (a host loop instead of cos:run/cos:poll; see cos.luv for luv):
-- cos:sockets() -> { {fd = n, events = "r" | "w" | "rw", id = n}, ... }: the sockets to watch now
--   (id is unique per socket: an fd number reused by a new socket comes with a new id);
-- cos:timeout() -> ms until cos:socketAction(-1) is due (0: at once), or -1 (sockets only);
-- cos:socketAction(fd, events) -> unfinished tasks: fd is ready ("r", "w", "rw"), or fd = -1 when
--   the timeout expired. Callbacks run inside it. Read sockets() and timeout() again after each
--   call (and after starting an operation): both change as transfers come and go.
function COS:sockets() return check_self(self, "sockets"):sockets() end
function COS:timeout() return check_self(self, "timeout"):timeout() end
function COS:socketAction(fd, events)
  return check_self(self, "socketAction"):socket_action(fd, events)
end

--- cos:wait(id): runs the engine until task `id` has finished. Inside nginx it yields between
-- engine steps (see above).
function COS:wait(id)
  local client = check_self(self, "wait")
  if type(id) == "number" and id > 0 and ngx_drive(client, "wait", function()
    if not pending(client, id) then return false end
    client:poll(0)
    return pending(client, id)
  end) then return end
  return client:wait(id)
end

--- cos:close(): aborts what is in flight (no callbacks) and frees the client. Idempotent.
function COS:close() return self._client:close() end
COS.__close = COS.close

-- Signing ------------------------------------------------------------------------------------

--- COS.getAuthorization(opts) -> Authorization string. opts: SecretId, SecretKey, Method,
-- Pathname or Key, Query, Headers, KeyTime, Expires, SystemClockOffset (Bucket, Region).
-- Missing or invalid parameters raise an error naming them, as the Node SDK throws.
function COS.getAuthorization(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'getAuthorization' (options table expected, got " .. type(opts) .. ")", 2)
  end
  local auth, err = core.get_authorization(opts)
  if not auth then error(type(err) == "table" and err.message or tostring(err), 2) end
  return auth
end

if core.post_policy then COS.getPostPolicy = core.post_policy end

return COS
