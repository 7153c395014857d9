/* api: the COS APIs lua-cos speaks, one enum shared by the client (every request names its API
 * when it is built: cos_req_new) and cosd (route() maps a request to one). The names are COS's own
 * ("PutObject", "UploadPart", ...): they appear in STS policies (name/cos:<API>), cosd's fault
 * rules and logs, and docs/cos-wire.md's sections. Adding an API: a value here, its name and
 * method in api.c. */
#ifndef COS_COMMON_API_H
#define COS_COMMON_API_H

typedef enum cos_api {
    COS_API_NONE = 0,                  /* not a COS API we know */
    COS_API_PUT_OBJECT,
    COS_API_APPEND_OBJECT,
    COS_API_POST_OBJECT,
    COS_API_HEAD_OBJECT,
    COS_API_GET_OBJECT,
    COS_API_DELETE_OBJECT,
    COS_API_GET_BUCKET,                /* List Objects */
    COS_API_HEAD_BUCKET,
    COS_API_INITIATE_MULTIPART_UPLOAD,
    COS_API_UPLOAD_PART,
    COS_API_LIST_PARTS,
    COS_API_COMPLETE_MULTIPART_UPLOAD,
    COS_API_ABORT_MULTIPART_UPLOAD,
    COS_API_LIST_MULTIPART_UPLOADS,
    COS_API_COUNT
} cos_api;

/* COS's name of an API ("UploadPart"); "" for COS_API_NONE or a value out of range. */
const char *cos_api_name(cos_api api);
/* Its HTTP method ("PUT"); "" for COS_API_NONE or a value out of range. */
const char *cos_api_method(cos_api api);

#endif
