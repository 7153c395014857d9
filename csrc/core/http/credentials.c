/* credentials: the credentials provider (cos_set_credentials_provider, cos_credentials_provide;
 * docs/cos-wire.md#temporary-credentials): asking it for a parked request, applying its answer
 * (a ready Authorization, or an STS credential that sts.c caches), and failing requests it
 * leaves waiting too long. */
#include "http/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "http/request_state.h"
#include "http/sts.h"
#include "http/transport.h"

void cos_set_credentials_provider(cos_client *c, cos_credentials_fn fn, void *ud)
{
    if (!c) return;
    c->cred_fn = fn;
    c->cred_ud = ud;
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static cos_value *cred_error(const cos_request *r, const char *code, const char *msg)
{
    cos_value *e = cos_error_new(code, msg);
    if (e) {
        cos_obj_set_str(e, "url", r->url_noquery ? r->url_noquery : "");
        cos_obj_set_str(e, "method", r->method);
    }
    return e;
}

void cos_credentials_deliver(cos_client *c, cos_request *r)
{
    if (r->state != COS_RQ_CREDS || r->aborted || !c->cred_fn) return; /* answered meanwhile */
    cos_value *opts = cos_req_cred_options(r);
    if (!opts) {
        cos_transport_unpark(c, r);
        cos_transport_finish(c, r, 0, cred_error(r, "Error", "out of memory"));
        return;
    }
    c->cred_fn(c->cred_ud, c, r->cred_token, opts);
}

/* A 10-digit Unix time given as a number or a numeric string; -1 otherwise. */
static long long unix_time(const cos_value *v)
{
    double d = -1;
    if (cos_value_type(v) == COS_NUM) d = cos_value_num(v);
    else if (cos_value_type(v) == COS_STR) {
        char *end = NULL;
        const char *s = cos_value_str(v, NULL);
        d = strtod(s, &end);
        if (!*s || *end) d = -1;
    }
    return d >= 1e9 && d < 1e10 ? (long long)d : -1;
}

/* Applies an answer to r; returns the error that fails r, or NULL. */
static cos_value *apply_creds(cos_client *c, cos_request *r, const cos_value *creds)
{
    const char *auth = cos_obj_get_str(creds, "Authorization");
    const char *token = cos_obj_get_str(creds, "SecurityToken");
    if (!token || !*token) token = cos_obj_get_str(creds, "XCosSecurityToken");
    if (auth && *auth) {
        cos_req_clear_creds(r);
        r->cred_auth = strdup(auth);
        r->cred_token_str = dup_or_null(token);
        r->has_creds = 1;
        return r->cred_auth ? NULL : cred_error(r, "Error", "out of memory");
    }
    const char *id = cos_obj_get_str(creds, "TmpSecretId");
    const char *key = cos_obj_get_str(creds, "TmpSecretKey");
    long long expired = unix_time(cos_obj_get(creds, "ExpiredTime"));
    const cos_value *startv = cos_obj_get(creds, "StartTime");
    long long start = cos_value_type(startv) == COS_NIL ? 0 : unix_time(startv);
    if (!id || !*id || !key || !*key || expired < 0 || start < 0)
        return cred_error(r, "CredentialsError",
                          "getAuthorization must give {Authorization, SecurityToken?} or {TmpSecretId, "
                          "TmpSecretKey, SecurityToken, StartTime?, ExpiredTime} (10-digit Unix times)");
    char *nid = strdup(id), *nkey = strdup(key), *ntok = dup_or_null(token);
    if (!nid || !nkey || (token && *token && !ntok)) {
        free(nid);
        free(nkey);
        free(ntok);
        return cred_error(r, "Error", "out of memory");
    }
    cos_sts_store(c, nid, nkey, ntok, start, expired);
    return cos_sts_use(c, r) == 0 ? NULL : cred_error(r, "Error", "out of memory");
}

int cos_credentials_provide(cos_client *c, uint64_t token, cos_value *err, cos_value *creds)
{
    cos_request *r = c ? c->cred_head : NULL;
    while (r && r->cred_token != token) r = r->next;
    if (!r || !token) {
        cos_value_free(err);
        cos_value_free(creds);
        return -1;
    }
    cos_transport_unpark(c, r);
    if (err) {
        cos_value *e = err;
        if (cos_value_type(err) != COS_OBJ) {
            const char *msg = cos_value_str(err, NULL);
            e = cred_error(r, "CredentialsError", msg && *msg ? msg : "getAuthorization failed");
            cos_value_free(err);
        }
        cos_value_free(creds);
        cos_transport_finish(c, r, 0, e);
        return 0;
    }
    cos_value *e = apply_creds(c, r, creds);
    cos_value_free(creds);
    if (e) {
        cos_transport_finish(c, r, 0, e);
        return 0;
    }
    cos_transport_resume(c, r);
    /* A fresh STS credential serves every request still waiting for one. */
    if (!r->cred_auth && cos_sts_valid(c)) {
        for (cos_request *w = c->cred_head, *n; w; w = n) {
            n = w->next;
            cos_transport_unpark(c, w);
            if (cos_sts_use(c, w) != 0) cos_transport_finish(c, w, 0, cred_error(w, "Error", "out of memory"));
            else cos_transport_resume(c, w);
        }
    }
    return 0;
}

/* Requests whose provider did not answer in time fail (so cos_run never waits forever). */
void cos_credentials_expire(cos_client *c, double now)
{
    for (cos_request *r = c->cred_head, *n; r; r = n) {
        n = r->next;
        if (r->cred_deadline > now) continue;
        cos_transport_unpark(c, r);
        char msg[128];
        snprintf(msg, sizeof msg, "getAuthorization did not answer within %.0f ms",
                 c->timeout_ms > 0 ? (double)c->timeout_ms : COS_CRED_WAIT_DEFAULT_MS);
        cos_transport_finish(c, r, 0, cred_error(r, "ETIMEDOUT", msg));
    }
}
