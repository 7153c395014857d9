/* host_curl_init.c (spec/clib_spec.lua): a C host that owns libcurl, and runs Lua with cos in it.
 *
 * The host calls curl_global_init itself and makes a request with its own easy handle (URL_BEFORE),
 * then opens a Lua state (the standard libraries; LUA_PATH / LUA_CPATH from the environment) and
 * runs SCRIPT, which requires "cos" and uploads; then it makes another request of its own
 * (URL_AFTER, so the module must not have torn libcurl down under the host), closes Lua, and only
 * then calls curl_global_cleanup. Prints the host's two HTTP statuses; exits 0 when both requests
 * answered and the script ran without error. Builds against any Lua 5.1..5.4 or LuaJIT.
 *
 *   host_curl_init URL_BEFORE URL_AFTER SCRIPT_FILE
 */
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* The host's own use of libcurl: one GET, returning the HTTP status (0 on a transport error). */
static long host_get(const char *url)
{
    long status = 0;
    CURL *e = curl_easy_init();
    if (!e) return 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    return status;
}

static int run_script(const char *path)
{
    lua_State *L = luaL_newstate();
    if (!L) return -1;
    luaL_openlibs(L);
    int rc = luaL_dofile(L, path); /* 0 is LUA_OK, which Lua 5.1 does not name */
    if (rc != 0) fprintf(stderr, "script: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL_BEFORE URL_AFTER SCRIPT_FILE\n", argv[0]);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) return 1;
    long before = host_get(argv[1]);
    int script = run_script(argv[3]);
    long after = host_get(argv[2]);
    curl_global_cleanup();
    printf("host: before %ld, script %s, after %ld\n", before, script == 0 ? "ok" : "failed", after);
    return before > 0 && after > 0 && script == 0 ? 0 : 1;
}
