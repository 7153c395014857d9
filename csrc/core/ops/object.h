/* object: the object operations putObject, appendObject, headObject, getObject, deleteObject
 * (object.c). Each validates synchronously (-1 and *err on bad input), then starts the task. */
#ifndef COS_OPS_OBJECT_H
#define COS_OPS_OBJECT_H
#include "task/task.h"

int cos_op_put_object(cos_task *t, cos_value **err);
int cos_op_append_object(cos_task *t, cos_value **err);
int cos_op_head_object(cos_task *t, cos_value **err);
int cos_op_get_object(cos_task *t, cos_value **err);
int cos_op_delete_object(cos_task *t, cos_value **err);

#endif
