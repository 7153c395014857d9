/* api: COS's name of each API of api.h. */
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

const char *cos_api_name(cos_api api)
{
    return api > COS_API_NONE && api < COS_API_COUNT ? api_names[api] : "";
}

cos_api cos_api_from_name(const char *name)
{
    for (int i = COS_API_NONE + 1; name && i < COS_API_COUNT; i++)
        if (strcmp(api_names[i], name) == 0) return (cos_api)i;
    return COS_API_NONE;
}
