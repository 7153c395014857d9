/* ops: the single-request operation handlers (the index of every operation: operations.c).
 * Each validates synchronously (-1 and *err on bad input) then starts the task (see task.h). */
#ifndef COS_OPS_H
#define COS_OPS_H
#include "task/task.h"

/* object.c */
int cos_op_put_object(cos_task *t, cos_value **err);
int cos_op_append_object(cos_task *t, cos_value **err);
int cos_op_head_object(cos_task *t, cos_value **err);
int cos_op_get_object(cos_task *t, cos_value **err);
int cos_op_delete_object(cos_task *t, cos_value **err);

/* bucket.c */
int cos_op_get_bucket(cos_task *t, cos_value **err);

/* post_object.c */
int cos_op_post_object(cos_task *t, cos_value **err);

/* multipart.c */
int cos_op_multipart_list(cos_task *t, cos_value **err);
int cos_op_multipart_init(cos_task *t, cos_value **err);
int cos_op_multipart_upload(cos_task *t, cos_value **err);
int cos_op_multipart_list_part(cos_task *t, cos_value **err);
int cos_op_multipart_complete(cos_task *t, cos_value **err);
int cos_op_multipart_abort(cos_task *t, cos_value **err);
/* Starts a multipartAbort task with no callbacks (errors are dropped): queue.h's abort_upload. */
void cos_op_multipart_abort_upload(cos_client *c, const char *bucket, const char *region, const char *key,
                                   const char *upload_id);

/* upload.c */
int cos_op_slice_upload_file(cos_task *t, cos_value **err);
int cos_op_upload_file(cos_task *t, cos_value **err);

/* upload_files.c */
int cos_op_upload_files(cos_task *t, cos_value **err);

#endif
