/* Harness: the checkpoint loader (cos_cp_parse, what cos_cp_load runs on a file's text) and the
 * save/load round trip: whatever it accepts must render (cos_cp_render, what cos_cp_save writes)
 * to text that loads back to the same record and renders to the same bytes.
 * The first byte is a mode: odd, the rest is a checkpoint without its last line and the harness
 * appends the right "end <crc64>" line (so mutations reach the field parser, which a wrong CRC
 * would hide); even, the rest is the file's text as is. */
#include "fuzz.h"

#include <inttypes.h>
#include <stdio.h>

#include "upload/checkpoint.h"
#include "crc64.h"

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same(const cos_checkpoint *a, const cos_checkpoint *b)
{
    if (!same_str(a->bucket, b->bucket) || !same_str(a->region, b->region) || !same_str(a->key, b->key) ||
        !same_str(a->path, b->path) || !same_str(a->upload_id, b->upload_id) || a->size != b->size ||
        a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec || a->part_size != b->part_size ||
        a->nparts != b->nparts)
        return 0;
    for (size_t i = 0; i < a->nparts; i++) {
        const cos_cp_part *p = &a->parts[i], *q = &b->parts[i];
        if (p->number != q->number || p->size != q->size || p->crc64 != q->crc64 || strcmp(p->etag, q->etag) != 0)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int add_end = data[0] & 1;
    data++;
    size--;
    char *text = malloc(size + 40);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    if (add_end) size += (size_t)snprintf(text + size, 40, "end %016" PRIx64 "\n", cos_crc64_update(0, data, size));
    cos_checkpoint cp, again;
    int rc = cos_cp_parse(text, size, &cp);
    free(text);
    if (rc != 0) return 0;
    for (size_t i = 1; i < cp.nparts; i++)
        if (cp.parts[i - 1].number >= cp.parts[i].number) abort(); /* sorted, unique */
    strbuf one, two;
    sb_init(&one);
    sb_init(&two);
    if (cos_cp_render(&cp, &one) != 0) abort();
    if (cos_cp_parse(one.data, one.len, &again) != 0) abort(); /* parse modifies: render again below */
    sb_reset(&one);
    if (cos_cp_render(&cp, &one) != 0 || cos_cp_render(&again, &two) != 0) abort();
    if (!same(&cp, &again) || one.len != two.len || memcmp(one.data, two.data, one.len) != 0) abort();
    cos_cp_free(&again);
    cos_cp_free(&cp);
    sb_free(&one);
    sb_free(&two);
    return 0;
}
