/* bucket: getBucket, the object listing (bucket.c). */
#ifndef COS_OPS_BUCKET_H
#define COS_OPS_BUCKET_H
#include "task/task.h"

int cos_op_get_bucket(cos_task *t, cos_value **err);

#endif
