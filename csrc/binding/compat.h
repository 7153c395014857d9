/* compat.h: the one place where the binding meets the differences between Lua 5.1, 5.2, 5.3, 5.4
 * and LuaJIT 2.1 (which speaks the 5.1 API plus a few 5.2 functions). lcos.c is written against
 * the 5.4 API; this header supplies what an older interpreter lacks, under private names
 * (lcos_compat_*) so that our copies never clash with another module's or with LuaJIT's own.
 *
 * What differs, and what we do:
 * - lua_rawlen (5.2+) is lua_objlen in 5.1; lua_absindex, luaL_setfuncs, luaL_newlib,
 *   luaL_testudata, luaL_setmetatable, luaL_traceback, lua_tonumberx are 5.2+: copies below.
 * - lua_getfield returns the value's type from 5.3 on; lua_isinteger is 5.3+. Before 5.3 every
 *   number is a double: sizes, offsets and part numbers are exact up to 2^53, which is all the
 *   core uses (its values are doubles too).
 * - lua_newuserdatauv is 5.4; older interpreters have lua_newuserdata (no user values needed).
 * - The main thread is in the registry (LUA_RIDX_MAINTHREAD) from 5.2 on; in 5.1 see
 *   lcos_compat_mainthread.
 * - io files: 5.2+ have luaL_Stream {FILE *f; closef}, closed when closef is NULL; in 5.1 and
 *   LuaJIT the userdata also starts with the FILE *, which is NULL once closed.
 * - __close (and `<close>` variables) exist only in 5.4: LCOS_HAS_CLOSE. __gc works on full
 *   userdata in every version, so the client's cleanup needs nothing special.
 */
#ifndef LCOS_COMPAT_H
#define LCOS_COMPAT_H

#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define LCOS_HAS_CLOSE (LUA_VERSION_NUM >= 504)

#ifndef LUA_OK
#define LUA_OK 0
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, size, nuv) lua_newuserdata((L), (size))
#endif

#if LUA_VERSION_NUM < 503
/* lua_getfield that returns the type of the value it pushed. */
static inline int lcos_compat_getfield(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    return lua_type(L, -1);
}
#define lua_getfield lcos_compat_getfield

/* Before 5.3 a number is "an integer" when it is integral and exactly representable. */
static inline int lcos_compat_isinteger(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    lua_Number n = lua_tonumber(L, idx);
    return n == (lua_Number)(lua_Integer)n && n >= -9007199254740992.0 && n <= 9007199254740992.0;
}
#define lua_isinteger lcos_compat_isinteger
#endif

#if LUA_VERSION_NUM == 501
#define lua_rawlen(L, idx) lua_objlen((L), (idx))

static inline int lcos_compat_absindex(lua_State *L, int idx)
{
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}
#define lua_absindex lcos_compat_absindex

/* 5.2's luaL_setfuncs: registers l into the table below the nup upvalues on the stack. */
static inline void lcos_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name; l++) {
        for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs lcos_compat_setfuncs
#undef luaL_newlib /* LuaJIT has it as a macro over its own luaL_setfuncs */
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))

static inline void *lcos_compat_testudata(lua_State *L, int idx, const char *tname)
{
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx)) return NULL;
    luaL_getmetatable(L, tname);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}
#define luaL_testudata lcos_compat_testudata

static inline void lcos_compat_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#define luaL_setmetatable lcos_compat_setmetatable

static inline lua_Number lcos_compat_tonumberx(lua_State *L, int idx, int *isnum)
{
    if (isnum) *isnum = lua_isnumber(L, idx);
    return lua_tonumber(L, idx);
}
#define lua_tonumberx lcos_compat_tonumberx

/* luaL_traceback(L, L, msg, level) through debug.traceback (only L1 == L is needed here). */
static inline void lcos_compat_traceback(lua_State *L, lua_State *L1, const char *msg, int level)
{
    (void)L1;
    lua_getglobal(L, "debug");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "traceback");
        lua_remove(L, -2);
        lua_pushstring(L, msg);
        lua_pushinteger(L, level + 1);
        if (lua_isfunction(L, -3) && lua_pcall(L, 2, 1, 0) == 0 && lua_isstring(L, -1)) return;
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
    }
    lua_pushstring(L, msg);
}
#define luaL_traceback lcos_compat_traceback
#endif /* 5.1 */

/* The main thread of L's state. 5.1 has no registry slot for it: when called on the main thread
 * (lua_pushthread says so) that thread is recorded under a registry key; otherwise the calling
 * thread is recorded instead and stays referenced from the registry, so whatever is returned
 * lives as long as the state. Used only to release references outside any call. */
static inline lua_State *lcos_compat_mainthread(lua_State *L)
{
#if LUA_VERSION_NUM >= 502
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
#else
    lua_getfield(L, LUA_REGISTRYINDEX, "cos.core.mainthread");
    if (!lua_isthread(L, -1)) {
        lua_pop(L, 1);
        lua_pushthread(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "cos.core.mainthread");
    }
#endif
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    return main;
}

/* 1 when the value at idx is an io file (then *f is its FILE *, NULL once it is closed), else 0. */
static inline int lcos_compat_tofile(lua_State *L, int idx, FILE **f)
{
#if LUA_VERSION_NUM >= 502
    luaL_Stream *s = luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (!s) return 0;
    *f = s->closef ? s->f : NULL;
#else
    FILE **p = luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (!p) return 0;
    *f = *p;
#endif
    return 1;
}

#endif
