/* sts: the client's cache of one temporary (STS) credential from the credentials provider
 * (sts.c; docs/cos-wire.md#temporary-credentials), reused until STS_MARGIN_S before it expires. */
#ifndef COS_HTTP_STS_H
#define COS_HTTP_STS_H
#include "cos.h"

struct cos_request;

/* The cached credential still has more than the margin to live. */
int cos_sts_valid(const cos_client *c);
/* The next attempt of r signs with a snapshot of the cached credential (the cache may be
 * replaced while r is in flight). 0, or -1 out of memory. */
int cos_sts_use(cos_client *c, struct cos_request *r);
/* Replaces the cache (takes the three strings; token may be NULL). start 0: not given. */
void cos_sts_store(cos_client *c, char *id, char *key, char *token, long long start, long long expired);
void cos_sts_clear(cos_client *c);

#endif
