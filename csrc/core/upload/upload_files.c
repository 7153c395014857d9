/* upload_files: uploadFiles (docs/upload-engine.md#uploadfile-and-uploadfiles), one uploadFile
 * task per file.
 *
 * The uploadFiles task itself is not listed in the queue; each file is (its own task id, its own
 * FileParallelLimit slot). The children report to this task through plain C callbacks:
 * progress is summed into the aggregate onProgress, each finished file calls onFileFinish(err,
 * data, options) with options.Index (a string, as the SDK), and when every file has finished
 * (successfully, with an error, or canceled: a canceled task still calls back, with code
 * "TaskCanceled") the callback gets {files = {{options, error, data}, ...}} in input order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/errors.h"
#include "client.h"
#include "upload/upload.h"
#include "base/validate.h"
#include "upload/upload_files.h"

typedef struct files_state files_state;

typedef struct file_slot {
    files_state *fs;
    size_t index;
    cos_task_id id;
    double loaded, size;
    int done;
    cos_value *options, *error, *data;
} file_slot;

struct files_state {
    int refs;            /* the parent task + every child not yet released */
    cos_task *parent;    /* NULL once the parent task is gone */
    size_t n, ndone, nfailed;
    double total;
    double loaded;       /* the sum of the slots' loaded, kept as they change (no walk per event) */
    file_slot *slots;
};

/* Each file is an uploadFile task of its own (its row of the index, operations.c). */
static const cos_operation UPLOAD_FILE = {"uploadFile", cos_op_upload_file, 1, 0};

static void fs_unref(void *ud)
{
    files_state *fs = ud;
    if (!fs || --fs->refs > 0) return;
    for (size_t i = 0; i < fs->n; i++) {
        cos_value_free(fs->slots[i].options);
        cos_value_free(fs->slots[i].error);
        cos_value_free(fs->slots[i].data);
    }
    free(fs->slots);
    free(fs);
}

/* The parent's op_free: the task goes away (finished, or the client is freed). */
static void fs_parent_gone(void *ud)
{
    files_state *fs = ud;
    fs->parent = NULL;
    fs_unref(fs);
}

/* A slot's bytes so far: the aggregate follows (thousands of files: no walk over them per event). */
static void slot_loaded(file_slot *slot, double loaded)
{
    slot->fs->loaded += loaded - slot->loaded;
    slot->loaded = loaded;
}

static void child_progress(void *ud, cos_task_id id, const cos_progress *p)
{
    file_slot *slot = ud;
    files_state *fs = slot->fs;
    slot_loaded(slot, p->loaded);
    if (!fs->parent || fs->parent->finished) return;
    if (fs->parent->cb.on_file_progress) fs->parent->cb.on_file_progress(fs->parent->cb.ud, id, slot->index, p);
    if (fs->parent) cos_task_progress_update(fs->parent, fs->loaded, fs->total);
}

static void count_files(files_state *fs)
{
    if (!fs->parent) return;
    cos_task_progress *p = &fs->parent->prog;
    p->files_total = (double)fs->n;
    p->files_failed = (double)fs->nfailed;
    p->files_done = (double)(fs->ndone - fs->nfailed);
}

static cos_value *files_result(files_state *fs)
{
    cos_value *data = cos_obj_new(), *files = cos_arr_new();
    for (size_t i = 0; i < fs->n && files; i++) {
        file_slot *s = &fs->slots[i];
        cos_value *f = cos_obj_new();
        if (!f) continue;
        cos_obj_set(f, "options", s->options ? cos_value_clone(s->options) : cos_obj_new());
        cos_obj_set(f, "error", s->error ? cos_value_clone(s->error) : cos_nil_new());
        cos_obj_set(f, "data", s->data ? cos_value_clone(s->data) : cos_nil_new());
        cos_arr_push(files, f);
    }
    if (data && files) cos_obj_set(data, "files", files);
    else cos_value_free(files);
    return data;
}

static void child_done(void *ud, cos_task_id id, cos_value *err, cos_value *data)
{
    file_slot *slot = ud;
    files_state *fs = slot->fs;
    slot->done = 1;
    slot->error = err;
    slot->data = data;
    fs->ndone++;
    if (err) fs->nfailed++;
    if (slot->options) cos_obj_set_num(slot->options, "TaskId", (double)id);
    if (slot->size >= 0 && !err) slot_loaded(slot, slot->size);
    cos_task *parent = fs->parent;
    if (!parent || parent->finished) return; /* failed (cos_task_fail): its callback has the error */
    if (parent->cb.on_file_finish)
        parent->cb.on_file_finish(parent->cb.ud, id, err ? cos_value_clone(err) : NULL,
                                  data ? cos_value_clone(data) : NULL, cos_value_clone(slot->options));
    /* Throttled like every progress (the SDK fires at once after each file: with thousands of
     * small files that is thousands of calls a second); the last one comes with the result. */
    count_files(fs);
    if (fs->ndone < fs->n) cos_task_progress_update(parent, fs->loaded, fs->total);
    else cos_task_finish(parent, NULL, files_result(fs));
}

/* cos_task_fail of uploadFiles: every file still running is canceled (its upload aborted), and
 * the call finishes with err at once. */
static void fs_fail(cos_task *t, cos_value *err)
{
    files_state *fs = t->op_state;
    for (size_t i = 0; fs && i < fs->n; i++)
        if (!fs->slots[i].done && fs->slots[i].id) cos_task_cancel(t->client, fs->slots[i].id);
    cos_task_finish(t, err, NULL);
}

static void child_release(void *ud)
{
    file_slot *slot = ud;
    fs_unref(slot->fs);
}

static void child_ready(void *ud, cos_task_id id)
{
    file_slot *slot = ud;
    slot->id = id;
}

/* onFileFinish's options: the file's primitive params, Index ("0", "1", ...) and TaskId. */
static cos_value *file_options(const cos_value *file, size_t index)
{
    cos_value *o = cos_obj_new();
    if (!o) return NULL;
    for (size_t i = 0; i < cos_value_len(file); i++) {
        const cos_value *v = cos_obj_at(file, i);
        cos_vtype ty = cos_value_type(v);
        if (ty == COS_STR || ty == COS_NUM || ty == COS_BOOL) cos_obj_set(o, cos_obj_key(file, i), cos_value_clone(v));
    }
    char idx[24];
    snprintf(idx, sizeof idx, "%zu", index);
    cos_obj_set_str(o, "Index", idx);
    return o;
}

/* Every file must be an object with Bucket, Region, Key and a FilePath or a string Body. */
static cos_value *validate_files(const cos_value *files)
{
    if (cos_value_type(files) != COS_ARR) return cos_validate_error("files", "missing param files (an array of file params)");
    for (size_t i = 0; i < cos_value_len(files); i++) {
        const cos_value *f = cos_arr_get(files, i);
        cos_value *e = cos_value_type(f) == COS_OBJ ? cos_validate_object_params(f, 1)
                                                     : cos_validate_error("files", "files[%zu] must be a table", i + 1);
        if (!e && cos_value_type(cos_obj_get(f, "Body")) != COS_STR) {
            const char *fp = cos_obj_get_str(f, "FilePath");
            if (!fp || !*fp) e = cos_validate_error("FilePath", "missing param FilePath");
        }
        if (e) return cos_validate_of_file(e, i + 1);
    }
    return NULL;
}

/* Starts file i as an uploadFile task whose callbacks report to fs. */
static void start_child(cos_task *parent, files_state *fs, size_t i, const cos_value *file)
{
    file_slot *slot = &fs->slots[i];
    cos_value *p = cos_value_clone(file);
    const cos_value *slice = cos_obj_get(parent->params, "SliceSize");
    if (p && slice && !cos_obj_get(p, "SliceSize")) cos_obj_set(p, "SliceSize", cos_value_clone(slice));
    cos_body body = {.kind = COS_BODY_NONE, .fd = -1, .length = -1};
    size_t blen = 0;
    const char *bstr = cos_value_str(cos_obj_get(file, "Body"), &blen);
    if (bstr) {
        body.kind = COS_BODY_MEM;
        body.data = bstr;
        body.len = blen;
        body.length = (int64_t)blen;
        if (p) cos_value_free(cos_obj_take(p, "Body"));
    } else {
        body.kind = COS_BODY_PATH;
        body.path = cos_obj_get_str(file, "FilePath");
    }
    cos_callbacks cb = {.ud = slot, .on_done = child_done, .on_progress = child_progress,
                        .on_task_ready = child_ready, .release = child_release};
    fs->refs++;
    cos_value *err = NULL;
    cos_task_id id = cos_task_start(parent->client, &UPLOAD_FILE, UPLOAD_FILE.name, p, &body, NULL, &cb, NULL, &err);
    if (!id) { /* validated above, so out of memory: the file is reported as failed */
        slot->done = 1;
        slot->error = err ? err : cos_error_new("Error", "cannot start the upload");
        fs->ndone++;
        fs->nfailed++;
    } else {
        cos_value_free(err);
    }
}

int cos_op_upload_files(cos_task *t, cos_value **err)
{
    const cos_value *files = cos_obj_get(t->params, "files");
    cos_value *e = validate_files(files);
    if (e) {
        *err = e;
        return -1;
    }
    files_state *fs = calloc(1, sizeof *fs);
    size_t n = cos_value_len(files);
    if (!fs || !(fs->slots = calloc(n ? n : 1, sizeof *fs->slots))) {
        free(fs);
        *err = cos_error_new("Error", "out of memory");
        return -1;
    }
    fs->n = n;
    fs->refs = 1;
    fs->parent = t;
    for (size_t i = 0; i < n; i++) {
        const cos_value *f = cos_arr_get(files, i);
        file_slot *s = &fs->slots[i];
        s->fs = fs;
        s->index = i;
        s->options = file_options(f, i);
        size_t blen = 0;
        struct stat st;
        const char *fp = cos_obj_get_str(f, "FilePath");
        if (cos_value_str(cos_obj_get(f, "Body"), &blen)) s->size = (double)blen;
        else s->size = fp && stat(fp, &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : 0;
        fs->total += s->size;
    }
    t->op_state = fs;
    t->op_free = fs_parent_gone;
    t->op_fail = fs_fail;
    count_files(fs);
    cos_task_progress_now(t, 0, fs->total);
    for (size_t i = 0; i < n; i++) start_child(t, fs, i, cos_arr_get(files, i));
    if (fs->ndone == n) cos_task_finish(t, NULL, files_result(fs)); /* no file, or none could start */
    return 0;
}
