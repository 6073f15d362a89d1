/*
 * mime-out.h - what compose mode (mime.c) and attachments added to a piped
 * message (attach.c) share: a buffered writer and the attachment parts.
 * Internal to the MIME module; everything else uses mime.h.
 */
#ifndef MAILOUT_MIME_OUT_H
#define MAILOUT_MIME_OUT_H

#include <stddef.h>

#include "mime.h"
#include "util.h"

/* Output to fd through a 64 KiB buffer.  The first write error is kept in
 * failed (an errno value) and later output is dropped: check it once, after
 * the last mime_out_flush(). */
struct mime_out {
	int fd;
	struct dynbuf b;
	int failed;
};

void mime_out_flush(struct mime_out *o);
void mime_out_add(struct mime_out *o, const void *p, size_t n);
void mime_out_adds(struct mime_out *o, const char *s);

/* A fresh multipart boundary ("=_mailout_" and 24 random hex digits) in
 * b[0..len). */
void mime_make_boundary(char *b, size_t len);

/*
 * The parts for att[0..n) (headers, base64 in 76-column lines, streamed),
 * then, when close is 1, the close delimiter.  lead goes before the first
 * delimiter: "\r\n" when the content before it ends with a line break of
 * its own (the delimiter's CRLF must not eat it).  0, or -1 when an
 * attachment cannot be read (errno set).
 */
int mime_write_parts(struct mime_out *o, const char *boundary, struct mime_attachment *att,
		     size_t n, const char *lead, int close);

#endif
