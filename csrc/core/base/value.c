/* value: the cos_value tree used for parameters, results and errors (see cos.h).
 *
 * Objects keep their keys in insertion order in an array; from INDEX_MIN keys on they also keep
 * a hash index (open addressing, positions + 1, 0 = empty), so that building an object of n keys
 * (an XML document with many distinct elements, a large Lua table) is linear, not quadratic. The
 * index is only a cache: without one (not needed yet, out of memory, dropped by cos_obj_take)
 * lookups scan the keys. */
#include "cos.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MIN 16

struct cos_value {
    cos_vtype type;
    union {
        int b;
        double n;
        struct {
            char *p;
            size_t len;
        } s;
        struct {
            cos_value **items;
            char **keys; /* objects only */
            size_t len, cap;
            size_t *index; /* objects only: hash index (see above), NULL when none */
            size_t nindex; /* slots, a power of two, at least twice len */
        } c;
    } u;
};

static cos_value *value_alloc(cos_vtype t)
{
    cos_value *v = calloc(1, sizeof *v);
    if (v) v->type = t;
    return v;
}

cos_value *cos_nil_new(void) { return value_alloc(COS_NIL); }

cos_value *cos_bool_new(int b)
{
    cos_value *v = value_alloc(COS_BOOL);
    if (v) v->u.b = b != 0;
    return v;
}

cos_value *cos_num_new(double n)
{
    cos_value *v = value_alloc(COS_NUM);
    if (v) v->u.n = n;
    return v;
}

cos_value *cos_str_new(const char *s, size_t len)
{
    cos_value *v = value_alloc(COS_STR);
    if (!v) return NULL;
    v->u.s.p = malloc(len + 1);
    if (!v->u.s.p) {
        free(v);
        return NULL;
    }
    if (len) memcpy(v->u.s.p, s, len);
    v->u.s.p[len] = '\0';
    v->u.s.len = len;
    return v;
}

cos_value *cos_cstr_new(const char *s) { return cos_str_new(s ? s : "", s ? strlen(s) : 0); }

cos_value *cos_arr_new(void) { return value_alloc(COS_ARR); }

cos_value *cos_obj_new(void) { return value_alloc(COS_OBJ); }

void cos_value_free(cos_value *v)
{
    if (!v) return;
    if (v->type == COS_STR) free(v->u.s.p);
    if (v->type == COS_ARR || v->type == COS_OBJ) {
        for (size_t i = 0; i < v->u.c.len; i++) {
            cos_value_free(v->u.c.items[i]);
            if (v->u.c.keys) free(v->u.c.keys[i]);
        }
        free(v->u.c.items);
        free(v->u.c.keys);
        free(v->u.c.index);
    }
    free(v);
}

cos_value *cos_value_clone(const cos_value *v)
{
    if (!v) return NULL;
    switch (v->type) {
    case COS_NIL: return cos_nil_new();
    case COS_BOOL: return cos_bool_new(v->u.b);
    case COS_NUM: return cos_num_new(v->u.n);
    case COS_STR: return cos_str_new(v->u.s.p, v->u.s.len);
    case COS_ARR:
    case COS_OBJ: {
        cos_value *c = value_alloc(v->type);
        if (!c) return NULL;
        for (size_t i = 0; i < v->u.c.len; i++) {
            cos_value *item = cos_value_clone(v->u.c.items[i]);
            int rc = v->type == COS_ARR ? cos_arr_push(c, item) : cos_obj_set(c, v->u.c.keys[i], item);
            if (!item || rc != 0) {
                cos_value_free(c);
                return NULL;
            }
        }
        return c;
    }
    }
    return NULL;
}

cos_vtype cos_value_type(const cos_value *v) { return v ? v->type : COS_NIL; }

int cos_value_bool(const cos_value *v) { return v && v->type == COS_BOOL ? v->u.b : 0; }

double cos_value_num(const cos_value *v) { return v && v->type == COS_NUM ? v->u.n : 0; }

const char *cos_value_str(const cos_value *v, size_t *len)
{
    if (!v || v->type != COS_STR) return NULL;
    if (len) *len = v->u.s.len;
    return v->u.s.p;
}

size_t cos_value_len(const cos_value *v)
{
    return v && (v->type == COS_ARR || v->type == COS_OBJ) ? v->u.c.len : 0;
}

static int grow(cos_value *v)
{
    if (v->u.c.len < v->u.c.cap) return 0;
    size_t cap = v->u.c.cap ? v->u.c.cap * 2 : 8;
    cos_value **items = realloc(v->u.c.items, cap * sizeof *items);
    if (!items) return -1;
    v->u.c.items = items;
    if (v->type == COS_OBJ) {
        char **keys = realloc(v->u.c.keys, cap * sizeof *keys);
        if (!keys) return -1;
        v->u.c.keys = keys;
    }
    v->u.c.cap = cap;
    return 0;
}

int cos_arr_push(cos_value *arr, cos_value *item)
{
    if (!arr || arr->type != COS_ARR || !item || grow(arr) != 0) {
        cos_value_free(item);
        return -1;
    }
    arr->u.c.items[arr->u.c.len++] = item;
    return 0;
}

const cos_value *cos_arr_get(const cos_value *arr, size_t i)
{
    return arr && arr->type == COS_ARR && i < arr->u.c.len ? arr->u.c.items[i] : NULL;
}

static size_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (size_t)h;
}

static void index_put(cos_value *obj, size_t at)
{
    size_t mask = obj->u.c.nindex - 1;
    size_t i = key_hash(obj->u.c.keys[at]) & mask;
    while (obj->u.c.index[i]) i = (i + 1) & mask;
    obj->u.c.index[i] = at + 1;
}

static void index_drop(cos_value *obj)
{
    free(obj->u.c.index);
    obj->u.c.index = NULL;
    obj->u.c.nindex = 0;
}

/* Makes room in the index for one more key (rebuilding it at twice the size when needed); on
 * failure the object simply has no index. */
static void index_reserve(cos_value *obj)
{
    size_t need = obj->u.c.len + 1;
    if (need < INDEX_MIN) return;
    if (obj->u.c.index && obj->u.c.nindex >= 2 * need) return;
    size_t n = obj->u.c.nindex ? obj->u.c.nindex : 2 * INDEX_MIN;
    while (n < 2 * need) n *= 2;
    size_t *slots = calloc(n, sizeof *slots);
    index_drop(obj);
    if (!slots) return;
    obj->u.c.index = slots;
    obj->u.c.nindex = n;
    for (size_t i = 0; i < obj->u.c.len; i++) index_put(obj, i);
}

static long obj_find(const cos_value *obj, const char *key)
{
    if (!obj || obj->type != COS_OBJ) return -1;
    if (obj->u.c.index) {
        size_t mask = obj->u.c.nindex - 1;
        for (size_t i = key_hash(key) & mask; obj->u.c.index[i]; i = (i + 1) & mask) {
            size_t at = obj->u.c.index[i] - 1;
            if (strcmp(obj->u.c.keys[at], key) == 0) return (long)at;
        }
        return -1;
    }
    for (size_t i = 0; i < obj->u.c.len; i++)
        if (strcmp(obj->u.c.keys[i], key) == 0) return (long)i;
    return -1;
}

int cos_obj_set(cos_value *obj, const char *key, cos_value *item)
{
    if (!obj || obj->type != COS_OBJ || !item) {
        cos_value_free(item);
        return -1;
    }
    long at = obj_find(obj, key);
    if (at >= 0) {
        cos_value_free(obj->u.c.items[at]);
        obj->u.c.items[at] = item;
        return 0;
    }
    char *k = strdup(key);
    if (!k || grow(obj) != 0) {
        free(k);
        cos_value_free(item);
        return -1;
    }
    index_reserve(obj);
    obj->u.c.keys[obj->u.c.len] = k;
    obj->u.c.items[obj->u.c.len++] = item;
    if (obj->u.c.index) index_put(obj, obj->u.c.len - 1);
    return 0;
}

int cos_obj_set_str(cos_value *obj, const char *key, const char *s) { return cos_obj_set(obj, key, cos_cstr_new(s)); }

int cos_obj_set_num(cos_value *obj, const char *key, double n) { return cos_obj_set(obj, key, cos_num_new(n)); }

int cos_obj_set_bool(cos_value *obj, const char *key, int b) { return cos_obj_set(obj, key, cos_bool_new(b)); }

const cos_value *cos_obj_get(const cos_value *obj, const char *key)
{
    long at = obj_find(obj, key);
    return at >= 0 ? obj->u.c.items[at] : NULL;
}

const char *cos_obj_get_str(const cos_value *obj, const char *key) { return cos_value_str(cos_obj_get(obj, key), NULL); }

const char *cos_obj_key(const cos_value *obj, size_t i)
{
    return obj && obj->type == COS_OBJ && i < obj->u.c.len ? obj->u.c.keys[i] : NULL;
}

const cos_value *cos_obj_at(const cos_value *obj, size_t i)
{
    return obj && obj->type == COS_OBJ && i < obj->u.c.len ? obj->u.c.items[i] : NULL;
}

cos_value *cos_obj_take(cos_value *obj, const char *key)
{
    long at = obj_find(obj, key);
    if (at < 0) return NULL;
    cos_value *item = obj->u.c.items[at];
    free(obj->u.c.keys[at]);
    size_t tail = obj->u.c.len - (size_t)at - 1;
    memmove(&obj->u.c.items[at], &obj->u.c.items[at + 1], tail * sizeof *obj->u.c.items);
    memmove(&obj->u.c.keys[at], &obj->u.c.keys[at + 1], tail * sizeof *obj->u.c.keys);
    obj->u.c.len--;
    index_drop(obj); /* positions shifted; rebuilt when the object grows again */
    return item;
}
