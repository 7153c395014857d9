/* xml: COS XML documents <-> cos_value trees, on top of libxml2 (see xml.h).
 *
 * Result shaping follows the Node SDK's XML parser: attributes are ignored, every value is a
 * string (no number/boolean conversion), text is not trimmed, entities are decoded, empty
 * elements become "", a repeated element becomes an array. */
#include "base/xml.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "strbuf.h"

/* NONET: never fetch anything. NOBLANKS: drop the indentation between elements (leaf text is
 * kept verbatim). No NOENT/DTDLOAD: entities are not substituted beyond the predefined ones;
 * documents with a DTD are refused outright (parse_document). NOERROR/NOWARNING: libxml2 would
 * otherwise print diagnostics on stderr through its process-wide handler. */
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* Depth limit for the recursive conversion; COS documents are at most 3-4 levels deep. */
#define MAX_DEPTH 64

/* COS streams spaces before the result of a long Complete (keep-alive), and a declaration is
 * only legal at offset 0, so leading whitespace is skipped before parsing. */
static void skip_leading_space(const char **xml, size_t *len)
{
    while (*len > 0 && (**xml == ' ' || **xml == '\t' || **xml == '\r' || **xml == '\n')) {
        (*xml)++;
        (*len)--;
    }
}

static xmlDocPtr parse_document(const char *xml, size_t len)
{
    if (!xml) return NULL;
    skip_leading_space(&xml, &len);
    if (len == 0 || len > COS_XML_MAX_INPUT || len > INT_MAX) return NULL;
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_OPTS);
    if (!doc) return NULL;
    /* COS never sends a DTD; refusing them rules out entity tricks altogether. */
    if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int has_element_child(const xmlNode *node)
{
    for (const xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return 1;
    return 0;
}

/* The element's own text (text and CDATA children, concatenated, untrimmed). */
static cos_value *element_text(const xmlNode *node)
{
    strbuf sb;
    sb_init(&sb);
    for (const xmlNode *c = node->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            if (sb_puts(&sb, (const char *)c->content) != 0) {
                sb_free(&sb);
                return NULL;
            }
        }
    }
    cos_value *v = cos_str_new(sb.data ? sb.data : "", sb.len);
    sb_free(&sb);
    return v;
}

static int name_listed(const char *name, const char *const *names)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

static cos_value *children_to_object(const xmlNode *parent, const char *const *array_fields, int depth);

static cos_value *element_to_value(const xmlNode *node, int depth)
{
    if (has_element_child(node)) return children_to_object(node, NULL, depth + 1);
    return element_text(node);
}

/* Adds `item` under `name`: first occurrence plain (or as a one-item array when forced),
 * later occurrences turn the entry into an array, keeping the entry's position. */
static int add_member(cos_value *obj, const char *name, cos_value *item, int force_array)
{
    if (!item) return -1;
    const cos_value *existing = cos_obj_get(obj, name);
    if (!existing) {
        if (!force_array) return cos_obj_set(obj, name, item);
        cos_value *arr = cos_arr_new();
        if (!arr || cos_arr_push(arr, item) != 0) {
            cos_value_free(arr);
            return -1;
        }
        return cos_obj_set(obj, name, arr);
    }
    if (cos_value_type(existing) == COS_ARR) /* only this file made arrays in `obj`, which it owns */
        return cos_arr_push((cos_value *)existing, item);
    cos_value *arr = cos_arr_new();
    if (!arr || cos_arr_push(arr, cos_value_clone(existing)) != 0 || cos_arr_push(arr, item) != 0) {
        cos_value_free(arr);
        return -1;
    }
    return cos_obj_set(obj, name, arr); /* replaces (and frees) the single value in place */
}

/* array_fields applies to this level only (the root), as the Node SDK normalises only the
 * top-level lists (Upload, Part, Contents, CommonPrefixes). */
static cos_value *children_to_object(const xmlNode *parent, const char *const *array_fields, int depth)
{
    if (depth > MAX_DEPTH) return NULL;
    cos_value *obj = cos_obj_new();
    if (!obj) return NULL;
    for (const xmlNode *c = parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const char *name = (const char *)c->name;
        if (add_member(obj, name, element_to_value(c, depth), name_listed(name, array_fields)) != 0) {
            cos_value_free(obj);
            return NULL;
        }
    }
    for (size_t i = 0; array_fields && array_fields[i]; i++) {
        if (cos_obj_get(obj, array_fields[i])) continue;
        if (cos_obj_set(obj, array_fields[i], cos_arr_new()) != 0) {
            cos_value_free(obj);
            return NULL;
        }
    }
    return obj;
}

cos_value *cos_xml_to_value_root(const char *xml, size_t len, const char *const *array_fields,
                                 char **root_name)
{
    if (root_name) *root_name = NULL;
    xmlDocPtr doc = parse_document(xml, len);
    if (!doc) return NULL;
    const xmlNode *root = xmlDocGetRootElement(doc);
    cos_value *v = children_to_object(root, array_fields, 0);
    if (v && root_name) {
        *root_name = strdup((const char *)root->name);
        if (!*root_name) {
            cos_value_free(v);
            v = NULL;
        }
    }
    xmlFreeDoc(doc);
    return v;
}

cos_value *cos_xml_to_value(const char *xml, size_t len, const char *const *array_fields)
{
    return cos_xml_to_value_root(xml, len, array_fields, NULL);
}

cos_value *cos_xml_parse_error(const char *body, size_t len)
{
    char *root = NULL;
    cos_value *v = cos_xml_to_value_root(body, len, NULL, &root);
    if (v && (!root || strcmp(root, "Error") != 0)) {
        cos_value_free(v);
        v = NULL;
    }
    free(root);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* CompleteMultipartUpload body                                                                */

/* PartNumber as decimal text: an integral number, or a string taken as is. */
static int part_number_text(const cos_value *pn, char *buf, size_t cap)
{
    if (cos_value_type(pn) == COS_NUM) {
        double n = cos_value_num(pn);
        if (!isfinite(n) || n != floor(n) || n < 0 || n > 1e15) return -1;
        snprintf(buf, cap, "%.0f", n);
        return 0;
    }
    const char *s = cos_value_str(pn, NULL);
    if (!s || !*s || strlen(s) >= cap) return -1;
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

/* The ETag with surrounding quotes (added when it does not start with one, as the SDK does). */
static char *quoted_etag(const char *etag)
{
    size_t n = strlen(etag);
    char *q = malloc(n + 3);
    if (!q) return NULL;
    if (etag[0] == '"') {
        memcpy(q, etag, n + 1);
    } else {
        q[0] = '"';
        memcpy(q + 1, etag, n);
        q[n + 1] = '"';
        q[n + 2] = '\0';
    }
    return q;
}

static int write_part(xmlTextWriterPtr w, const cos_value *part)
{
    char num[32];
    const char *etag = cos_obj_get_str(part, "ETag");
    if (cos_value_type(part) != COS_OBJ || !etag ||
        part_number_text(cos_obj_get(part, "PartNumber"), num, sizeof num) != 0)
        return -1;
    char *q = quoted_etag(etag);
    if (!q) return -1;
    int rc = 0;
    /* WriteString escapes '"' as &quot; (xmlEncodeSpecialChars), matching the SDK's body. */
    if (xmlTextWriterStartElement(w, BAD_CAST "Part") < 0 ||
        xmlTextWriterWriteElement(w, BAD_CAST "PartNumber", BAD_CAST num) < 0 ||
        xmlTextWriterWriteElement(w, BAD_CAST "ETag", BAD_CAST q) < 0 || xmlTextWriterEndElement(w) < 0)
        rc = -1;
    free(q);
    return rc;
}

char *cos_xml_complete_body(const cos_value *parts, size_t *len)
{
    if (len) *len = 0;
    if (cos_value_type(parts) != COS_ARR) return NULL;
    xmlBufferPtr buf = xmlBufferCreate();
    if (!buf) return NULL;
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    if (!w) {
        xmlBufferFree(buf);
        return NULL;
    }
    /* No xmlTextWriterStartDocument: the SDK sends no XML declaration. Indentation is off by
     * default, so the output has no whitespace at all. */
    int ok = xmlTextWriterStartElement(w, BAD_CAST "CompleteMultipartUpload") >= 0;
    for (size_t i = 0; ok && i < cos_value_len(parts); i++)
        ok = write_part(w, cos_arr_get(parts, i)) == 0;
    ok = ok && xmlTextWriterEndElement(w) >= 0 && xmlTextWriterFlush(w) >= 0;
    xmlFreeTextWriter(w); /* flushes into buf */
    char *out = NULL;
    if (ok) {
        size_t n = (size_t)xmlBufferLength(buf);
        out = malloc(n + 1);
        if (out) {
            memcpy(out, xmlBufferContent(buf), n);
            out[n] = '\0';
            if (len) *len = n;
        }
    }
    xmlBufferFree(buf);
    return out;
}
