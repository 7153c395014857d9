/* checkpoint: the on-disk record of one multipart upload, so that a later process (even after
 * kill -9) resumes it instead of starting over.
 *
 * One file per (Bucket, Region, Key, absolute FilePath), named cos-upload-<md5 hex of those>.ckpt
 * in the checkpoint directory. Text, one field per line, every value percent-encoded so that it
 * holds no blank or newline; the last line is a CRC-64 of everything above it, so a truncated or
 * edited file is ignored rather than trusted:
 *
 *   lua-cos-checkpoint 1
 *   bucket examplebucket-1250000000
 *   region ap-guangzhou
 *   key dir%2Fbig.bin
 *   path %2Fhome%2Fu%2Fbig.bin
 *   size 268435456
 *   mtime 1732457000.123456789
 *   part_size 1048576
 *   upload_id 1732457001a1b2c3...
 *   part 1 1048576 "9e107d9d372bb6826bd81d3542a419d6" 9d1c2f0e3b4a5c6d
 *   ...                         (one line per CONFIRMED part: number size etag crc64-hex)
 *   end 5f3a...                 (crc64 hex of all bytes before this line)
 *
 * A confirmed part is one whose upload returned 2xx with an ETag equal to the MD5 we computed
 * while streaming it (and a matching x-cos-hash-crc64ecma when the server sent one).
 * Writes are atomic: a temp file in the same directory, renamed over the old one. */
#ifndef COS_CHECKPOINT_H
#define COS_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "cos.h"
#include "strbuf.h"

typedef struct cos_cp_part {
    int number;      /* 1-based */
    int64_t size;
    char etag[72];   /* as the server returned it, quotes included */
    uint64_t crc64;  /* CRC-64/ECMA of the part's bytes */
} cos_cp_part;

typedef struct cos_checkpoint {
    char *bucket, *region, *key, *path; /* owned */
    int64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    int64_t part_size;
    char *upload_id;                    /* owned */
    cos_cp_part *parts;                 /* owned, sorted by number, unique */
    size_t nparts, cap;
} cos_checkpoint;

/* The checkpoint directory for a call, malloc'd; NULL when checkpoints are off. In order:
 * params.CheckpointDir; client option CheckpointDir, then ConfCwd; $XDG_CACHE_HOME/lua-cos;
 * $HOME/.cache/lua-cos. params.Checkpoint = false (or the client option Checkpoint = false)
 * turns file checkpoints off. */
char *cos_cp_dir(const cos_value *client_options, const cos_value *params);

/* dir/cos-upload-<md5(bucket \n region \n key \n path)>.ckpt, malloc'd (NULL on OOM). */
char *cos_cp_file(const char *dir, const char *bucket, const char *region, const char *key,
                  const char *path);

/* Reads `file` into *cp (zeroed first). 0, or -1 when absent, unreadable or damaged. */
int cos_cp_load(const char *file, cos_checkpoint *cp);
/* Writes *cp atomically to `file` (temp file + rename), creating its directory (0700) if needed.
 * Never fsynced: a save runs inside a cos_poll step, and an fsync would block the step on the disk
 * for milliseconds. The record survives the process being killed at any moment (the page cache
 * is the kernel's); one torn by a power loss fails its end CRC and is ignored, and the upload
 * resumes from the server's part list instead. 0 or -1. */
int cos_cp_save(const char *file, const cos_checkpoint *cp);
void cos_cp_remove(const char *file);
/* The two halves without files (fuzz/ drives them). cos_cp_parse reads the text of a checkpoint
 * file (modified in place; len bytes, a NUL at text[len] not required) into *cp, zeroed first:
 * 0 or -1 as cos_cp_load. cos_cp_render appends the text cos_cp_save writes: 0 or -1 (OOM). */
int cos_cp_parse(char *text, size_t len, cos_checkpoint *cp);
int cos_cp_render(const cos_checkpoint *cp, strbuf *sb);

/* Housekeeping, run when a new multipart upload starts: removes checkpoints (and temp files)
 * in `dir` not modified for `max_age_s` seconds (the SDK forgets its UploadIds after 30 days). */
void cos_cp_sweep(const char *dir, double max_age_s);

/* Records (or replaces) a confirmed part. 0 or -1 (OOM). */
int cos_cp_set_part(cos_checkpoint *cp, const cos_cp_part *p);
const cos_cp_part *cos_cp_find_part(const cos_checkpoint *cp, int number);
void cos_cp_clear_parts(cos_checkpoint *cp);
void cos_cp_free(cos_checkpoint *cp); /* frees the members, not cp itself */

/* The absolute form of a path (malloc'd; cwd/path when it does not exist yet): the file a
 * checkpoint belongs to. NULL on out of memory. */
char *cos_cp_abspath(const char *path);

#endif
