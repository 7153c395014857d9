/* mime: Content-Type from a file name or key, by its extension, from the system's MIME table
 * (/etc/mime.types, Debian's media-types package: the table every Debian program shares, kept
 * up to date by its maintainers). Used by the client (uploads without ContentType) and by cosd
 * (PUT/POST/Initiate without Content-Type), so both derive the same type for a key. */
#ifndef COS_MIME_H
#define COS_MIME_H

#define COS_MIME_TYPES_PATH "/etc/mime.types"
#define COS_MIME_DEFAULT "application/octet-stream"

typedef struct cos_mime cos_mime;

/* Reads a mime.types file ("type ext ext ..." lines, '#' comments). path NULL means
 * COS_MIME_TYPES_PATH. A missing or unreadable file gives an empty table (every lookup then
 * answers NULL), so a machine without the table still works; NULL only when out of memory.
 * The caller owns the table: mime_free. */
cos_mime *mime_load(const char *path);
void mime_free(cos_mime *m);

/* The type for name's extension (after the last '.' of the last path segment, ASCII
 * case-insensitive), or NULL when there is none or it is unknown. The string lives as long as
 * the table. */
const char *mime_lookup(const cos_mime *m, const char *name);

/* The Content-Type of an upload without one: by the extension of the file's name, else of the
 * key (either may be NULL); NULL when neither extension is known. */
const char *mime_lookup_upload(const cos_mime *m, const char *path, const char *key);

/* mime_lookup, falling back to COS_MIME_DEFAULT. */
const char *mime_type_or_default(const cos_mime *m, const char *name);

#endif
