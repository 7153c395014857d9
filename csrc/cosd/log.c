/* log: the access log, one line per finished request:
 * method target status bytes_in bytes_out request_id (status 0 = connection reset by a fault). */
#include "cosd.h"
#include <inttypes.h>

void log_access(cosd_req *r) {
    cosd_server *srv = r->srv;
    if (!srv || !srv->access_log) return;
    pthread_mutex_lock(&srv->log_lock);
    fprintf(srv->access_log, "%s ", r->method ? r->method : "-");
    /* the target is raw bytes from the wire: keep the line one token by escaping blanks and controls */
    for (const unsigned char *p = (const unsigned char *)(r->target ? r->target : "-"); *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) fprintf(srv->access_log, "%%%02X", *p);
        else fputc(*p, srv->access_log);
    }
    fprintf(srv->access_log, " %u %" PRIu64 " %" PRIu64 " %s\n", r->status, r->bytes_in, r->bytes_out,
            r->reqid[0] ? r->reqid : "-");
    fflush(srv->access_log);
    pthread_mutex_unlock(&srv->log_lock);
}
