/* bucket: getBucket (GET Bucket, list objects; its request and answer: ops/messages.c), shaped
 * as the Node SDK shapes it: the children of <ListBucketResult> as strings, Contents and
 * CommonPrefixes always arrays, then statusCode, headers, RequestId. */
#include "http/transport.h"
#include "ops/messages.h"
#include "ops/bucket.h"
#include "base/validate.h"

static void get_bucket_done(void *ud, cos_http_result *res)
{
    cos_value *err = NULL, *data = cos_msg_get_bucket_read(res, &err);
    cos_task_finish(ud, data ? NULL : err, data);
}

int cos_op_get_bucket(cos_task *t, cos_value **err)
{
    static const char *const strings[] = {"Prefix", "Delimiter", "Marker", "EncodingType", NULL};
    static const char *const numbers[] = {"MaxKeys", NULL};
    cos_value *e = cos_validate_bucket_params(t->params);
    if (!e) e = cos_validate_optional_strings(t->params, strings, 0);
    if (!e) e = cos_validate_optional_strings(t->params, numbers, 1);
    if (e) {
        *err = e;
        return -1;
    }
    cos_msg_to to = cos_msg_to_task(t);
    cos_request *r = cos_msg_get_bucket(&to);
    if (!r) {
        *err = cos_validate_error(NULL, "cannot build the getBucket request");
        return -1;
    }
    cos_req_on_done(r, get_bucket_done, t);
    t->req = r;
    cos_transport_submit(r);
    return 0;
}
