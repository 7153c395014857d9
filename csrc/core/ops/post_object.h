/* post_object: postObject, the form upload (post_object.c); its policy (cos_post_policy) is cos.h's. */
#ifndef COS_OPS_POST_OBJECT_H
#define COS_OPS_POST_OBJECT_H
#include "task/task.h"

int cos_op_post_object(cos_task *t, cos_value **err);

#endif
