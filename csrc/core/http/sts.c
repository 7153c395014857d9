/* sts: the cached STS credential of a client. */
#include "http/sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "http/request_state.h"

/* STS credentials are reused until they expire within this many seconds
 * (docs/cos-wire.md#temporary-credentials). */
#define STS_MARGIN_S 60

int cos_sts_valid(const cos_client *c)
{
    return c->sts_id && c->sts_key && (double)c->sts_expired - cos_clock_wall_ms() / 1000.0 > STS_MARGIN_S;
}

static char *sts_dup(const char *s) { return s && *s ? strdup(s) : NULL; }

int cos_sts_use(cos_client *c, cos_request *r)
{
    cos_req_clear_creds(r);
    r->cred_id = strdup(c->sts_id);
    r->cred_key = strdup(c->sts_key);
    r->cred_token_str = sts_dup(c->sts_token);
    if (c->sts_start > 0) snprintf(r->cred_key_time, sizeof r->cred_key_time, "%lld;%lld", c->sts_start, c->sts_expired);
    r->has_creds = 1;
    return r->cred_id && r->cred_key && (!c->sts_token || r->cred_token_str) ? 0 : -1;
}

void cos_sts_store(cos_client *c, char *id, char *key, char *token, long long start, long long expired)
{
    cos_sts_clear(c);
    c->sts_id = id;
    c->sts_key = key;
    c->sts_token = token;
    c->sts_start = start;
    c->sts_expired = expired;
}

void cos_sts_clear(cos_client *c)
{
    free(c->sts_id);
    free(c->sts_key);
    free(c->sts_token);
    c->sts_id = c->sts_key = c->sts_token = NULL;
}
