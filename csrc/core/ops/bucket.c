/* ops_bucket: getBucket (GET Bucket, list objects), shaped as the Node SDK shapes it: the
 * children of <ListBucketResult> as strings, Contents and CommonPrefixes always arrays, then
 * statusCode, headers, RequestId. */
#include <string.h>

#include "http/transport.h"
#include "ops/ops.h"
#include "base/validate.h"

static const char *const LIST_BUCKET_ARRAYS[] = {"Contents", "CommonPrefixes", NULL};

static void get_bucket_done(void *ud, cos_http_result *res)
{
    cos_task *t = ud;
    if (cos_task_fail_on_error(t, res)) return;
    cos_value *data = cos_result_data(res), *err = NULL;
    if (!data) {
        err = cos_validate_error(NULL, "out of memory");
    } else if (cos_result_merge_xml(data, res, LIST_BUCKET_ARRAYS) != 0) {
        err = cos_validate_error(NULL, "malformed XML in the response body");
        if (err) cos_obj_set_num(err, "statusCode", res->status_code);
        cos_value_free(data);
        data = NULL;
    } else {
        for (size_t i = 0; LIST_BUCKET_ARRAYS[i]; i++)
            if (!cos_obj_get(data, LIST_BUCKET_ARRAYS[i])) cos_obj_set(data, LIST_BUCKET_ARRAYS[i], cos_arr_new());
    }
    cos_task_finish(t, err, data);
}

static int query_from_param(cos_request *r, const cos_value *params, const char *param, const char *name)
{
    char buf[64];
    const char *v = cos_param_string(params, param, buf, sizeof buf);
    return v ? cos_req_query(r, name, v) : 0;
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
    cos_request *r = cos_task_request(t, "GET", NULL, 0);
    const cos_value *p = t->params;
    const char *prefix = cos_obj_get_str(p, "Prefix");
    /* The SDK's reqParams order; prefix is always sent, even empty. */
    int rc = r ? cos_req_query(r, "prefix", prefix ? prefix : "") : -1;
    rc = rc || query_from_param(r, p, "Delimiter", "delimiter");
    rc = rc || query_from_param(r, p, "Marker", "marker");
    rc = rc || query_from_param(r, p, "MaxKeys", "max-keys");
    rc = rc || query_from_param(r, p, "EncodingType", "encoding-type");
    if (rc) {
        cos_req_free(r);
        *err = cos_validate_error(NULL, "cannot build the getBucket request");
        return -1;
    }
    cos_req_on_done(r, get_bucket_done, t);
    t->req = r;
    cos_transport_submit(r);
    return 0;
}
