/*
 * mime.h - MIME messages (SPEC 4): attachments, media types, compose mode
 * and attachments added to a piped message.  The encodings (base64,
 * quoted-printable, RFC 2047, RFC 2231) are in encode.h.
 */
#ifndef MAILOUT_MIME_H
#define MAILOUT_MIME_H

#include <stddef.h>

#include "address.h"
#include "result.h"

struct msg;

/* Attachments, opened up front so that a missing file fails before
 * anything is read, sent or queued. */
struct mime_attachment {
	const char *path;
	int fd;
};

/* Open every file, without blocking; RES_NOINPUT naming the first that
 * cannot be read or is no regular file (a directory, a device, a FIFO or
 * pipe, which could block for ever).  Returns 0 or -1 (files opened so
 * far are closed again). */
int mime_open_attachments(struct mime_attachment *a, size_t n, struct result *r);
void mime_close_attachments(struct mime_attachment *a, size_t n);

/* The media type for a file name: the system's mime.types, then a
 * built-in table, else application/octet-stream. */
const char *mime_type_for(const char *filename);

/* What compose mode writes (SPEC 4). */
struct mime_compose {
	const char *from;            /* From header address, or NULL (added later) */
	const char *from_name;
	const char *sender;          /* envelope sender, or NULL: only checked (ASCII) */
	const char *subject;         /* UTF-8, or NULL */
	const struct addr_list *to, *cc, *bcc;
	struct mime_attachment *att;
	size_t natt;
};

/*
 * Compose a message: the body is read from body_fd (UTF-8 text, up to its
 * end) and written as text/plain (us-ascii 7bit when it can be, else
 * utf-8 quoted-printable), followed by one base64 part per attachment
 * when there are any.  The whole message goes to out_fd with CRLF line
 * endings; every header line is 7-bit and folded.  Display names come
 * from addr_list_name().  Returns 0, or -1 with RES_USAGE (an address
 * with non-ASCII characters: mailout does not do SMTPUTF8), RES_IOERR,
 * RES_TEMPFAIL (out_fd's disk is full) or RES_NOINPUT.
 */
int mime_compose(int body_fd, const struct mime_compose *c, int out_fd, struct result *r);

/*
 * Add attachments to a message (sendmail mode with -a): the headers of m
 * (already read) are kept, Content-Type, Content-Transfer-Encoding and
 * MIME-Version move into the first part, the body becomes that part;
 * a message that is multipart/mixed already (with a boundary RFC 2046
 * allows) gets the attachments as more parts of it, before its close
 * delimiter.  Written to out_fd; the body of a multipart/mixed message
 * passes through a private temporary file in tmpdir.  Memory stays
 * bounded whatever the body's lines.  Returns 0 or -1.
 */
int mime_attach(struct msg *m, struct mime_attachment *att, size_t natt,
		const char *tmpdir, int out_fd, struct result *r);

#endif
