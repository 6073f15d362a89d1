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
 * Append text (UTF-8, no line breaks) to out as header content starting
 * at column col, and return the column where it ends.  ASCII text is
 * folded at white space into lines of at most 78 characters (RFC 5322
 * 2.2.3); a phrase (phrase: a display name) is first quoted when it needs
 * quoting.  Text with non-ASCII or control characters, or with a word too
 * long for a line of its own, becomes RFC 2047 "B" encoded-words in UTF-8
 * instead, each at most 72 characters, never splitting a UTF-8 sequence,
 * on lines of at most 76.
 */
size_t mime_header_text(struct dynbuf *out, const char *text, size_t col, int phrase);

/*
 * Append a mailbox at column col: "name <addr>" (the name as by
 * mime_header_text() with phrase set, the address on a continuation line
 * when it does not fit), or the bare addr when name is NULL or "".
 * Returns the column where it ends.
 */
size_t mime_mailbox(struct dynbuf *out, const char *name, const char *addr, size_t col);

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

/* Open every file; RES_NOINPUT naming the first that cannot be read or
 * is neither a regular file nor a pipe (a pipe, as from the shell's
 * "<(command)", is read once, as it streams).  Returns 0 or -1 (files
 * opened so far are closed again). */
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
 * with non-ASCII characters: mailout does not do SMTPUTF8), RES_IOERR or
 * RES_NOINPUT.
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
struct msg;
int mime_attach(struct msg *m, struct mime_attachment *att, size_t natt,
		const char *tmpdir, int out_fd, struct result *r);

#endif
