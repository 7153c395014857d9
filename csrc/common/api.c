/* api: COS's name and the HTTP method of each API of api.h. */
#include "api.h"
#include <string.h>

static const char *const api_names[COS_API_COUNT] = {
    [COS_API_NONE] = "",
    [COS_API_PUT_OBJECT] = "PutObject",
    [COS_API_APPEND_OBJECT] = "AppendObject",
    [COS_API_POST_OBJECT] = "PostObject",
    [COS_API_HEAD_OBJECT] = "HeadObject",
    [COS_API_GET_OBJECT] = "GetObject",
    [COS_API_DELETE_OBJECT] = "DeleteObject",
    [COS_API_GET_BUCKET] = "GetBucket",
    [COS_API_HEAD_BUCKET] = "HeadBucket",
    [COS_API_INITIATE_MULTIPART_UPLOAD] = "InitiateMultipartUpload",
    [COS_API_UPLOAD_PART] = "UploadPart",
    [COS_API_LIST_PARTS] = "ListParts",
    [COS_API_COMPLETE_MULTIPART_UPLOAD] = "CompleteMultipartUpload",
    [COS_API_ABORT_MULTIPART_UPLOAD] = "AbortMultipartUpload",
    [COS_API_LIST_MULTIPART_UPLOADS] = "ListMultipartUploads",
};

/* The HTTP method of each (docs/cos-wire.md#the-cos-apis-the-client-sends). */
static const char *const api_methods[COS_API_COUNT] = {
    [COS_API_NONE] = "",
    [COS_API_PUT_OBJECT] = "PUT",
    [COS_API_APPEND_OBJECT] = "POST",
    [COS_API_POST_OBJECT] = "POST",
    [COS_API_HEAD_OBJECT] = "HEAD",
    [COS_API_GET_OBJECT] = "GET",
    [COS_API_DELETE_OBJECT] = "DELETE",
    [COS_API_GET_BUCKET] = "GET",
    [COS_API_HEAD_BUCKET] = "HEAD",
    [COS_API_INITIATE_MULTIPART_UPLOAD] = "POST",
    [COS_API_UPLOAD_PART] = "PUT",
    [COS_API_LIST_PARTS] = "GET",
    [COS_API_COMPLETE_MULTIPART_UPLOAD] = "POST",
    [COS_API_ABORT_MULTIPART_UPLOAD] = "DELETE",
    [COS_API_LIST_MULTIPART_UPLOADS] = "GET",
};

const char *cos_api_method(cos_api api)
{
    return api > COS_API_NONE && api < COS_API_COUNT && api_methods[api] ? api_methods[api] : "";
}

const char *cos_api_name(cos_api api)
{
    return api > COS_API_NONE && api < COS_API_COUNT ? api_names[api] : "";
}

