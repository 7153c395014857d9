/* credentials: the credentials provider's side of a request (credentials.c); the public calls
 * are cos.h's cos_set_credentials_provider and cos_credentials_provide. */
#ifndef COS_HTTP_CREDENTIALS_H
#define COS_HTTP_CREDENTIALS_H
#include "cos.h"

struct cos_request;

/* Delivers a REQ_CREDS event: calls the provider for r (unless answered or aborted meanwhile). */
void cos_credentials_deliver(cos_client *c, struct cos_request *r);
/* Fails the requests whose provider did not answer by their deadline (so cos_run never waits
 * forever). */
void cos_credentials_expire(cos_client *c, double now);

#endif
