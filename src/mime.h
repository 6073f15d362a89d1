/*
 * mime.h - MIME encoders: RFC 2047 encoded-words for header text.
 */
#ifndef MAILOUT_MIME_H
#define MAILOUT_MIME_H

#include <stddef.h>

struct dynbuf;

/* 1 when s has a byte outside printable US-ASCII (or a control char). */
int mime_needs_encoding(const char *s);

/*
 * Append text to out as header content.  ASCII text is appended as it is
 * (a phrase is quoted when it needs quoting); otherwise as RFC 2047
 * "B" encoded-words in UTF-8, each at most 75 characters, never splitting
 * a UTF-8 sequence, separated by CRLF SP folding so that no line exceeds
 * 76 characters.  col is the column where the text starts.
 * phrase: the text is a display name (quote specials when ASCII).
 */
void mime_header_text(struct dynbuf *out, const char *text, size_t col, int phrase);

/* Standard base64 of in[0..n) appended to out, no line breaks. */
void mime_base64(struct dynbuf *out, const unsigned char *in, size_t n);

#include "address.h"
#include "result.h"

/* Attachments, opened up front so that a missing file fails before
 * anything is read, sent or queued. */
struct mime_attachment {
	const char *path;
	int fd;
};

/* Open every file; RES_NOINPUT naming the first that cannot be read.
 * Returns 0 or -1 (files opened so far are closed again). */
int mime_open_attachments(struct mime_attachment *a, size_t n, struct result *r);
void mime_close_attachments(struct mime_attachment *a, size_t n);

/* The media type for a file name: the system's mime.types, then a
 * built-in table, else application/octet-stream. */
const char *mime_type_for(const char *filename);

/* What compose mode writes (SPEC 4). */
struct mime_compose {
	const char *from;            /* From header address, or NULL (added later) */
	const char *from_name;
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
 * endings.  Returns 0, or -1 with RES_IOERR / RES_DATAERR.
 */
int mime_compose(int body_fd, const struct mime_compose *c, int out_fd, struct result *r);

/*
 * Add attachments to a message (sendmail mode with -a): the headers of m
 * (already read) are kept, Content-Type, Content-Transfer-Encoding and
 * MIME-Version move into the first part, the body becomes that part;
 * a message that is multipart/mixed already gets the attachments as more
 * parts of it.  Written to out_fd; the body passes through a private
 * temporary file in tmpdir.  Returns 0 or -1.
 */
struct msg;
int mime_attach(struct msg *m, struct mime_attachment *att, size_t natt,
		const char *tmpdir, int out_fd, struct result *r);

#endif
