/* Harness: the client's reading of COS XML answers. The first byte picks the array fields of one
 * of the list operations (as ops/bucket.c / ops/multipart.c pass them); the rest is the body, read
 * as a result document (cos_xml_to_value_root), as an <Error> document (cos_xml_parse_error) and
 * as an HTTP error answer (cos_error_http, which does both). Every tree is cloned and freed. */
#include "base/errors.h"
#include "fuzz.h"

#include "http/request_state.h"
#include "base/xml.h"

static const char *const BUCKET[] = {"Contents", "CommonPrefixes", NULL};
static const char *const UPLOADS[] = {"Upload", "CommonPrefixes", NULL};
static const char *const PARTS[] = {"Part", NULL};

/* Touches every node, as a caller walking the result would. */
static size_t walk(const cos_value *v)
{
    size_t n = 1, len = 0;
    if (cos_value_str(v, &len)) return n + len;
    for (size_t i = 0; i < cos_value_len(v); i++) {
        const cos_value *c = cos_value_type(v) == COS_ARR ? cos_arr_get(v, i) : cos_obj_at(v, i);
        if (cos_value_type(v) == COS_OBJ) n += strlen(cos_obj_key(v, i));
        n += walk(c);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *const *arrays[] = {NULL, BUCKET, UPLOADS, PARTS};
    const char *const *fields = arrays[data[0] % 4];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    char *root = NULL;
    cos_value *v = cos_xml_to_value_root(body, len, fields, &root);
    if (v) {
        cos_value *copy = cos_value_clone(v);
        walk(copy);
        cos_value_free(copy);
    }
    cos_value_free(v);
    free(root);

    cos_value *e = cos_xml_parse_error(body, len);
    if (e) walk(e);
    cos_value_free(e);

    cos_value *headers = cos_obj_new();
    cos_obj_set_str(headers, "x-cos-request-id", "fuzz");
    cos_value *err = cos_error_http(400 + data[0] % 200, "Bad Request", headers, body, len, "GET", "http://fuzz/");
    if (err) walk(err);
    cos_value_free(err);
    return 0;
}
