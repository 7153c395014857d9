/* operations: the one index of the operations cos_start runs. A row names the operation as the
 * Node SDK does, gives its entry point (ops/ or upload/) and says whether it joins the task queue;
 * the Lua layer builds its methods from this list (cos_operation_name), so adding an operation is
 * a row here, its message builder (ops/messages.c), its function, its validator and cosd's route. */
#include <string.h>

#include "ops/bucket.h"
#include "ops/multipart.h"
#include "ops/object.h"
#include "ops/post_object.h"
#include "upload/upload.h"
#include "upload/upload_files.h"

/* name, entry point, joins the task queue, takes a stream Body */
static const cos_operation OPERATIONS[] = {
    {"putObject", cos_op_put_object, 1, 0},
    {"appendObject", cos_op_append_object, 0, 0},
    {"headObject", cos_op_head_object, 0, 0},
    {"getObject", cos_op_get_object, 0, 0},
    {"deleteObject", cos_op_delete_object, 0, 0},
    {"getBucket", cos_op_get_bucket, 0, 0},
    {"postObject", cos_op_post_object, 0, 0},
    {"multipartList", cos_op_multipart_list, 0, 0},
    {"multipartInit", cos_op_multipart_init, 0, 0},
    {"multipartUpload", cos_op_multipart_upload, 0, 0},
    {"multipartListPart", cos_op_multipart_list_part, 0, 0},
    {"multipartComplete", cos_op_multipart_complete, 0, 0},
    {"multipartAbort", cos_op_multipart_abort, 0, 0},
    {"sliceUploadFile", cos_op_slice_upload_file, 1, 1},
    {"uploadFile", cos_op_upload_file, 1, 1},
    {"uploadFiles", cos_op_upload_files, 1, 0},
};
#define NOPERATIONS (sizeof OPERATIONS / sizeof OPERATIONS[0])

const char *cos_operation_name(size_t index)
{
    return index < NOPERATIONS ? OPERATIONS[index].name : NULL;
}

static const cos_operation *operations_find(const char *name)
{
    for (size_t i = 0; name && i < NOPERATIONS; i++)
        if (strcmp(OPERATIONS[i].name, name) == 0) return &OPERATIONS[i];
    return NULL;
}

int cos_operation_streams(const char *name)
{
    const cos_operation *op = operations_find(name);
    return op && op->stream_body;
}

cos_task_id cos_start(cos_client *c, const char *op, cos_value *params, const cos_body *body,
                      const cos_output *output, const cos_callbacks *cb, cos_value **err)
{
    return cos_task_start(c, operations_find(op), op, params, body, output, cb, NULL, err);
}
