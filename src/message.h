/*
 * message.h - standard input to spool file.
 *
 * The message is read in two steps.  msg_read_headers() reads the header
 * section into memory (normalising line endings); the caller then decides
 * account and envelope (which may depend on the headers: -t,
 * --read-envelope-from).  msg_spool() writes the final message to a
 * private file: the kept headers byte for byte, then the added ones
 * (From, Date, Message-ID when missing), a blank line and the body,
 * streamed from the input with bounded memory.
 *
 * Input rules (SPEC 3): LF, CRLF and mixed line endings all become CRLF;
 * a lone CR is kept in the body (refused in headers); without -i a line
 * holding a single "." ends the input; a leading mbox "From " line is
 * dropped; a first line that is not a header starts the body.
 */
#ifndef MAILOUT_MESSAGE_H
#define MAILOUT_MESSAGE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"
#include "result.h"

/* Largest header section accepted (RES_DATAERR beyond). */
#define MSG_MAX_HEADER_BYTES (16u * 1024 * 1024)

struct msg_header {
	char *raw;        /* "Name: value\r\n" plus continuation lines, CRLF */
	size_t len;
	size_t namelen;   /* length of "Name" */
	int drop;         /* 1: not written to the spool (Bcc, replaced From) */
	size_t cap;       /* bytes allocated at raw (grows geometrically) */
};

struct msg_input;         /* buffered, normalising reader (message.c) */

struct msg {
	struct msg_header *h;
	size_t nh, caph;
	size_t header_bytes;
	int input_ended;          /* lone dot or EOF seen while reading headers */
	struct msg_input *in;

	/* After msg_spool(): */
	char *path;               /* the spool file */
	int fd;                   /* open on it (read-write), at data_offset; -1 before */
	off_t data_offset;        /* where the message starts (after the envelope) */
	off_t size;               /* bytes of the message (from data_offset) */
};

/* Start reading from fd (not closed by msg_free). */
void msg_init(struct msg *m, int fd, int ignore_dots);

/* Read the header section.  Returns 0, or -1 with RES_DATAERR (NUL or a
 * lone CR in a header, header section too large) or RES_IOERR. */
int msg_read_headers(struct msg *m, struct result *r);

/* The first header called name (case-insensitive), or NULL. */
struct msg_header *msg_find(const struct msg *m, const char *name);

/* Pointer to the value of h (after the colon) and its length, CRLFs of
 * folding included, final CRLF excluded. */
const char *msg_value(const struct msg_header *h, size_t *len);

/* 1 when the message has a Resent- header (so -t reads Resent-To, -Cc, -Bcc). */
int msg_is_resent(const struct msg *m);

/*
 * -t: append the recipients of To, Cc and Bcc (or of Resent-To,
 * Resent-Cc and Resent-Bcc when any Resent- header exists) to out.
 * Returns 0, or -1 with RES_DATAERR when an address list is malformed.
 */
int msg_header_recipients(const struct msg *m, struct addr_list *out,
			  struct result *r);

/* The first address of the From header (for --read-envelope-from), as a
 * malloc'd string; NULL with RES_DATAERR when absent or malformed. */
char *msg_from_address(const struct msg *m, struct result *r);

/* What msg_spool() adds or changes. */
struct msg_fix {
	const char *from_addr;    /* for an added From header, or NULL */
	const char *from_name;    /* its display name (-F, from_name), or NULL */
	int rewrite_from;         /* replace an existing From with the above */
	const char *id_domain;    /* right side of an added Message-ID */
};

/*
 * Write the message to a new private (0600) file in dir: first envelope
 * (the queue's envelope block, may be NULL), then the message with Bcc,
 * Resent-Bcc and Return-Path removed and what fix asks for added, the body streamed
 * from the input.  Not fsync'd (the queue does that when it keeps the
 * file).  On success m->path, m->fd, m->data_offset and m->size are set.
 * Returns 0, or -1 with RES_CANTCREAT / RES_IOERR, or RES_TEMPFAIL when
 * the disk or a quota is full (disk_full_errno()): the message must not
 * be sent from a spool file that could not be completed.
 */
int msg_spool(struct msg *m, const char *dir, const char *envelope,
	      const struct msg_fix *fix, struct result *r);

/* After msg_read_headers(): copy the rest of the input (the body, with
 * CRLF line endings, up to a lone dot unless ignore_dots) to fd.
 * Returns 0, or -1 with RES_IOERR. */
int msg_copy_body(struct msg *m, int fd, struct result *r);

/* A date as RFC 5322 writes it ("Mon, 07 Dec 2026 08:00:00 +0000"), local time. */
void msg_date(time_t t, char *buf, size_t n);

/* Append "<prefix>Date: now" and "<prefix>Message-ID: <unique@domain>"
 * header lines (CRLF), as msg_spool() adds them (prefix "" or "Resent-"). */
struct dynbuf;
void msg_add_date(struct dynbuf *d, const char *prefix);
void msg_add_message_id(struct dynbuf *d, const char *prefix, const char *domain);

/* Release everything; removes the spool file unless keep is set. */
void msg_free(struct msg *m, int keep);

/*
 * The input converter, exposed for tests: LF and CRLF become CRLF, a lone
 * CR stays, and (unless ignore_dots) a line holding a single "." ends the
 * input.  State carries across calls.
 */
struct dynbuf;
struct msg_conv {
	int ignore_dots;
	int pending_cr;   /* a CR was seen and not yet written */
	int at_bol;       /* at the start of a line */
	int dot;          /* 1: "." at line start held back; 2: ".\r" */
	int ended;        /* a lone dot ended the input */
};
void msg_conv_init(struct msg_conv *c, int ignore_dots);
/* Convert in[0..n), appending to out.  Returns the bytes consumed: n, or
 * fewer when a lone dot ended the input (c->ended is then set). */
size_t msg_conv_feed(struct msg_conv *c, const char *in, size_t n,
		     struct dynbuf *out);
/* At the end of the input: write what is held back and end the last
 * line with CRLF. */
void msg_conv_finish(struct msg_conv *c, struct dynbuf *out);

#endif
