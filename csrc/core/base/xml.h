/* xml: libxml2-backed conversion between COS XML documents and cos_value trees.
 * Parsing never touches the network, expands only the predefined entities and refuses inputs
 * larger than COS_XML_MAX_INPUT. Building uses libxml2's writer, so escaping is libxml2's. */
#ifndef COS_XML_H
#define COS_XML_H
#include <stddef.h>
#include "cos.h"

/* Response bodies bigger than this are not parsed (COS list pages are far below it). */
#define COS_XML_MAX_INPUT (64u * 1024u * 1024u)

/* The ROOT element's children as an object: leaf element -> string (its text, "" when empty),
 * element with child elements -> object, repeated name -> array. Names in `array_fields`
 * (NULL-terminated, may be NULL) are ALWAYS arrays, at any depth, and an absent one becomes an
 * empty array on the root object. Returns NULL on malformed or oversized input. */
cos_value *cos_xml_to_value(const char *xml, size_t len, const char *const *array_fields);

/* Same, and *root_name (if non-NULL) receives the root element's name (malloc'd, caller frees). */
cos_value *cos_xml_to_value_root(const char *xml, size_t len, const char *const *array_fields,
                                 char **root_name);

/* The fields of a COS <Error> document: {Code, Message, Resource, RequestId, TraceId, ...every
 * other child such as StringToSign, ServerTime}. NULL when the body is not an <Error> document. */
cos_value *cos_xml_parse_error(const char *body, size_t len);

/* <CompleteMultipartUpload><Part><PartNumber>N</PartNumber><ETag>"hex"</ETag></Part>...
 * from an array of {PartNumber (number or string), ETag}. No XML declaration, no whitespace;
 * ETags get surrounding quotes when they have none. Returns a malloc'd NUL-terminated string
 * (length in *len if non-NULL), or NULL on bad input / out of memory. */
char *cos_xml_complete_body(const cos_value *parts, size_t *len);

#endif
