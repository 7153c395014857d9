/* stream_source: where a stream upload's bytes come from (COS_BODY_STREAM), and how big its
 * parts are. The stream is read only from cos_poll (stream_upload.c calls cos_stream_read from
 * its pump), through the host's on_read callback or, without one, from a descriptor read with
 * poll() first so that a read never blocks. */
#ifndef COS_STREAM_SOURCE_H
#define COS_STREAM_SOURCE_H
#include <stddef.h>
#include <stdint.h>
#include "task/task.h"

typedef struct cos_stream cos_stream;

/* The source of task t's stream body (t->body.kind == COS_BODY_STREAM), created before t joins
 * the queue (which wraps t->cb). NULL on OOM. */
cos_stream *cos_stream_new(cos_task *t);
void cos_stream_free(cos_stream *s);
/* Up to cap bytes into buf: their number (> 0), 0 at the end of the stream, COS_READ_AGAIN when
 * nothing is available now, COS_READ_ERROR with *err (always set) when the stream failed. */
long cos_stream_read(cos_stream *s, void *buf, size_t cap, cos_value **err);
/* The descriptor whose readability ends a COS_READ_AGAIN, or -1 (then: ask again soon). */
int cos_stream_wait_fd(const cos_stream *s);

/* The size of part `number` (1-based) of a stream whose length is unknown, starting from
 * `chunk` bytes with at most `max_parts` parts (docs/upload-engine.md, "Streams"): the first
 * max_parts/10 parts have `chunk` bytes, then the size doubles every max_parts/100 parts, up to
 * COS's largest part (5 GiB). */
int64_t cos_stream_part_size(int64_t chunk, int max_parts, int number);

#endif
