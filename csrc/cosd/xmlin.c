/* xmlin: parses the CompleteMultipartUpload request body with libxml2 (no network, no entities). */
#include "cosd.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

int xml_parse_complete(const char *buf, size_t len, complete_part **parts, size_t *nparts) {
    *parts = NULL;
    *nparts = 0;
    if (len == 0 || len > INT32_MAX) return -1;
    xmlDocPtr doc = xmlReadMemory(buf, (int)len, "complete.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) return -1;
    int rc = -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "CompleteMultipartUpload") != 0) goto done;
    size_t cap = 0;
    for (xmlNodePtr p = root->children; p; p = p->next) {
        if (p->type != XML_ELEMENT_NODE) continue;
        if (strcmp((const char *)p->name, "Part") != 0) goto done;
        long num = -1;
        int have_etag = 0;
        complete_part cp = {0};
        for (xmlNodePtr c = p->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE) continue;
            xmlChar *txt = xmlNodeGetContent(c);
            const char *t = txt ? (const char *)txt : "";
            if (!strcmp((const char *)c->name, "PartNumber")) {
                char *end;
                while (*t == ' ' || *t == '\n' || *t == '\t') t++;
                num = strtol(t, &end, 10);
                while (*end == ' ' || *end == '\n' || *end == '\t') end++;
                if (end == t || *end) num = -2;
            } else if (!strcmp((const char *)c->name, "ETag")) {
                snprintf(cp.etag, sizeof cp.etag, "%s", t);
                have_etag = 1;
            }
            xmlFree(txt);
        }
        if (num == -1 || num == -2 || !have_etag) goto done;
        cp.number = num;
        if (*nparts == cap) {
            cap = cap ? cap * 2 : 16;
            complete_part *np = realloc(*parts, cap * sizeof *np);
            if (!np) goto done;
            *parts = np;
        }
        (*parts)[(*nparts)++] = cp;
    }
    rc = *nparts ? 0 : -1;
done:
    xmlFreeDoc(doc);
    if (rc != 0) { free(*parts); *parts = NULL; *nparts = 0; }
    return rc;
}
