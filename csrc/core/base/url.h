/* url: URLs as the Node SDK builds them (docs/cos-wire.md#urls-and-hosts): the Domain template,
 * Protocol, the encoded key path. Malloc'd strings; NULL on a bad Domain or out of memory. */
#ifndef COS_BASE_URL_H
#define COS_BASE_URL_H
#include "cos.h"

/* The full URL without query. protocol/domain NULL or "": the client's (c may be NULL: then
 * "https:" and the default domain). key NULL or "" gives the bucket URL ending in '/'. */
char *cos_url_build(const cos_client *c, const char *protocol, const char *domain, const char *bucket,
                    const char *region, const char *key);
/* "host[:port]" of a URL. */
char *cos_url_host(const char *url);
/* host + "/" + encoded key: the SDK's Location field. */
char *cos_url_location(const cos_client *c, const char *bucket, const char *region, const char *key);
/* The Protocol option as sent ("https:" or "http:"; "http" and "https" accepted, NULL means
 * "https:"), or NULL when it is neither. */
const char *cos_url_protocol(const char *option);

#endif
