/* multipart: the six multipart operations as single requests (multipart.c). */
#ifndef COS_OPS_MULTIPART_H
#define COS_OPS_MULTIPART_H
#include "task/task.h"

int cos_op_multipart_list(cos_task *t, cos_value **err);
int cos_op_multipart_init(cos_task *t, cos_value **err);
int cos_op_multipart_upload(cos_task *t, cos_value **err);
int cos_op_multipart_list_part(cos_task *t, cos_value **err);
int cos_op_multipart_complete(cos_task *t, cos_value **err);
int cos_op_multipart_abort(cos_task *t, cos_value **err);
/* Starts a multipartAbort task with no callbacks (errors are dropped): queue.h's abort_upload. */
void cos_op_multipart_abort_upload(cos_client *c, const char *bucket, const char *region, const char *key,
                                   const char *upload_id);

#endif
