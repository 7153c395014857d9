/* lcos: the Lua binding of the lua-cos C core (module `cos.core`).
 *
 * Thin by design: it converts Lua tables to and from cos_value trees, maps request bodies and
 * getObject outputs, and routes the core's C callbacks into Lua. The operations are the core's:
 * core.operations lists them (cos_operation_name) and the Lua layer makes its methods from it.
 * Every function that answers "value, or nil plus error" ends in lcos_result.
 *
 * Callbacks (the contract users see: docs/api.md#calling-conventions and #driving-the-engine)
 * - The core calls its callbacks only from cos_poll()/cos_start() (and release() also from
 *   cos_client_free()/cos_task_cancel()). Every call into the core from Lua is bracketed by the
 *   one pair lcos_enter/lcos_leave: enter records the calling lua_State in the client (`L`; the
 *   enclosing one is restored on leave, so nested polls work), so a callback runs on that state
 *   and never on a stored coroutine; leave performs a close() asked for meanwhile and re-raises
 *   the callback error the call owns (below).
 * - Each delivery is ONE protected call (deliver() -> lua_pcall of a C function that converts the
 *   event and calls the user function) with a traceback message handler, so no Lua error can
 *   unwind through the core.
 * - An error raised by a task's callback belongs to that task: the task fails at once
 *   (cos_task_fail: its requests stop, its multipart upload is aborted), none of its callbacks
 *   but the final ones runs again, and its final callback (and onFileFinish) gets
 *   {code = "CallbackError", message}. The error value itself (with its traceback) is re-raised,
 *   unchanged and once, when the core has returned, by the call that delivered it if that call is
 *   run() or poll(), or wait(id) / start() of that same task (a synchronous call is start + wait).
 *   Delivered during a call for another task (a synchronous call of another operation), it is
 *   not raised there but by the next run() or poll(), or wait of its own task.
 * - Lua functions are held with luaL_ref in a per-task struct and released in release(), which
 *   the core calls exactly once per cos_start().
 * - Nothing here stores or prints a secret: the options table is converted and handed to the
 *   core, never kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "cos.h"

#define CLIENT_MT "cos.Client"
#define ERROR_MT "cos.Error"
#define MAX_DEPTH 64

typedef struct lcos_task lcos_task;

typedef struct lcos_client {
    cos_client *c;
    lua_State *L;    /* state of the API call currently inside the core, NULL otherwise */
    lua_State *main; /* main thread: only for luaL_unref when no call is active */
    int depth;       /* nesting of calls into the core */
    int close_pending;
    struct cb_error *errors; /* errors raised by user callbacks, not re-raised yet, oldest first */
    unsigned long err_seq;   /* numbers them: a call re-raises only those recorded while it ran */
    int tb_ref;      /* traceback (string) of the last error re-raised, LUA_NOREF when none */
    int list_ref;    /* on_list_update function */
    int cred_ref;    /* on_credentials function (the Lua layer's getAuthorization dispatcher) */
    unsigned long deliveries; /* events delivered so far (idle detection in run/wait) */
    lcos_task *tasks;
} lcos_client;

/* CB_FILEPROG ("onFileProgress", fn(index, progressData, taskId), index 0-based): the per-file
 * progress of uploadFiles, which the Lua layer dispatches to files[i].onProgress. */
enum { CB_DONE, CB_PROGRESS, CB_HASH, CB_READY, CB_FILE, CB_FILEPROG, CB_PULL, CB_COUNT, CB_LIST = CB_COUNT };
static const char *const CB_NAMES[CB_COUNT] = {"callback", "onProgress", "onHashProgress", "onTaskReady",
                                               "onFileFinish", "onFileProgress", "Body"};

/* An error a user callback raised, waiting to be re-raised (see the header comment). */
typedef struct cb_error {
    struct cb_error *next;
    cos_task_id task;  /* the task whose callback raised; 0: not a task's (list-update) */
    int err_ref, tb_ref;
    unsigned long seq;
    int deferred;      /* the call that delivered it returned without raising it */
} cb_error;

struct lcos_task {
    lcos_client *owner;
    lcos_task *prev, *next;
    cos_task_id id;
    int done;
    cos_value *cb_error; /* set when one of its callbacks raised: what its final callback gets */
    int refs[CB_COUNT];
    int chunk_ref; /* the last chunk given to the core by a pull body */
    /* A stream Body (sliceUploadFile / uploadFile): the reader function is refs[CB_PULL]; an io
     * handle is held by file_ref. The reader's last string (chunk_ref) is handed out in pieces. */
    int file_ref; /* LUA_NOREF unless the Body is an io handle */
    const char *chunk;
    size_t chunk_len, chunk_off;
    int read_end;
};

/* ------------------------------------------------------------------------------------------ */
/* cos_value -> Lua                                                                            */

static void push_value(lua_State *L, const cos_value *v, int depth);

static void push_number(lua_State *L, double n)
{
    if (n == floor(n) && fabs(n) <= 9007199254740992.0)
        lua_pushinteger(L, (lua_Integer)n);
    else
        lua_pushnumber(L, n);
}

static void push_value(lua_State *L, const cos_value *v, int depth)
{
    luaL_checkstack(L, 4, "cos value too deep");
    switch (cos_value_type(v)) {
    case COS_BOOL: lua_pushboolean(L, cos_value_bool(v)); break;
    case COS_NUM: push_number(L, cos_value_num(v)); break;
    case COS_STR: {
        size_t len = 0;
        const char *s = cos_value_str(v, &len);
        lua_pushlstring(L, s, len);
        break;
    }
    case COS_ARR: {
        size_t n = cos_value_len(v);
        lua_createtable(L, (int)n, 0);
        if (depth >= MAX_DEPTH) break;
        for (size_t i = 0; i < n; i++) {
            push_value(L, cos_arr_get(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case COS_OBJ: {
        size_t n = cos_value_len(v);
        lua_createtable(L, 0, (int)n);
        if (depth >= MAX_DEPTH) break;
        for (size_t i = 0; i < n; i++) {
            push_value(L, cos_obj_at(v, i), depth + 1);
            /* a nested error (files[i].error, a task's error) prints like a top-level one */
            if (strcmp(cos_obj_key(v, i), "error") == 0 && cos_obj_get_str(cos_obj_at(v, i), "code"))
                luaL_setmetatable(L, ERROR_MT);
            lua_setfield(L, -2, cos_obj_key(v, i));
        }
        break;
    }
    default: lua_pushnil(L); break;
    }
}

/* An error value: a table with the cos.Error metatable (a readable __tostring). */
static void push_error(lua_State *L, const cos_value *err)
{
    push_value(L, err, 0);
    if (lua_istable(L, -1)) luaL_setmetatable(L, ERROR_MT);
}

/* tostring(err): "cos error <code> (HTTP <statusCode>): <message> (hint: <hint>) [RequestId <id>]",
 * each part only when the field is there. */
static int error_tostring(lua_State *L)
{
    static const char *const parts[][3] = {{"code", " ", ""}, {"statusCode", " (HTTP ", ")"}, {"message", ": ", ""},
                                           {"hint", " (hint: ", ")"}, {"RequestId", " [RequestId ", "]"}};
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushliteral(L, "cos error");
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        int number = i == 1, ty = lua_getfield(L, 1, parts[i][0]);
        if (ty != (number ? LUA_TNUMBER : LUA_TSTRING)) {
            lua_pop(L, 1);
            continue;
        }
        if (number) { /* an integer, as the HTTP status it is */
            lua_pushfstring(L, "%d", (int)lua_tointeger(L, -1));
            lua_remove(L, -2);
        }
        lua_pushstring(L, parts[i][1]);
        lua_insert(L, -2);
        lua_pushstring(L, parts[i][2]);
        lua_concat(L, 4);
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Lua -> cos_value. Never raises while it holds C memory: failures come back as a message.    */

typedef struct conv {
    const char *err; /* a static message */
} conv;

static cos_value *to_value(lua_State *L, int idx, int depth, conv *cv);

static int is_array(lua_State *L, int idx, size_t *n_out)
{
    size_t n = lua_rawlen(L, idx);
    size_t count = 0;
    if (n == 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || (size_t)k > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    *n_out = n;
    return count == n;
}

static int skipped_type(int t)
{
    return t == LUA_TFUNCTION || t == LUA_TUSERDATA || t == LUA_TLIGHTUSERDATA || t == LUA_TTHREAD ||
           t == LUA_TNIL;
}

/* Top-level keys of params that are not converted: the binding maps them itself (a large string
 * Body is handed to the core once, as the request body, not copied into params as well). */
static int skipped_key(int depth, const char *key, const char *const *skip)
{
    if (depth != 0 || !skip) return 0;
    for (size_t i = 0; skip[i]; i++)
        if (strcmp(key, skip[i]) == 0) return 1;
    return 0;
}

/* The array part t[1..n] (t at idx, absolute), skipping values that have no cos_value. */
static cos_value *array_to_value(lua_State *L, int idx, size_t n, int depth, conv *cv)
{
    cos_value *arr = cos_arr_new();
    if (!arr) {
        cv->err = "out of memory";
        return NULL;
    }
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        if (skipped_type(lua_type(L, -1))) {
            lua_pop(L, 1);
            continue;
        }
        cos_value *item = to_value(L, -1, depth + 1, cv);
        lua_pop(L, 1);
        if (!item || cos_arr_push(arr, item) != 0) {
            if (!item && !cv->err) cv->err = "out of memory";
            if (item) cos_value_free(item);
            cos_value_free(arr);
            return NULL;
        }
    }
    return arr;
}

/* The key below the value on top (lua_next's) as a string, or NULL when it cannot be one. A
 * number is copied into buf: lua_tostring on the key itself would break lua_next. */
static const char *next_key(lua_State *L, char *buf, size_t cap)
{
    if (lua_type(L, -2) == LUA_TSTRING) return lua_tostring(L, -2);
    if (lua_type(L, -2) != LUA_TNUMBER) return NULL;
    if (lua_isinteger(L, -2))
        snprintf(buf, cap, "%lld", (long long)lua_tointeger(L, -2));
    else
        snprintf(buf, cap, "%.17g", (double)lua_tonumber(L, -2));
    return buf;
}

/* Every field of t (at idx, absolute) as an object, but the `skip` keys at depth 0. */
static cos_value *object_to_value(lua_State *L, int idx, int depth, conv *cv, const char *const *skip)
{
    cos_value *obj = cos_obj_new();
    if (!obj) {
        cv->err = "out of memory";
        return NULL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        char numkey[64];
        const char *key = next_key(L, numkey, sizeof numkey);
        if (!key || skipped_type(lua_type(L, -1)) || skipped_key(depth, key, skip)) {
            lua_pop(L, 1);
            continue;
        }
        cos_value *item = to_value(L, -1, depth + 1, cv);
        lua_pop(L, 1);
        if (!item || cos_obj_set(obj, key, item) != 0) {
            if (!item && !cv->err) cv->err = "out of memory";
            lua_pop(L, 1);
            cos_value_free(obj);
            return NULL;
        }
    }
    return obj;
}

/* A table as an array (keys exactly 1..n) or else an object. */
static cos_value *table_to_value_skip(lua_State *L, int idx, int depth, conv *cv, const char *const *skip)
{
    size_t n = 0;
    if (depth >= MAX_DEPTH) {
        cv->err = "table nested too deeply (a cycle?)";
        return NULL;
    }
    if (!lua_checkstack(L, 6)) {
        cv->err = "stack overflow";
        return NULL;
    }
    idx = lua_absindex(L, idx);
    if (is_array(L, idx, &n)) return array_to_value(L, idx, n, depth, cv);
    return object_to_value(L, idx, depth, cv, skip);
}

static cos_value *to_value(lua_State *L, int idx, int depth, conv *cv)
{
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: return cos_bool_new(lua_toboolean(L, idx));
    case LUA_TNUMBER: return cos_num_new((double)lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len = 0;
        const char *s = lua_tolstring(L, idx, &len);
        return cos_str_new(s, len);
    }
    case LUA_TTABLE: return table_to_value_skip(L, idx, depth, cv, NULL);
    default: return cos_nil_new();
    }
}

/* Converts the table at idx (or nil: an empty object) to an object, skipping the named keys.
 * Raises a Lua error naming `what` on failure. */
static cos_value *check_object_skip(lua_State *L, int idx, const char *what, const char *const *skip)
{
    conv cv = {NULL};
    cos_value *v;
    if (lua_isnoneornil(L, idx)) return cos_obj_new();
    if (!lua_istable(L, idx)) {
        luaL_error(L, "%s must be a table, got %s", what, luaL_typename(L, idx));
        return NULL;
    }
    v = table_to_value_skip(L, idx, 0, &cv, skip);
    if (v && cos_value_type(v) != COS_OBJ) { /* an array given where an object is expected */
        cos_value_free(v);
        luaL_error(L, "%s must be a table with named fields, not an array", what);
        return NULL;
    }
    if (!v) luaL_error(L, "%s: %s", what, cv.err ? cv.err : "conversion failed");
    return v;
}

static cos_value *check_object(lua_State *L, int idx, const char *what)
{
    return check_object_skip(L, idx, what, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Client userdata                                                                             */

static lcos_client *check_client(lua_State *L, int idx)
{
    lcos_client **box = luaL_checkudata(L, idx, CLIENT_MT);
    if (!*box || !(*box)->c || (*box)->close_pending) luaL_error(L, "cos client is closed");
    return *box;
}

static void unref_on(lua_State *L, int *ref)
{
    if (*ref != LUA_NOREF && *ref != LUA_REFNIL) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
}

/* From code the core calls (release, callbacks): on the state of the current call; the main
 * thread only if the core ever released something outside any call. */
static void unref(lcos_client *cl, int *ref) { unref_on(cl->L ? cl->L : cl->main, ref); }

/* Which pending callback errors a returning call may re-raise: those recorded while it ran and
 * those deferred by earlier calls; `all` (run, poll) any task's, else only task `id`'s. */
static int raisable(const cb_error *e, unsigned long mark, int all, cos_task_id id)
{
    return (e->seq > mark || e->deferred) && (all || (id > 0 && e->task == id));
}

static int has_raisable(const lcos_client *cl, unsigned long mark, int all, cos_task_id id)
{
    for (const cb_error *e = cl->errors; e; e = e->next)
        if (raisable(e, mark, all, id)) return 1;
    return 0;
}

/* Called by every API call when the core has returned (mark: cl->err_seq when it began):
 * re-raises the oldest error it may raise; the others recorded meanwhile wait for a later call. */
static void raise_pending(lcos_client *cl, lua_State *L, unsigned long mark, int all, cos_task_id id)
{
    cb_error *pick = NULL, **pp = &cl->errors;
    for (cb_error **q = &cl->errors; *q; q = &(*q)->next) {
        if (raisable(*q, mark, all, id)) {
            pp = q;
            pick = *q;
            break;
        }
    }
    if (pick) *pp = pick->next;
    for (cb_error *e = cl->errors; e; e = e->next)
        if (e->seq > mark) e->deferred = 1;
    if (!pick) return;
    unref_on(L, &cl->tb_ref);
    cl->tb_ref = pick->tb_ref;
    lua_rawgeti(L, LUA_REGISTRYINDEX, pick->err_ref);
    unref_on(L, &pick->err_ref);
    free(pick);
    lua_error(L);
}

/* ------------------------------------------------------------------------------------------ */
/* The one enter/leave pair: every call from Lua into the core goes through it                */

/* One call from Lua into the core, from lcos_enter to lcos_leave. */
typedef struct lcos_call {
    lcos_client *cl;
    lua_State *L;       /* the calling state: callbacks run on it meanwhile */
    lua_State *outer;   /* the state of the enclosing call (a poll from a callback), or NULL */
    unsigned long mark; /* cl->err_seq on entry: the callback errors this call may re-raise follow it */
} lcos_call;

static void client_free_core(lcos_client *cl, lua_State *L);

/* The callbacks the core makes from now on run on L (never on a stored coroutine). */
static lcos_call lcos_enter(lcos_client *cl, lua_State *L)
{
    lcos_call k = {cl, L, cl->L, cl->err_seq};
    cl->L = L;
    cl->depth++;
    return k;
}

/* The core has returned: the enclosing call's state comes back; once the outermost call is out,
 * a close() a callback asked for is done; then the oldest callback error this call owns is
 * raised (all: any task's, as run/poll/socket_action; else only task id's; id 0: none, the errors
 * recorded meanwhile only wait for a later call). Raises only after the client is consistent. */
static void lcos_leave(const lcos_call *k, int all, cos_task_id id)
{
    lcos_client *cl = k->cl;
    cl->L = k->outer;
    cl->depth--;
    if (cl->depth == 0 && cl->close_pending) client_free_core(cl, k->L);
    raise_pending(cl, k->L, k->mark, all, id);
}

/* Frees the core (release() runs for every pending task, on L) and every reference it held. */
static void client_free_core(lcos_client *cl, lua_State *L)
{
    if (!cl->c) return;
    lcos_call k = lcos_enter(cl, L);
    cos_client_free(cl->c);
    cl->c = NULL; /* before lcos_leave, whose pending close then finds nothing left to free */
    lcos_leave(&k, 0, 0);
    unref_on(L, &cl->list_ref);
    unref_on(L, &cl->cred_ref);
    while (cl->errors) {
        cb_error *e = cl->errors;
        cl->errors = e->next;
        unref_on(L, &e->err_ref);
        unref_on(L, &e->tb_ref);
        free(e);
    }
    unref_on(L, &cl->tb_ref);
}

/* ------------------------------------------------------------------------------------------ */
/* The one result helper                                                                      */

/* The end of every function that returns "value, or nil plus error" (what luaL_fileresult is
 * to the io library): on success the caller has pushed the value; on failure nil and the core's
 * error object as a cos.Error table, or `msg` when the core gave none. Takes err (frees it). */
static int lcos_result(lua_State *L, int ok, cos_value *err, const char *msg)
{
    if (ok) {
        cos_value_free(err);
        return 1;
    }
    lua_pushnil(L);
    if (err) push_error(L, err); else lua_pushstring(L, msg);
    cos_value_free(err);
    return 2;
}

/* ------------------------------------------------------------------------------------------ */
/* The one protected path into Lua                                                            */

typedef struct delivery {
    lcos_client *cl;
    lcos_task *t;
    int fn_ref;
    int kind;
    cos_task_id id;
    const cos_value *a, *b, *c;
    const cos_progress *p;
    size_t index; /* on_file_progress */
    /* on_pull */
    const void *chunk;
    size_t len;
    int pull_end;
    int stream;     /* a stream Body's reader: false means "nothing yet" (pull_again) */
    int pull_again;
} delivery;

static void push_progress(lua_State *L, const cos_progress *p)
{
    lua_createtable(L, 0, 4);
    push_number(L, p->loaded);
    lua_setfield(L, -2, "loaded");
    if (p->total >= 0) {
        push_number(L, p->total);
        lua_setfield(L, -2, "total");
    }
    push_number(L, p->speed);
    lua_setfield(L, -2, "speed");
    push_number(L, p->percent);
    lua_setfield(L, -2, "percent");
    if (p->files_total >= 0) { /* uploadFiles' aggregate */
        push_number(L, p->files_done);
        lua_setfield(L, -2, "filesDone");
        push_number(L, p->files_failed);
        lua_setfield(L, -2, "filesFailed");
        push_number(L, p->files_total);
        lua_setfield(L, -2, "filesTotal");
    }
}

/* The credentials provider: fn(token, options), delivered like every other callback. */
#define CB_CREDS (CB_COUNT + 1)

/* v as a Lua value, or nil; `error`: as an error table. */
static void push_or_nil(lua_State *L, const cos_value *v, int error)
{
    if (!v) lua_pushnil(L);
    else if (error) push_error(L, v);
    else push_value(L, v, 0);
}

/* Pushes the arguments of event d for the user's function; returns their number. */
static int push_event(lua_State *L, const delivery *d)
{
    switch (d->kind) {
    case CB_DONE: push_or_nil(L, d->a, 1); push_or_nil(L, d->b, 0); return 2;
    case CB_PROGRESS:
    case CB_HASH: push_progress(L, d->p); return 1;
    case CB_READY: lua_pushinteger(L, (lua_Integer)d->id); return 1;
    case CB_FILEPROG:
        lua_pushinteger(L, (lua_Integer)d->index);
        push_progress(L, d->p);
        lua_pushinteger(L, (lua_Integer)d->id);
        return 3;
    case CB_FILE: push_or_nil(L, d->a, 1); push_or_nil(L, d->b, 0); push_or_nil(L, d->c, 0); return 3;
    case CB_LIST: push_value(L, d->a, 0); return 1;
    case CB_CREDS: lua_pushinteger(L, (lua_Integer)d->id); push_value(L, d->a, 0); return 2;
    default: return 0;
    }
}

/* A Body function answered (its value on top): the next chunk, the end (nil, ""), or for a
 * stream's reader "nothing yet" (false). Anything else raises, as a callback error. */
static int take_chunk(lua_State *L, delivery *d)
{
    if (lua_isnil(L, -1)) {
        d->pull_end = 1;
        return 0;
    }
    if (d->stream && lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        d->pull_again = 1;
        return 0;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, d->stream ? "Body function must return a string, nil or false, got %s"
                                       : "Body function must return a string or nil, got %s", luaL_typename(L, -1));
    d->chunk = lua_tolstring(L, -1, &d->len);
    if (d->len == 0) d->pull_end = 1;
    /* keep the string alive until the next pull: the core copies it after we return */
    lua_pushvalue(L, -1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    unref(d->cl, &d->t->chunk_ref);
    d->t->chunk_ref = ref;
    return 0;
}

/* Runs inside lua_pcall: converts the event and calls the user's function. */
static int deliver_k(lua_State *L)
{
    delivery *d = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->fn_ref);
    if (d->kind == CB_PULL) {
        lua_call(L, 0, 1);
        return take_chunk(L, d);
    }
    int nargs = push_event(L, d);
    lua_call(L, nargs, 0);
    return 0;
}

/* Message handler: keeps the original error value, records the traceback beside it. */
static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "cos.core.last_traceback");
    lua_settop(L, 1);
    return 1;
}

/* The callback's name, for CallbackError messages. */
static const char *callback_name(int kind)
{
    if (kind >= 0 && kind < CB_COUNT) return CB_NAMES[kind];
    return kind == CB_LIST ? "the list-update listener" : "getAuthorization";
}

/* {code = "CallbackError", name, message}: what a task whose callback raised ends with. NULL
 * when out of memory. */
static cos_value *callback_error_new(const char *msg)
{
    cos_value *e = cos_obj_new();
    if (e && (cos_obj_set_str(e, "code", "CallbackError") || cos_obj_set_str(e, "name", "CallbackError") ||
              cos_obj_set_str(e, "message", msg))) {
        cos_value_free(e);
        return NULL;
    }
    return e;
}

/* A task's callback raised (the error value on top of L): the task fails now, and its final
 * callback will get a CallbackError naming the callback and the error. */
static void fail_task(lcos_client *cl, lua_State *L, delivery *d)
{
    lcos_task *t = d->t;
    if (t->cb_error) return; /* failed already: this is a final callback raising */
    char msg[512];
    int ty = lua_type(L, -1);
    if (ty == LUA_TSTRING || ty == LUA_TNUMBER)
        snprintf(msg, sizeof msg, "%s raised an error: %.400s", callback_name(d->kind), lua_tostring(L, -1));
    else
        snprintf(msg, sizeof msg, "%s raised an error (a %s value)", callback_name(d->kind), lua_typename(L, ty));
    cos_value *e = callback_error_new(msg);
    if (!e) return;
    t->cb_error = e;
    /* (A final callback: the task is over. A pull runs inside its request, which fails with it.) */
    if (d->kind != CB_DONE && d->kind != CB_PULL && t->id > 0)
        cos_task_fail(cl->c, t->id, cos_value_clone(e));
}

/* Keeps the error value on top of L (popping it) with its traceback, for raise_pending. */
static void record_error(lcos_client *cl, lua_State *L, delivery *d)
{
    if (d->t) fail_task(cl, L, d);
    cb_error *e = calloc(1, sizeof *e);
    if (!e) {
        lua_pop(L, 1);
        return;
    }
    e->task = d->t ? d->t->id : 0;
    e->seq = ++cl->err_seq;
    e->err_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the error value */
    lua_getfield(L, LUA_REGISTRYINDEX, "cos.core.last_traceback");
    e->tb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    cb_error **pp = &cl->errors;
    while (*pp) pp = &(*pp)->next;
    *pp = e;
}

/* Returns 0 when the callback ran, -1 when it raised (the error is kept for the caller). */
static int deliver(delivery *d)
{
    lcos_client *cl = d->cl;
    lua_State *L = cl->L;
    cl->deliveries++;
    /* A failed task hears nothing more but its final callbacks (a pull gets no more chunks). */
    if (d->t && d->t->cb_error && d->kind != CB_DONE && d->kind != CB_FILE) return d->kind == CB_PULL ? -1 : 0;
    if (!L || d->fn_ref == LUA_NOREF || d->fn_ref == LUA_REFNIL) return 0;
    if (!lua_checkstack(L, 4)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, traceback_handler);
    lua_pushcfunction(L, deliver_k);
    lua_pushlightuserdata(L, d);
    int rc = lua_pcall(L, 1, 0, top + 1);
    if (rc != LUA_OK) {
        record_error(cl, L, d);
        lua_settop(L, top);
        return -1;
    }
    lua_settop(L, top);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* C callbacks given to the core                                                               */

static void cb_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_DONE], .kind = CB_DONE, .id = id, .a = err, .b = data};
    if (t->cb_error) { /* one of its callbacks raised: that is how the task ended */
        d.a = t->cb_error;
        d.b = NULL;
    }
    t->done = 1;
    deliver(&d);
    cos_value_free(err);
    cos_value_free(data);
}

static void cb_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_PROGRESS], .kind = CB_PROGRESS, .id = id, .p = p};
    deliver(&d);
}

static void cb_hash_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_HASH], .kind = CB_HASH, .id = id, .p = p};
    deliver(&d);
}

static void cb_task_ready(void *ud, cos_task_id id)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_READY], .kind = CB_READY, .id = id};
    if (!t->id) t->id = id;
    deliver(&d);
}

static void cb_file_finish(void *ud, cos_task_id id, cos_value *err, cos_value *data, cos_value *options)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_FILE], .kind = CB_FILE, .id = id,
                  .a = err, .b = data, .c = options};
    if (t->cb_error) {
        d.a = t->cb_error;
        d.b = NULL;
    }
    deliver(&d);
    cos_value_free(err);
    cos_value_free(data);
    cos_value_free(options);
}

static void cb_file_progress(void *ud, cos_task_id id, size_t index, const cos_progress *p)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_FILEPROG], .kind = CB_FILEPROG, .id = id,
                  .index = index, .p = p};
    deliver(&d);
}

static int cb_pull(void *ud, cos_task_id id, const void **chunk, size_t *len)
{
    lcos_task *t = ud;
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_PULL], .kind = CB_PULL, .id = id};
    *chunk = NULL;
    *len = 0;
    if (!t->owner->L) return -1;
    if (deliver(&d) != 0) return -1;
    if (d.pull_end) return 0;
    *chunk = d.chunk;
    *len = d.len;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Stream bodies: read from cos_poll only (the core's pump), never from inside libcurl          */

static cos_value *read_error(const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "?");
    cos_value *e = cos_obj_new();
    cos_obj_set_str(e, "code", "EBODYREAD");
    cos_obj_set_str(e, "name", "Error");
    cos_obj_set_str(e, "message", msg);
    return e;
}

/* Calls the reader once, as any callback (deliver): its string becomes t->chunk; nil or ""
 * ends the stream; false means nothing is available yet (returns 1). When it raises (or returns
 * something else) the task fails with the binding's CallbackError, and the error value is
 * re-raised by the poll/run/wait that called it. 0, 1, or -1 with *err. */
static int call_reader(lcos_task *t, cos_value **err)
{
    delivery d = {.cl = t->owner, .t = t, .fn_ref = t->refs[CB_PULL], .kind = CB_PULL, .id = t->id, .stream = 1};
    if (deliver(&d) != 0) {
        *err = t->cb_error ? cos_value_clone(t->cb_error) : read_error("the Body reader %s", "failed");
        return -1;
    }
    if (d.pull_again) return 1;
    t->chunk = d.pull_end ? NULL : d.chunk; /* kept alive by t->chunk_ref */
    t->chunk_len = d.pull_end ? 0 : d.len;
    t->chunk_off = 0;
    if (d.pull_end) t->read_end = 1;
    return 0;
}

static long read_function(lcos_task *t, void *buf, size_t cap, cos_value **err)
{
    if (!t->owner->L) return COS_READ_ERROR;
    while (t->chunk_off >= t->chunk_len && !t->read_end) {
        int rc = call_reader(t, err);
        if (rc < 0) return COS_READ_ERROR;
        if (rc > 0) return COS_READ_AGAIN;
    }
    size_t n = t->chunk_len - t->chunk_off;
    if (n > cap) n = cap;
    if (n) memcpy(buf, t->chunk + t->chunk_off, n);
    t->chunk_off += n;
    return (long)n;
}

/* An io handle: fread with O_NONBLOCK set for the call only, so an empty pipe answers "nothing
 * now" (the core then waits on the descriptor in cos_poll) instead of stalling the host. fread
 * hands out what the FILE buffered first, so bytes the caller already read past are not lost. */
/* The Body's FILE *, NULL once the caller closed it (the ref keeps the handle itself alive). */
static FILE *body_file(lcos_task *t, lua_State *L)
{
    FILE *f = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->file_ref);
    lcos_compat_tofile(L, -1, &f);
    lua_pop(L, 1);
    return f;
}

static long read_file(lcos_task *t, void *buf, size_t cap, cos_value **err)
{
    FILE *f = t->owner->L ? body_file(t, t->owner->L) : NULL;
    if (!f) {
        *err = read_error("the Body %s was closed during the upload", "file");
        return COS_READ_ERROR;
    }
    int fd = fileno(f), fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    errno = 0;
    size_t n = fread(buf, 1, cap, f);
    int e = errno, failed = ferror(f);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
    if (failed) clearerr(f);
    if (n > 0) return (long)n;
    if (!failed) return 0; /* end of file */
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return COS_READ_AGAIN;
    char text[128];
    *err = read_error("cannot read the Body file: %s", strerror_r(e, text, sizeof text)); /* GNU: thread-safe */
    return COS_READ_ERROR;
}

static long cb_read(void *ud, cos_task_id id, void *buf, size_t cap, cos_value **err)
{
    lcos_task *t = ud;
    (void)id;
    return t->file_ref != LUA_NOREF ? read_file(t, buf, cap, err) : read_function(t, buf, cap, err);
}

static void cb_release(void *ud)
{
    lcos_task *t = ud;
    lcos_client *cl = t->owner;
    for (int i = 0; i < CB_COUNT; i++) unref(cl, &t->refs[i]);
    unref(cl, &t->chunk_ref);
    unref(cl, &t->file_ref);
    cos_value_free(t->cb_error);
    if (t->prev) t->prev->next = t->next; else if (cl->tasks == t) cl->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    free(t);
}

static void cb_list_update(void *ud, cos_value *list)
{
    lcos_client *cl = ud;
    delivery d = {.cl = cl, .fn_ref = cl->list_ref, .kind = CB_LIST, .a = list};
    deliver(&d);
    cos_value_free(list);
}

/* The core needs credentials for a request: the Lua dispatcher calls getAuthorization, whose
 * callback answers through client:provide_credentials (now or later). If the dispatcher raised,
 * the request fails at once (the error itself is re-raised by the API call that is polling). */
static void cb_credentials(void *ud, cos_client *c, uint64_t token, cos_value *options)
{
    lcos_client *cl = ud;
    delivery d = {.cl = cl, .fn_ref = cl->cred_ref, .kind = CB_CREDS, .id = (cos_task_id)token, .a = options};
    int rc = deliver(&d);
    cos_value_free(options);
    if (rc != 0 || cl->cred_ref == LUA_NOREF)
        cos_credentials_provide(c, token, cos_cstr_new("getAuthorization raised an error"), NULL);
}

static lcos_task *find_task(lcos_client *cl, cos_task_id id)
{
    for (lcos_task *t = cl->tasks; t; t = t->next)
        if (t->id == id) return t;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Module functions                                                                            */

/* core.new(options) -> client. Invalid options raise an error naming the option. */
static int l_new(lua_State *L)
{
    cos_value *opts = check_object(L, 1, "options");
    cos_value *err = NULL;
    lcos_client **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, CLIENT_MT);
    lcos_client *cl = calloc(1, sizeof *cl);
    if (!cl) {
        cos_value_free(opts);
        return luaL_error(L, "out of memory");
    }
    cl->tb_ref = cl->list_ref = LUA_NOREF;
    cl->cred_ref = LUA_NOREF;
    cl->main = lcos_compat_mainthread(L);
    cl->c = cos_client_new(opts, &err);
    cos_value_free(opts);
    if (!cl->c) {
        free(cl);
        const char *msg = err ? cos_obj_get_str(err, "message") : NULL;
        lua_pushfstring(L, "%s", msg ? msg : "invalid options");
        cos_value_free(err);
        return lua_error(L);
    }
    cos_value_free(err);
    *box = cl;
    return 1;
}

/* close() and __gc. From inside one of our callbacks the core is still on the C stack: the
 * close is done by lcos_leave when the outermost call returns. __gc also frees the box's client
 * (close() keeps it: the box may be used, and collected, later). */
static int client_close(lua_State *L, int collect)
{
    lcos_client **box = luaL_checkudata(L, 1, CLIENT_MT);
    lcos_client *cl = *box;
    if (!cl) return 0;
    if (cl->depth > 0) {
        cl->close_pending = 1;
        return 0;
    }
    client_free_core(cl, L);
    if (collect) {
        *box = NULL;
        free(cl);
    }
    return 0;
}

static int l_gc(lua_State *L) { return client_close(L, 1); }
static int l_close(lua_State *L) { return client_close(L, 0); }

static int l_tostring(lua_State *L)
{
    lcos_client **box = luaL_checkudata(L, 1, CLIENT_MT);
    lcos_client *cl = *box;
    if (!cl || !cl->c)
        lua_pushfstring(L, "cos.Client (closed) (%p)", (void *)box);
    else
        lua_pushfstring(L, "cos.Client (%p)", (void *)cl);
    return 1;
}

/* Checks Body/Output before anything is allocated; raises naming the parameter. */
static void check_body_output(lua_State *L, int params, int stream_op)
{
    lua_getfield(L, params, "Body");
    int bt = lua_type(L, -1);
    if (bt == LUA_TUSERDATA) {
        FILE *f = NULL;
        if (!lcos_compat_tofile(L, -1, &f))
            luaL_error(L, "params.Body must be a string, an io file or a function, got userdata");
        if (!f) luaL_error(L, "params.Body is a closed file");
    } else if (bt == LUA_TFUNCTION) {
        lua_getfield(L, params, "ContentLength");
        int isnum = 0;
        lua_Number n = lua_tonumberx(L, -1, &isnum);
        if (!stream_op && (!isnum || n < 0)) /* a stream's length may be unknown */
            luaL_error(L, "params.ContentLength is required (a number >= 0) when params.Body is a function");
        lua_pop(L, 1);
    } else if (bt != LUA_TNIL && bt != LUA_TSTRING) {
        luaL_error(L, "params.Body must be a string, an io file or a function, got %s", lua_typename(L, bt));
    }
    lua_pop(L, 1);
    lua_getfield(L, params, "Output");
    int ot = lua_type(L, -1);
    if (ot == LUA_TUSERDATA) {
        FILE *f = NULL;
        if (!lcos_compat_tofile(L, -1, &f)) luaL_error(L, "params.Output must be a file path or an io file, got userdata");
        if (!f) luaL_error(L, "params.Output is a closed file");
    } else if (ot != LUA_TNIL && ot != LUA_TSTRING) {
        luaL_error(L, "params.Output must be a file path or an io file, got %s", lua_typename(L, ot));
    }
    lua_pop(L, 1);
}

static int64_t content_length(const cos_value *params)
{
    const cos_value *v = cos_obj_get(params, "ContentLength");
    if (cos_value_type(v) == COS_NUM) { /* NaN/inf/out of range: unknown (the core refuses it by name) */
        double n = cos_value_num(v);
        return isfinite(n) && n >= 0 && n <= 9007199254740992.0 ? (int64_t)n : -1;
    }
    if (cos_value_type(v) == COS_STR) return strtoll(cos_value_str(v, NULL), NULL, 10);
    return -1;
}

/* An io file Body (on top of L): a stream op reads it through the FILE (its buffer included),
 * waiting on its fd, and holds the handle; the others send its fd from the current position. */
static void map_file_body(lua_State *L, cos_body *body, lcos_task *t, const cos_value *pv, int stream_op)
{
    FILE *f = NULL;
    lcos_compat_tofile(L, -1, &f);
    body->fd = fileno(f);
    body->length = content_length(pv);
    if (stream_op) {
        body->kind = COS_BODY_STREAM;
        lua_pushvalue(L, -1);
        t->file_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return;
    }
    long pos = ftell(f);
    body->kind = COS_BODY_FD;
    body->offset = pos < 0 ? 0 : (int64_t)pos;
}

/* Fills body from params.Body (string, io file, function) or params.FilePath. Never raises
 * (check_body_output ran first). A pull function is referenced in t. */
static void map_body(lua_State *L, int params, cos_body *body, lcos_task *t, const cos_value *pv, int stream_op)
{
    memset(body, 0, sizeof *body);
    body->fd = -1;
    body->length = -1;
    lua_getfield(L, params, "Body");
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: /* stays alive in params for the duration of cos_start, which copies it */
        body->kind = COS_BODY_MEM;
        body->data = lua_tolstring(L, -1, &body->len);
        body->length = (int64_t)body->len;
        break;
    case LUA_TUSERDATA: map_file_body(L, body, t, pv, stream_op); break;
    case LUA_TFUNCTION:
        body->kind = stream_op ? COS_BODY_STREAM : COS_BODY_PULL;
        body->length = content_length(pv);
        lua_pushvalue(L, -1);
        t->refs[CB_PULL] = luaL_ref(L, LUA_REGISTRYINDEX);
        break;
    default:
        lua_getfield(L, params, "FilePath");
        if (lua_type(L, -1) == LUA_TSTRING) {
            body->kind = COS_BODY_PATH;
            body->path = lua_tostring(L, -1);
        }
        lua_pop(L, 1);
        break;
    }
    lua_pop(L, 1);
}

static void map_output(lua_State *L, int params, cos_output *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    lua_getfield(L, params, "Output");
    if (lua_type(L, -1) == LUA_TSTRING) {
        out->kind = COS_BODY_PATH;
        out->path = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TUSERDATA) {
        FILE *f = NULL;
        lcos_compat_tofile(L, -1, &f);
        fflush(f);
        out->kind = COS_BODY_FD;
        out->fd = fileno(f);
    }
    lua_pop(L, 1);
}

/* Pushes the callbacks CB_NAMES[0..CB_PULL-1] (from the callbacks table at 4, else from params
 * at 3) on the stack, in that order, nil where absent. Raises on a wrong type, before anything
 * is allocated. */
static void push_callbacks(lua_State *L)
{
    int has_cbs = lua_istable(L, 4);
    for (int i = 0; i < CB_PULL; i++) {
        int ty = has_cbs ? lua_getfield(L, 4, CB_NAMES[i]) : LUA_TNIL;
        if (ty == LUA_TNIL) {
            if (has_cbs) lua_pop(L, 1);
            ty = lua_getfield(L, 3, CB_NAMES[i]);
        }
        if (ty != LUA_TNIL && ty != LUA_TFUNCTION)
            luaL_error(L, "%s must be a function, got %s", CB_NAMES[i], lua_typename(L, ty));
    }
}

/* A new task of cl, linked in its list, holding the callbacks push_callbacks left on the stack
 * (popped). NULL when out of memory (the callbacks stay on the stack). */
static lcos_task *task_new(lcos_client *cl, lua_State *L)
{
    lcos_task *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->owner = cl;
    t->chunk_ref = LUA_NOREF;
    t->file_ref = LUA_NOREF;
    for (int i = 0; i < CB_COUNT; i++) t->refs[i] = LUA_NOREF;
    t->next = cl->tasks;
    if (cl->tasks) cl->tasks->prev = t;
    cl->tasks = t;
    for (int i = CB_PULL - 1; i >= 0; i--) {
        if (lua_isfunction(L, -1)) t->refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        else lua_pop(L, 1);
    }
    return t;
}

/* The C callbacks of task t: only those the caller gave (so the core skips the rest). */
static cos_callbacks task_callbacks(lcos_task *t, const cos_body *body)
{
    cos_callbacks cbs = {
        .ud = t,
        .on_done = cb_done,
        .on_progress = t->refs[CB_PROGRESS] != LUA_NOREF ? cb_progress : NULL,
        .on_hash_progress = t->refs[CB_HASH] != LUA_NOREF ? cb_hash_progress : NULL,
        .on_task_ready = cb_task_ready,
        .on_file_finish = t->refs[CB_FILE] != LUA_NOREF ? cb_file_finish : NULL,
        .on_pull = body->kind == COS_BODY_PULL ? cb_pull : NULL,
        .release = cb_release,
        .on_file_progress = t->refs[CB_FILEPROG] != LUA_NOREF ? cb_file_progress : NULL,
        .on_read = body->kind == COS_BODY_STREAM ? cb_read : NULL,
    };
    return cbs;
}

/* client:start(op, params[, callbacks]) -> id | nil, err
 * callbacks: {callback, onProgress, onHashProgress, onTaskReady, onFileFinish, onFileProgress}; each may also be
 * given in params (as the Node SDK takes onProgress). Programming errors (wrong types) raise;
 * the core's validation errors come back as nil, err. */
static int l_start(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    const char *op = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    /* Everything that can raise happens before any allocation. */
    push_callbacks(L); /* 5..10 */
    int stream_op = cos_operation_streams(op); /* a function or file Body becomes a stream */
    check_body_output(L, 3, stream_op);
    static const char *const mapped[] = {"Body", "Output", NULL};
    cos_value *params = check_object_skip(L, 3, "params", mapped);
    lcos_task *t = task_new(cl, L);
    if (!t) {
        cos_value_free(params);
        return luaL_error(L, "out of memory");
    }
    cos_body body;
    cos_output out;
    map_body(L, 3, &body, t, params, stream_op);
    map_output(L, 3, &out);
    cos_callbacks cbs = task_callbacks(t, &body);
    cos_value *err = NULL;
    lcos_call k = lcos_enter(cl, L);
    cos_task_id id = cos_start(cl->c, op, params, body.kind ? &body : NULL, out.kind ? &out : NULL, &cbs, &err);
    if (id > 0) { /* (on failure release() has freed t) */
        t->id = id;
        cos_value_free(err); /* none expected; freed before lcos_leave may raise */
        err = NULL;
    }
    lcos_leave(&k, 0, id > 0 ? id : 0); /* raises what its onTaskReady raised */
    if (id > 0) lua_pushinteger(L, (lua_Integer)id);
    return lcos_result(L, id > 0, err, "cos_start failed");
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* One cos_poll step, inside a call (lcos_enter). *idle is set when it returned at once without
 * delivering anything: a sign that nothing can progress (e.g. only paused tasks are left). */
static int poll_once(lcos_client *cl, int timeout, int *idle)
{
    unsigned long before = cl->deliveries;
    double t0 = mono_ms();
    int n = cos_poll(cl->c, timeout);
    if (idle) *idle = cl->deliveries == before && mono_ms() - t0 < 1.0;
    return n;
}

/* client:poll([timeout_ms]) -> number of unfinished tasks; raises any callback's error. */
static int l_poll(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    int timeout = (int)luaL_optinteger(L, 2, 0);
    lcos_call k = lcos_enter(cl, L);
    int n = poll_once(cl, timeout, NULL);
    lcos_leave(&k, 1, 0);
    lua_pushinteger(L, n);
    return 1;
}

/* Event-loop integration. client:sockets() -> { {fd =, events = "r" | "w" | "rw", id =}, ... }:
 * what to watch now (id is unique per socket, even when an fd number is reused). */
static int l_sockets(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    cos_watch small[64], *w = small;
    size_t n = cos_watch_sockets(cl->c, small, 64);
    if (n > 64) {
        w = lua_newuserdata(L, n * sizeof *w); /* collected with the stack */
        n = cos_watch_sockets(cl->c, w, n);
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        int ev = w[i].events;
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, w[i].fd);
        lua_setfield(L, -2, "fd");
        lua_pushstring(L, ev == (COS_WATCH_IN | COS_WATCH_OUT) ? "rw" : ev == COS_WATCH_OUT ? "w" : "r");
        lua_setfield(L, -2, "events");
        lua_pushinteger(L, (lua_Integer)w[i].id);
        lua_setfield(L, -2, "id");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* client:timeout() -> ms until socket_action(-1) is due (0: now), or -1: only sockets matter. */
static int l_timeout(lua_State *L)
{
    lua_pushinteger(L, cos_next_timeout(check_client(L, 1)->c));
    return 1;
}

/* client:socket_action(fd, events) -> unfinished tasks. fd -1: the timeout expired; events "r",
 * "w" or "rw". Callbacks run here; one that raised is raised from here. */
static int l_socket_action(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    int fd = (int)luaL_checkinteger(L, 2);
    const char *ev = luaL_optstring(L, 3, "");
    int events = (strchr(ev, 'r') ? COS_WATCH_IN : 0) | (strchr(ev, 'w') ? COS_WATCH_OUT : 0);
    lcos_call k = lcos_enter(cl, L);
    int n = cos_socket_action(cl->c, fd, events);
    lcos_leave(&k, 1, 0); /* as poll: any callback error of this step */
    lua_pushinteger(L, n);
    return 1;
}

/* Drives the engine until `id` is done (id > 0) or no task is left (id 0), stopping early when a
 * callback raised an error this call re-raises (any for run, task id's for wait). Steps through
 * cos_poll so that the error surfaces as soon as cos_poll returns; when steps look idle it hands
 * over to cos_run/cos_wait, which know when nothing can progress (only paused tasks left). */
static void drive(lcos_client *cl, lua_State *L, cos_task_id id)
{
    int all = id == 0, idle_steps = 0;
    lcos_call k = lcos_enter(cl, L); /* one call for the whole loop: nothing runs Lua between steps */
    while (cl->c && !cl->close_pending && !has_raisable(cl, k.mark, all, id)) {
        if (id > 0) {
            lcos_task *t = find_task(cl, id);
            if (!t || t->done) break;
        }
        int idle = 0;
        /* an idle cos_poll sleeps its whole timeout (as poll(2) does): not worth it here */
        int n = cos_busy(cl->c) ? poll_once(cl, 1000, &idle) : (idle = 1, idle_steps = 3, 1);
        if (n <= 0) break;
        idle_steps = idle ? idle_steps + 1 : 0;
        if (idle_steps >= 3 && !has_raisable(cl, k.mark, all, id) && !cl->close_pending) {
            if (id > 0) cos_wait(cl->c, id);
            else cos_run(cl->c);
            break;
        }
    }
    lcos_leave(&k, all, id);
}

/* client:run(): until no task is left (or only paused ones); a callback's error is raised here. */
static int l_run(lua_State *L)
{
    drive(check_client(L, 1), L, 0);
    return 0;
}

/* client:wait(id): until task `id` has delivered its callback (other tasks advance too). */
static int l_wait(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    cos_task_id id = (cos_task_id)luaL_checkinteger(L, 2);
    if (id > 0) drive(cl, L, id);
    return 0;
}

/* client:pending(id) -> true while task `id` has not delivered its callback (a host's own
 * driving loop, e.g. the Lua layer inside nginx, waits on it). */
static int l_pending(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    lcos_task *t = find_task(cl, (cos_task_id)luaL_checkinteger(L, 2));
    lua_pushboolean(L, t && !t->done);
    return 1;
}

static int l_task_list(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    cos_value *list = cos_task_list(cl->c);
    if (list) push_value(L, list, 0); else lua_newtable(L);
    cos_value_free(list);
    return 1;
}

static int task_op(lua_State *L, int (*fn)(cos_client *, cos_task_id))
{
    lcos_client *cl = check_client(L, 1);
    cos_task_id id = (cos_task_id)luaL_checkinteger(L, 2);
    lcos_call k = lcos_enter(cl, L);
    int rc = fn(cl->c, id);
    lcos_leave(&k, 0, 0); /* delivers nothing itself: only defers */
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int l_pause(lua_State *L) { return task_op(L, cos_task_pause); }
static int l_restart(lua_State *L) { return task_op(L, cos_task_restart); }
static int l_cancel(lua_State *L) { return task_op(L, cos_task_cancel); }

/* client:fail_callback(id, message) -> boolean: a callback the Lua layer runs itself for task id
 * (uploadFiles' files[i].onTaskReady) raised: the task fails with {code = "CallbackError",
 * message}, as when a callback the core delivers raises. */
static int l_fail_callback(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    cos_task_id id = (cos_task_id)luaL_checkinteger(L, 2);
    const char *msg = luaL_checkstring(L, 3);
    cos_value *e = callback_error_new(msg);
    if (!e) return luaL_error(L, "out of memory");
    lcos_call k = lcos_enter(cl, L);
    int rc = cos_task_fail(cl->c, id, e);
    lcos_leave(&k, 0, 0);
    lua_pushboolean(L, rc == 0);
    return 1;
}

/* Replaces the function *ref holds by argument 2 (a function, or nil: none). 1 when one is held. */
static int hold_function(lua_State *L, int *ref)
{
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    int r = lua_isnil(L, 2) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX);
    unref_on(L, ref);
    *ref = r;
    return r != LUA_NOREF;
}

/* client:on_list_update(fn | nil) */
static int l_on_list_update(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    int on = hold_function(L, &cl->list_ref);
    cos_on_list_update(cl->c, on ? cb_list_update : NULL, on ? cl : NULL);
    return 0;
}

/* client:on_credentials(fn | nil): fn(token, options) is called when a request needs
 * credentials (cos_set_credentials_provider); it answers with provide_credentials. */
static int l_on_credentials(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    int on = hold_function(L, &cl->cred_ref);
    cos_set_credentials_provider(cl->c, on ? cb_credentials : NULL, cl);
    return 0;
}

/* client:provide_credentials(token, err, creds) -> boolean (false: unknown token). err: nil, a
 * string or an error table; creds: nil or a table (cos_credentials_provide). */
static int l_provide_credentials(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    lua_Integer token = luaL_checkinteger(L, 2);
    conv cv = {NULL};
    cos_value *err = lua_isnoneornil(L, 3) ? NULL : to_value(L, 3, 0, &cv);
    cos_value *creds = lua_isnoneornil(L, 4) ? NULL : to_value(L, 4, 0, &cv);
    if (!lua_isnoneornil(L, 3) && !err) err = cos_cstr_new(cv.err ? cv.err : "getAuthorization failed");
    lcos_call k = lcos_enter(cl, L);
    int rc = cos_credentials_provide(cl->c, (uint64_t)token, err, creds);
    lcos_leave(&k, 0, 0);
    lua_pushboolean(L, rc == 0);
    return 1;
}

/* client:get_object_url(params) -> url | nil, err */
static int l_get_object_url(lua_State *L)
{
    lcos_client *cl = check_client(L, 1);
    cos_value *params = check_object(L, 2, "params");
    cos_value *err = NULL;
    char *url = cos_get_object_url(cl->c, params, &err);
    cos_value_free(params);
    int ok = url != NULL;
    if (ok) lua_pushstring(L, url);
    free(url);
    return lcos_result(L, ok, err, "getObjectUrl failed");
}

/* client:callback_traceback() -> traceback of the last error raised by a user callback, or nil */
static int l_callback_traceback(lua_State *L)
{
    lcos_client **box = luaL_checkudata(L, 1, CLIENT_MT);
    if (*box && (*box)->tb_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, (*box)->tb_ref);
    else lua_pushnil(L);
    return 1;
}

/* core.get_authorization(opts) -> authorization | nil, err */
static int l_get_authorization(lua_State *L)
{
    cos_value *opts = check_object(L, 1, "options");
    cos_value *err = NULL;
    char *auth = cos_get_authorization(opts, &err);
    cos_value_free(opts);
    int ok = auth != NULL;
    if (ok) lua_pushstring(L, auth);
    free(auth);
    return lcos_result(L, ok, err, "getAuthorization failed");
}

/* core.post_policy(opts) -> {url, fields, policy, expiration} | nil, err */
static int l_post_policy(lua_State *L)
{
    cos_value *opts = check_object(L, 1, "options");
    cos_value *err = NULL;
    cos_value *res = cos_post_policy(opts, &err);
    cos_value_free(opts);
    if (res) push_value(L, res, 0);
    int ok = res != NULL;
    cos_value_free(res);
    return lcos_result(L, ok, err, "post_policy failed");
}

static const luaL_Reg client_methods[] = {
    {"start", l_start},
    {"poll", l_poll},
    {"sockets", l_sockets},
    {"timeout", l_timeout},
    {"socket_action", l_socket_action},
    {"run", l_run},
    {"wait", l_wait},
    {"pending", l_pending},
    {"task_list", l_task_list},
    {"pause", l_pause},
    {"restart", l_restart},
    {"cancel", l_cancel},
    {"fail_callback", l_fail_callback},
    {"on_list_update", l_on_list_update},
    {"on_credentials", l_on_credentials},
    {"provide_credentials", l_provide_credentials},
    {"get_object_url", l_get_object_url},
    {"callback_traceback", l_callback_traceback},
    {"close", l_close},
    {NULL, NULL},
};

/* core.list_files(dir[, symlinks]) -> { {FilePath, RelativePath, Size}, ... } | nil, err */
static int l_list_files(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    const char *links = luaL_optstring(L, 2, NULL);
    cos_value *err = NULL;
    cos_value *files = cos_local_files_list(dir, links, &err);
    if (files) push_value(L, files, 0);
    int ok = files != NULL;
    cos_value_free(files);
    return lcos_result(L, ok, err, "list_files failed");
}

/* core.file_crc64(path) -> the decimal CRC-64 (x-cos-hash-crc64ecma) | nil, message */
static int l_file_crc64(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    uint64_t crc = 0;
    int ok = cos_local_file_crc64(path, &crc) == 0;
    char buf[4200]; /* the decimal CRC, or the message */
    if (ok) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)crc);
        lua_pushstring(L, buf);
    } else {
        char text[128];
        snprintf(buf, sizeof buf, "%.4000s: %s", path, strerror_r(errno, text, sizeof text));
    }
    return lcos_result(L, ok, NULL, buf);
}

static const luaL_Reg module_funcs[] = {
    {"list_files", l_list_files},
    {"file_crc64", l_file_crc64},
    {"new", l_new},
    {"get_authorization", l_get_authorization},
    {"post_policy", l_post_policy},
    {NULL, NULL},
};

/* core.operations: the names cos_start runs, in the core's order, read once from the core's
 * index (cos_operation_name) so that the Lua layer makes one method per name and keeps no list. */
static void push_operations(lua_State *L)
{
    lua_newtable(L);
    for (size_t i = 0; cos_operation_name(i); i++) {
        lua_pushstring(L, cos_operation_name(i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

int luaopen_cos_core(lua_State *L)
{
    if (luaL_newmetatable(L, CLIENT_MT)) {
        luaL_newlib(L, client_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
#if LCOS_HAS_CLOSE
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
#endif
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "cos.Client");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, module_funcs);
    lua_pushliteral(L, COS_VERSION);
    lua_setfield(L, -2, "VERSION");
    luaL_getmetatable(L, ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    push_operations(L);
    lua_setfield(L, -2, "operations");
    return 1;
}
