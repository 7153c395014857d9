/* auth: what a request signs (auth.c; docs/cos-wire.md#what-the-client-signs). The signature
 * itself is cos_sign() (common/sign.c). COS.getAuthorization and getObjectUrl are cos.h's. */
#ifndef COS_HTTP_AUTH_H
#define COS_HTTP_AUTH_H
#include "http/request_state.h"

/* The Authorization for one request, signing what the Node SDK signs, with these keys;
 * key_time NULL or "": now .. now + 900 s (clock offset applied). Malloc'd, NULL on failure. */
char *cos_auth_for_request(cos_client *c, const char *sid, const char *skey, const char *key_time,
                           const char *method, const char *pathname, const cos_rkv_list *query,
                           const cos_rkv_list *headers);
/* "start;end" key time from now + clock offset (docs/cos-wire.md#key-time). */
void cos_auth_key_time(double offset_ms, long expires, char out[64]);

#endif
