/* upload_files: uploadFiles, one uploadFile task per file under one aggregate task (upload_files.c). */
#ifndef COS_UPLOAD_UPLOAD_FILES_H
#define COS_UPLOAD_UPLOAD_FILES_H
#include "task/task.h"

int cos_op_upload_files(cos_task *t, cos_value **err);

#endif
