/* upload: sliceUploadFile, uploadFile and uploadFiles. Stubs until the upload engine is written:
 * they fail synchronously with an "unsupported operation" error. */
#include <stdio.h>

#include "ops.h"

static int unsupported(const char *op, cos_value **err)
{
    char msg[96];
    snprintf(msg, sizeof msg, "unsupported operation: %s (not implemented yet)", op);
    *err = cos_error_new("Error", msg);
    return -1;
}

int cos_op_slice_upload_file(cos_task *t, cos_value **err) { return unsupported(t->op, err); }
int cos_op_upload_file(cos_task *t, cos_value **err) { return unsupported(t->op, err); }
int cos_op_upload_files(cos_task *t, cos_value **err) { return unsupported(t->op, err); }
