/* cos.h: the public C API of lua-cos, a client for Tencent Cloud Object Storage (COS).
 *
 * The core is usable without Lua. Everything hangs off a cos_client; there is no global mutable
 * state besides the one-time library initialisation that libcurl and libxml2 need (done for you,
 * once, the first time a client is created; see "Threads" below).
 *
 * Installed as a library (`make install-lib PREFIX=...`): libcos.so (soname libcos.so.<major of
 * COS_VERSION>), libcos.a and this header; pkg-config name "lua-cos":
 *   cc app.c $(pkg-config --cflags --libs lua-cos)
 * libcos.so exports the functions declared COS_API below and nothing else, so it cannot clash with
 * a host's own libcurl, libxml2, OpenSSL or Lua.
 *
 * Model
 * - Parameters, results and errors are trees of cos_value (objects, arrays, strings, numbers,
 *   booleans), shaped exactly as the Node.js SDK shapes its JavaScript objects: the same field
 *   names (Bucket, Key, ETag, statusCode, headers, ...). A binding converts them one to one.
 * - An operation is started with cos_start(); it is queued and returns a task id (> 0). It
 *   advances only inside cos_poll()/cos_run(). Callbacks are plain C function pointers, invoked
 *   only from cos_poll()/cos_run() (never from inside a libcurl callback), so a callback may
 *   start new operations or even drive cos_poll() again.
 * - Ownership: cos_start() takes ownership of `params`. A callback receiving a cos_value* owns it
 *   and must free it with cos_value_free(). Strings returned as `char *` are malloc'd and are the
 *   caller's to free().
 * - Errors (cos_value objects) carry: statusCode (number, absent on network errors), headers
 *   (object, lower-case names), code (string: COS's <Code>, an HTTP status such as "404" /
 *   "NotFound", a network class such as "ECONNREFUSED", or "Error"/"InvalidParameter" for
 *   validation), message, RequestId. They never contain a secret.
 *
 * Threads
 * - A cos_client, with its tasks and callbacks, belongs to one thread at a time: every call on a
 *   client (cos_start, cos_poll, cos_task_*, cos_credentials_provide, cos_client_free, ...) must
 *   come from that thread, or the host serialises them (a client may move to another thread
 *   with the usual hand-over: a mutex, a join). Callbacks run on the thread calling cos_poll /
 *   cos_run / cos_wait. Clients on different threads are independent: they share no memory and
 *   take no lock; one client per thread is the model for parallel hosts.
 * - cos_value trees are plain data: one thread at a time per tree. Functions without a client
 *   (values, cos_get_authorization, cos_post_policy) may run on any thread at any time.
 * - Process level: the first cos_client_new (from any thread) calls curl_global_init and
 *   xmlInitParser once (pthread_once), and the CRC-64 tables are built once the same way; that is
 *   all the global state there is. A host may call curl_global_init itself, before or after (libcurl
 *   counts the calls), but must not call curl_global_cleanup while a client exists; lua-cos never
 *   calls curl_global_cleanup or xmlCleanupParser, so it never tears down a host's libcurl or
 *   libxml2. A host that also uses libxml2 on other threads calls xmlInitParser itself first
 *   (libxml2 2.9 asks that of every multi-threaded program).
 * - lua-cos starts no thread and installs no signal handler (transfers use CURLOPT_NOSIGNAL).
 *   libcurl, as Debian builds it, resolves each host name on a short-lived thread of its own
 *   that runs none of our code or the host's; a numeric address (the Ip option) starts none.
 * - Resumable uploads read HOME / XDG_CACHE_HOME (getenv) for the checkpoint directory: do not
 *   setenv on another thread meanwhile. Two clients uploading the same file to the same object at
 *   the same time (any threads or processes) share one checkpoint file: do not.
 */
#ifndef COS_H
#define COS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COS_VERSION "0.1.0"

/* Marks the exported API: the library is compiled with hidden visibility, so whatever is not
 * declared COS_API here stays inside it. */
#if defined(__GNUC__) || defined(__clang__)
#define COS_API __attribute__((visibility("default")))
#else
#define COS_API
#endif

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                      */

typedef enum cos_vtype {
    COS_NIL = 0,
    COS_BOOL,
    COS_NUM, /* double; integers up to 2^53 are exact */
    COS_STR, /* byte string, may contain NUL */
    COS_ARR,
    COS_OBJ  /* ordered map from string keys; setting an existing key replaces its value */
} cos_vtype;

typedef struct cos_value cos_value;

COS_API cos_value *cos_nil_new(void);
COS_API cos_value *cos_bool_new(int b);
COS_API cos_value *cos_num_new(double n);
COS_API cos_value *cos_str_new(const char *s, size_t len);
COS_API cos_value *cos_cstr_new(const char *s);
COS_API cos_value *cos_arr_new(void);
COS_API cos_value *cos_obj_new(void);
COS_API void cos_value_free(cos_value *v);
COS_API cos_value *cos_value_clone(const cos_value *v);

COS_API cos_vtype cos_value_type(const cos_value *v); /* COS_NIL for a NULL pointer */
COS_API int cos_value_bool(const cos_value *v);
COS_API double cos_value_num(const cos_value *v);
COS_API const char *cos_value_str(const cos_value *v, size_t *len); /* NUL-terminated; NULL if not a string */
COS_API size_t cos_value_len(const cos_value *v);                    /* entries of an array or object */

/* Arrays */
COS_API int cos_arr_push(cos_value *arr, cos_value *item); /* takes ownership; 0 or -1 */
COS_API const cos_value *cos_arr_get(const cos_value *arr, size_t i);

/* Objects (insertion order is kept; lookups are case-sensitive) */
COS_API int cos_obj_set(cos_value *obj, const char *key, cos_value *item); /* takes ownership */
COS_API int cos_obj_set_str(cos_value *obj, const char *key, const char *s);
COS_API int cos_obj_set_num(cos_value *obj, const char *key, double n);
COS_API int cos_obj_set_bool(cos_value *obj, const char *key, int b);
COS_API const cos_value *cos_obj_get(const cos_value *obj, const char *key);
COS_API const char *cos_obj_get_str(const cos_value *obj, const char *key); /* NULL unless a string */
COS_API const char *cos_obj_key(const cos_value *obj, size_t i);
COS_API const cos_value *cos_obj_at(const cos_value *obj, size_t i);
COS_API cos_value *cos_obj_take(cos_value *obj, const char *key); /* removes and returns, caller owns */

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                      */

typedef struct cos_client cos_client;
typedef int64_t cos_task_id;

/* Options (all optional), names as the Node SDK's constructor: SecretId, SecretKey,
 * SecurityToken, Protocol ("https:" default, or "http:"), Domain (template with {Bucket},
 * {Region}), Ip ("host[:port]": connect there, keep the virtual-hosted Host), Timeout (ms),
 * CaInfo (CA bundle path), FileParallelLimit, ChunkParallelLimit, ChunkRetryTimes, ChunkSize,
 * SliceSize, ProgressInterval (ms), MaxPartNumber, CorrectClockSkew, SystemClockOffset (ms),
 * UseRawKey, UserAgent, UploadCheckContentMd5, ConfCwd (checkpoint directory), RetryTimes.
 * Temporary credentials on demand (the Node SDK's getAuthorization): cos_set_credentials_provider.
 * Node SDK options for behaviour lua-cos lacks (KeepAlive, ForceSignHost, UploadIdCacheLimit, ...)
 * are accepted without effect; any other name is refused, as are out-of-range numbers (never
 * clamped), NaN/infinities and control characters in strings (docs/api.md lists the ranges).
 * Returns NULL and sets *err (a cos_value error the caller frees) on invalid options. */
COS_API cos_client *cos_client_new(const cos_value *options, cos_value **err);
/* Aborts whatever is in flight; every pending task's callbacks get release() but no on_done. */
COS_API void cos_client_free(cos_client *c);

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                  */

typedef struct cos_progress {
    double loaded;  /* bytes */
    double total;   /* bytes; -1 when unknown */
    double speed;   /* bytes per second, smoothed: each interval's rate moves it by 1 - e^(-dt/2s),
                     * so a short interval (a file finishing) cannot make it jump */
    double percent; /* floor(loaded/total*100)/100; 1 when total is 0 and loaded is 0 */
    /* uploadFiles' aggregate only (-1 elsewhere): files finished successfully, failed, in all */
    double files_done, files_failed, files_total;
} cos_progress;

/* Where a request body comes from. The core copies what it needs at cos_start(). */
typedef enum cos_body_kind {
    COS_BODY_NONE = 0,
    COS_BODY_MEM,  /* data/len, copied */
    COS_BODY_FD,   /* fd (dup'ed by the core), from `offset`, `length` bytes (-1: to end of file) */
    COS_BODY_PATH, /* path, streamed from disk */
    COS_BODY_PULL, /* chunks pulled through cos_callbacks.on_pull; `length` must be known (>= 0) */
    /* sliceUploadFile / uploadFile: a stream of unknown length (a pipe, a generator), read into
     * part buffers through cos_callbacks.on_read, or, when on_read is NULL, from `fd` (a pipe,
     * socket or file the core dup's and reads itself, never blocking: poll() first). With on_read
     * set, `fd` may be -1 or a descriptor the core waits on (readable) after on_read answered
     * COS_READ_AGAIN. `length`: -1 unknown, or the length the stream must have (ContentLength).
     * Only cos_poll reads: one step reads at most what the part being filled still needs, in
     * slices (docs/upload-engine.md, "Streams"). */
    COS_BODY_STREAM
} cos_body_kind;

/* What cos_callbacks.on_read returns besides a byte count (> 0) and 0 (end of the stream). */
#define COS_READ_ERROR (-1) /* fails the upload; *err may carry the error object */
#define COS_READ_AGAIN (-2) /* nothing available right now: asked again in a later cos_poll step */

typedef struct cos_body {
    cos_body_kind kind;
    const void *data;
    size_t len;
    int fd;
    int64_t offset;
    int64_t length;
    const char *path;
} cos_body;

/* Output of getObject: NONE keeps the body in memory (data.Body); PATH/FD stream it to disk. */
typedef struct cos_output {
    cos_body_kind kind; /* COS_BODY_NONE, COS_BODY_PATH or COS_BODY_FD */
    const char *path;
    int fd;
} cos_output;

typedef struct cos_callbacks {
    void *ud;
    /* Final result; exactly one of err/data is non-NULL. The callee owns both. */
    void (*on_done)(void *ud, cos_task_id id, cos_value *err, cos_value *data);
    void (*on_progress)(void *ud, cos_task_id id, const cos_progress *p);
    void (*on_hash_progress)(void *ud, cos_task_id id, const cos_progress *p);
    void (*on_task_ready)(void *ud, cos_task_id id);
    /* uploadFile / uploadFiles: per file, before on_done; options = the file's primitive params. */
    void (*on_file_finish)(void *ud, cos_task_id id, cos_value *err, cos_value *data, cos_value *options);
    /* COS_BODY_PULL: give the next chunk (the core copies it); *len = 0 means end of body.
     * Return 0, or -1 to fail the request. Called from cos_poll only. */
    int (*on_pull)(void *ud, cos_task_id id, const void **chunk, size_t *len);
    /* Called exactly once when the core will not use `ud` again (after on_done, or on free). */
    void (*release)(void *ud);
    /* uploadFiles: one file's own progress (the Node SDK's files[i].onProgress), as that file's
     * uploadFile task reports it: id = the file's task id, index = its position in files (0-based).
     * The aggregate still goes to on_progress. */
    void (*on_file_progress)(void *ud, cos_task_id id, size_t index, const cos_progress *p);
    /* COS_BODY_STREAM: copy up to `cap` bytes of the stream into buf and return their number;
     * 0 at the end of the stream, COS_READ_AGAIN when nothing is available yet (never block in
     * a frame loop), COS_READ_ERROR to fail the upload (optionally with *err, an error object
     * the core takes). Called from cos_poll only, never from inside libcurl. */
    long (*on_read)(void *ud, cos_task_id id, void *buf, size_t cap, cos_value **err);
} cos_callbacks;

/* The name of operation number `index` (0, 1, ...: "putObject", "appendObject", ...), NULL past
 * the last: the list of what cos_start runs (the Lua binding builds its methods from it). */
COS_API const char *cos_operation_name(size_t index);
/* 1 when operation `name` takes a COS_BODY_STREAM body (a reader or descriptor of unknown
 * length: sliceUploadFile, uploadFile), else 0. */
COS_API int cos_operation_streams(const char *name);

/* Starts operation `op`, one of the names cos_operation_name lists (the Node SDK's names:
 * "putObject", "sliceUploadFile", "multipartComplete", ...).
 * Takes ownership of `params` (an object). `body` may be NULL; `output` may be NULL.
 * Validation happens before anything is queued (unknown param names, control characters in
 * anything that becomes a header, out-of-range numbers, a Key addressing the bucket, a FilePath
 * that is not a regular file, ...: docs/api.md "Input rules"): on bad input it returns 0, sets *err, and
 * calls cb->release (no other callback). On success returns the task id; on_task_ready is
 * called before cos_start returns (as the Node SDK calls onTaskReady synchronously). */
COS_API cos_task_id cos_start(cos_client *c, const char *op, cos_value *params, const cos_body *body,
                      const cos_output *output, const cos_callbacks *cb, cos_value **err);

/* The most request-body bytes one cos_poll step reads, hashes and hands to libcurl, over all the
 * transfers in flight together; a transfer that reaches it pauses until the next step. */
#define COS_STEP_MAX_BYTES ((int64_t)1024 * 1024)

/* One step: waits up to timeout_ms for network activity (0: do not wait), advances transfers,
 * then delivers the events recorded meanwhile. Returns the number of unfinished tasks. Like
 * poll(2), it returns early when something happened, else after timeout_ms, also when nothing
 * is in flight (so a host loop calling cos_poll(c, 100) sleeps rather than spins).
 *
 * Frame-loop contract (a game engine calls cos_poll(c, 0) once per frame):
 * - cos_poll(c, 0) never waits for the network. One step starts queued work (up to the parallel
 *   limits), lets libcurl move what every connection accepts without blocking, parses the
 *   responses that completed (small XML), and then runs every callback that became due: your
 *   callbacks run inside the step and their time is part of it.
 * - The work of one step is bounded: it reads, hashes (CRC-64; MD5 only when asked for) and hands
 *   to libcurl at most COS_STEP_MAX_BYTES (1 MiB) of request bodies, over all transfers in flight
 *   together; a transfer that reaches the budget pauses until the next step. Whole-file and
 *   whole-part hashing (UploadAddMetaMd5 of sliceUploadFile/uploadFile's multipart path, matching
 *   parts when resuming, each part's Content-MD5 with UploadCheckContentMd5) runs in slices inside
 *   that same budget (on_hash_progress for the first two), so a pause or cancel stops it at once. No thread is started. Measured (`make bench-poll`,
 *   docs/c-library.md): a 256 MiB sliceUploadFile, 8 MiB parts, 4 in flight, to cosd on
 *   loopback: CPU time per step max about 2.5 ms, p99 about 2 ms; wall time on a busy machine
 *   adds whatever the scheduler takes. Completing is cheap too: the parts' CRC-64s are combined
 *   in microseconds.
 * - A stream upload (COS_BODY_STREAM) reads at most 2 MiB and calls on_read at most 512 times per
 *   step, only while a part buffer is free; a source with nothing to give costs one call.
 * - Checkpoint writes (sliceUploadFile) are a small write + rename, never fsynced inside a step.
 * - Still done whole inside one step: the MD5 of a putObject, appendObject or multipartUpload
 *   body (strings and files alike) for UploadCheckContentMd5 or putObject's UploadAddMetaMd5:
 *   about 1.4 ms per MiB. Keep those small in a frame loop, or use uploadFile, whose single PUT
 *   hashes a file in slices (one MD5 pass for both options).
 * - Sizing work to a frame: one step per 60 Hz frame moves at most 60 x COS_STEP_MAX_BYTES =
 *   60 MiB/s whatever the transfers in flight; keep callbacks cheap (copy the figures, draw
 *   later; ProgressInterval throttles on_progress); a host with time left in a frame may call
 *   cos_poll(c, 0) again (each call is one bounded step).
 * - Never call cos_run or cos_wait from a frame: they return only when the work is done. */
COS_API int cos_poll(cos_client *c, int timeout_ms);
/* Runs until no task is left. */
COS_API void cos_run(cos_client *c);
/* 1 while something can happen without the caller (transfers, retries, timers, events to
 * deliver); 0 when nothing is left but paused tasks, so a cos_poll would only sleep. */
COS_API int cos_busy(cos_client *c);

/* Event-loop integration, for hosts with a loop of their own (libuv, epoll, a GUI): instead of
 * calling cos_poll, watch the sockets lua-cos lists, and call cos_socket_action when one is
 * ready or when the timeout expires. Callbacks run inside cos_socket_action, as in cos_poll.
 * After each cos_socket_action (or cos_start, cos_task_*), read the set and the timeout again:
 * both change as transfers start and end. The set is libcurl's (CURLMOPT_SOCKETFUNCTION), the
 * timeout libcurl's timer (CURLMOPT_TIMERFUNCTION) combined with lua-cos's own (retries,
 * progress, queued events). Each cos_socket_action is one step with the bound of cos_poll
 * (COS_STEP_MAX_BYTES): while the budget holds a transfer paused or hashing runs in slices,
 * cos_next_timeout is 0, so the loop comes back at once. */
#define COS_WATCH_IN 1
#define COS_WATCH_OUT 2
typedef struct cos_watch {
    int fd;
    int events;  /* COS_WATCH_IN | COS_WATCH_OUT */
    uint64_t id; /* unique per socket: a closed fd number reused by a new socket gets a new id,
                  * so a loop that keys its watchers by fd knows to re-register (epoll forgets
                  * a closed fd) */
} cos_watch;
/* Copies up to n watched sockets to out; returns how many there are in all. */
COS_API size_t cos_watch_sockets(cos_client *c, cos_watch *out, size_t n);
/* ms until cos_socket_action(c, -1, 0) must be called even if no socket is ready (0: at once);
 * -1: nothing is due without socket activity. */
COS_API long cos_next_timeout(cos_client *c);
/* Socket fd is ready for `events` (COS_WATCH_IN/OUT), or fd = -1: the timeout expired. Advances
 * transfers and delivers the events due. Returns the number of unfinished tasks. */
COS_API int cos_socket_action(cos_client *c, int fd, int events);
/* Runs until task `id` has delivered on_done (other tasks advance meanwhile). */
COS_API void cos_wait(cos_client *c, cos_task_id id);

/* ------------------------------------------------------------------------------------------ */
/* Task queue (putObject, sliceUploadFile, uploadFile and uploadFiles tasks)                   */

COS_API cos_value *cos_task_list(cos_client *c); /* array of {id, Bucket, Region, Key, FilePath, state, ...} */
COS_API int cos_task_pause(cos_client *c, cos_task_id id);   /* 0, or -1 when the state does not allow it */
COS_API int cos_task_restart(cos_client *c, cos_task_id id);
COS_API int cos_task_cancel(cos_client *c, cos_task_id id);
/* Fails a live task with `err` (taken; an error object as cos.h describes): its requests stop,
 * server-side state is released as a cancel would (a multipart upload is aborted, its checkpoint
 * removed; uploadFiles cancels its files), and on_done gets err. For a binding whose callback
 * raised (the task must not go on as if nothing happened). Callable from inside a callback, except
 * on_pull (return -1 from it instead). 0, or -1 when the task is unknown or already finished (err
 * is freed). */
COS_API int cos_task_fail(cos_client *c, cos_task_id id, cos_value *err);
/* Called (from cos_poll) after a batch of task changes; at most once per poll step. */
COS_API void cos_on_list_update(cos_client *c, void (*fn)(void *ud, cos_value *list), void *ud);

/* ------------------------------------------------------------------------------------------ */
/* Credentials provider (temporary keys, the Node SDK's getAuthorization option)               */

/* Called from cos_poll (never from inside libcurl) when a request is about to be sent and no
 * valid cached STS credential exists. `options` (the callee owns it) is {Bucket, Region, Method,
 * Key, Pathname, Query, Headers (the request's signable view: empty values removed, Host added,
 * Content-Length a number), Scope = [{action = "name/cos:<Action>", bucket, region, prefix}],
 * SystemClockOffset, ForceSignHost}. The request waits ("needs credentials") until
 * cos_credentials_provide() is called with the same `token`, during this call or later from
 * anywhere outside libcurl (another cos_poll step, another callback). Every attempt (retries
 * included) that finds no cached STS credential asks again. */
typedef void (*cos_credentials_fn)(void *ud, cos_client *c, uint64_t token, cos_value *options);
/* Installs (fn non-NULL) or removes the provider. SecretId/SecretKey, if also given, are then
 * ignored for requests. `ud` must stay valid until the client is freed or the provider replaced. */
COS_API void cos_set_credentials_provider(cos_client *c, cos_credentials_fn fn, void *ud);
/* Answers the call `token`. Takes ownership of `err` and `creds` (either may be NULL).
 * - err non-NULL: the request fails with this error (any cos_value; an object is used as the
 *   error object as is, anything else becomes {code = "CredentialsError", message = ...}).
 * - creds {Authorization, SecurityToken?}: used as is for this one attempt (no caching).
 * - creds {TmpSecretId, TmpSecretKey, SecurityToken | XCosSecurityToken, StartTime?,
 *   ExpiredTime}: cached on the client and reused by every request until ExpiredTime - now
 *   <= 60 s; KeyTime = StartTime;ExpiredTime when StartTime is given. Other requests waiting for
 *   credentials proceed with it at once (their own calls' answers are then ignored).
 * - anything else fails the request with code "CredentialsError".
 * Returns 0, or -1 when `token` is unknown (answered already, timed out or aborted).
 * A request waits for an answer at most Timeout ms (the client option), or 60 s without Timeout;
 * then it fails with code "ETIMEDOUT", so cos_run() never waits forever on a silent provider. */
COS_API int cos_credentials_provide(cos_client *c, uint64_t token, cos_value *err, cos_value *creds);

/* ------------------------------------------------------------------------------------------ */
/* Local files (uploadDirectory)                                                               */

/* The regular files under `dir`, recursively, sorted by path within each directory: an array of
 * {FilePath, RelativePath ("a/b.txt", '/'-separated), Size}. symlinks: "skip" (NULL: default;
 * links are ignored), "follow" (a link counts as its target; each directory is walked once, so
 * loops end), "error" (fail at the first link). NULL and *err on failure. */
COS_API cos_value *cos_local_files_list(const char *dir, const char *symlinks, cos_value **err);
/* CRC-64/ECMA-182 of a file's content, as COS's x-cos-hash-crc64ecma (decimal). 0, or -1 with errno. */
COS_API int cos_local_file_crc64(const char *path, uint64_t *crc);

/* ------------------------------------------------------------------------------------------ */
/* Signing                                                                                     */

/* COS.getAuthorization: options SecretId, SecretKey, Method, Pathname or Key, Query, Headers,
 * KeyTime, Expires, SystemClockOffset. Returns the Authorization string or NULL and *err. */
COS_API char *cos_get_authorization(const cos_value *options, cos_value **err);
/* cos.getObjectUrl: params Bucket, Region, Key, Sign (default true), Expires, Query, Protocol,
 * Domain, Method, Headers. Returns the URL or NULL and *err. */
COS_API char *cos_get_object_url(cos_client *c, const cos_value *params, cos_value **err);

/* POST Object (browser form upload) policy, pure (no client, no network). opts: SecretId,
 * SecretKey, SecurityToken, Bucket, Region, Key (exact) or KeyPrefix (starts-with; the form key
 * becomes KeyPrefix .. "${filename}"), Expires (seconds, default 900), KeyTime ("start;end",
 * overrides Expires), Protocol, Domain, ContentLengthRange {min, max}, Fields (extra form fields,
 * each also pinned by an exact policy condition), Conditions (extra raw policy conditions).
 * Returns {url, fields = {key, policy (base64), q-sign-algorithm, q-ak, q-key-time, q-signature,
 * ...}, policy (the JSON text), expiration}, or NULL and *err. */
COS_API cos_value *cos_post_policy(const cos_value *opts, cos_value **err);

#ifdef __cplusplus
}
#endif
#endif
