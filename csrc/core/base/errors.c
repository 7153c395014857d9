/* errors: the cos.h error objects for network failures and HTTP error responses.
 *
 * Network codes (stable mapping from CURLcode, Node-style names; message = libcurl's text):
 *   CURLE_COULDNT_CONNECT          ECONNREFUSED (or ENETUNREACH / EHOSTUNREACH / ETIMEDOUT from errno)
 *   CURLE_COULDNT_RESOLVE_HOST/PROXY ENOTFOUND
 *   CURLE_OPERATION_TIMEDOUT       ETIMEDOUT (Timeout option, connect timeout, stall detection)
 *   CURLE_SEND_ERROR, RECV_ERROR, GOT_NOTHING, PARTIAL_FILE, HTTP2(_STREAM)  ECONNRESET
 *   CURLE_PEER_FAILED_VERIFICATION, SSL_CACERT_BADFILE, SSL_CERTPROBLEM, SSL_ISSUER_ERROR,
 *   SSL_CRL_BADFILE, SSL_PINNEDPUBKEYNOTMATCH                     ECERT
 *   CURLE_SSL_CONNECT_ERROR and other TLS errors                 ETLS
 *   CURLE_READ_ERROR, ABORTED_BY_CALLBACK on a body read failure  EBODYREAD (set by the engine)
 *   CURLE_WRITE_ERROR              EWRITE (output file/fd failed)
 *   CURLE_OUT_OF_MEMORY            ENOMEM
 *   CURLE_URL_MALFORMAT, UNSUPPORTED_PROTOCOL                   EINVALIDURL
 *   anything else                  ENETWORK
 * Retryable: ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ENOTFOUND, ETIMEDOUT, ECONNRESET, ENETWORK.
 * Never retried: ECERT, ETLS (configuration problems), EBODYREAD, EWRITE, ENOMEM, EINVALIDURL. */
#include "base/errors.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xml.h"

cos_value *cos_error_new(const char *code, const char *message)
{
    cos_value *e = cos_obj_new();
    if (!e) return NULL;
    cos_obj_set_str(e, "code", code);
    cos_obj_set_str(e, "name", code);
    cos_obj_set_str(e, "message", message);
    return e;
}

int cos_error_out(cos_value **err, cos_value *e)
{
    *err = e ? e : cos_error_new("Error", "out of memory");
    return -1;
}

cos_value *cos_error_newf(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cos_error_new(code, msg);
}

cos_value *cos_error_errno(int e, const char *syscall, const char *path)
{
    if (e == 0) e = EIO;
    char text[128], lower[128];
    const char *name = strerrorname_np(e);
    const char *s = strerror_r(e, text, sizeof text); /* GNU: thread-safe, returns the text */
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof lower; i++) lower[i] = (char)tolower((unsigned char)s[i]);
    lower[i] = '\0';
    cos_value *v = path ? cos_error_newf(name ? name : "Error", "%s: %s, %s '%s'", name ? name : "Error", lower, syscall, path)
                        : cos_error_newf(name ? name : "Error", "%s: %s, %s", name ? name : "Error", lower, syscall);
    if (!v) return NULL;
    cos_obj_set_num(v, "errno", e);
    cos_obj_set_str(v, "syscall", syscall);
    if (path) cos_obj_set_str(v, "path", path);
    return v;
}

cos_value *cos_error_canceled(cos_task_id id)
{
    return cos_error_newf("TaskCanceled", "task %lld was canceled", (long long)id);
}

const char *cos_error_network_code(CURLcode rc, long os_errno)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ENETUNREACH) return "ENETUNREACH";
        if (os_errno == EHOSTUNREACH) return "EHOSTUNREACH";
        if (os_errno == ETIMEDOUT) return "ETIMEDOUT";
        return "ECONNREFUSED";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "ENOTFOUND";
    case CURLE_OPERATION_TIMEDOUT: return "ETIMEDOUT";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return "ECONNRESET";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return "ECERT";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED: return "ETLS";
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK: return "EBODYREAD";
    case CURLE_WRITE_ERROR: return "EWRITE";
    case CURLE_OUT_OF_MEMORY: return "ENOMEM";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return "EINVALIDURL";
    default: return "ENETWORK";
    }
}

int cos_error_retryable(const char *code)
{
    static const char *const retry[] = {"ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "ENOTFOUND",
                                        "ETIMEDOUT",    "ECONNRESET",  "ENETWORK",     NULL};
    for (size_t i = 0; retry[i]; i++)
        if (strcmp(code, retry[i]) == 0) return 1;
    return 0;
}

void cos_error_note_attempts(cos_value *e, int attempts)
{
    const char *msg = cos_obj_get_str(e, "message");
    if (!e || attempts < 2 || !msg) return;
    char *note = NULL;
    if (asprintf(&note, "%s (after %d attempts)", msg, attempts) < 0) return;
    cos_obj_set_str(e, "message", note);
    cos_obj_set_num(e, "attempts", attempts);
    free(note);
}

void cos_error_add_hint(cos_value *e)
{
    const char *code = cos_obj_get_str(e, "code");
    const char *msg = cos_obj_get_str(e, "message");
    const char *hint = NULL;
    if (!code || cos_obj_get(e, "hint")) return;
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        hint = "check SecretId/SecretKey, and the clock (CorrectClockSkew, SystemClockOffset)";
    else if (strcmp(code, "ETLS") == 0 && msg && strstr(msg, "wrong version number"))
        hint = "the server speaks plain HTTP: use Protocol = \"http:\"";
    if (hint) cos_obj_set_str(e, "hint", hint);
}

static void set_where(cos_value *e, const char *method, const char *url)
{
    if (url) cos_obj_set_str(e, "url", url);
    if (method) cos_obj_set_str(e, "method", method);
}

cos_value *cos_error_network(CURLcode rc, long os_errno, const char *detail, const char *method, const char *url)
{
    const char *code = cos_error_network_code(rc, os_errno);
    char msg[CURL_ERROR_SIZE + 64];
    /* libcurl's error text names the host and port, never credentials. */
    /* The message is libcurl's text alone: the code is a field of its own (printing both would
     * say it twice). */
    snprintf(msg, sizeof msg, "%s", detail && *detail ? detail : curl_easy_strerror(rc));
    cos_value *e = cos_error_new(code, msg);
    if (e) set_where(e, method, url);
    return e;
}

static const char *starts_xml(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    return i < len && body[i] == '<' ? body + i : NULL;
}

cos_value *cos_error_http(int status, const char *reason, cos_value *headers, const char *body, size_t len,
                          const char *method, const char *url)
{
    cos_value *parsed = body && starts_xml(body, len) ? cos_xml_parse_error(body, len) : NULL;
    const char *code = parsed ? cos_obj_get_str(parsed, "Code") : NULL;
    const char *message = parsed ? cos_obj_get_str(parsed, "Message") : NULL;
    char status_s[16];
    snprintf(status_s, sizeof status_s, "%d", status);
    cos_value *e;
    if (code) {
        e = cos_error_new(code, message ? message : "");
    } else {
        /* No XML body -> code is the status, message the reason phrase
         * (docs/cos-wire.md#http-errors-without-an-xml-body). */
        e = cos_error_new(status_s, reason && *reason ? reason : "Error");
    }
    if (!e) {
        cos_value_free(parsed);
        cos_value_free(headers);
        return NULL;
    }
    if (parsed && code) cos_obj_set(e, "error", parsed);
    else cos_value_free(parsed);
    cos_obj_set_num(e, "statusCode", status);
    const char *rid = headers ? cos_obj_get_str(headers, "x-cos-request-id") : NULL;
    if (!rid && headers) rid = cos_obj_get_str(headers, "x-ci-request-id");
    cos_value *rid_v = rid ? cos_cstr_new(rid) : NULL;
    cos_obj_set(e, "headers", headers ? headers : cos_obj_new());
    set_where(e, method, url);
    if (rid_v) cos_obj_set(e, "RequestId", rid_v);
    return e;
}
