/*
 * encode.h - the encodings of mail text: base64, quoted-printable, header
 * folding and quoted phrases (RFC 5322), encoded-words (RFC 2047) and
 * parameters (RFC 2231).  Pure functions on memory: no I/O, no other
 * module of mailout but util's buffer.  Output lines end in CRLF.
 */
#ifndef MAILOUT_ENCODE_H
#define MAILOUT_ENCODE_H

#include <stddef.h>

struct dynbuf;

/* The line length a header should keep to (RFC 5322 2.1.1). */
#define ENC_LINE_SOFT 78

/* Standard base64 (RFC 4648 4) of in[0..n) appended to out, no line breaks. */
void enc_base64(struct dynbuf *out, const unsigned char *in, size_t n);

/* 1 when s has a byte outside printable US-ASCII (or a control char). */
int enc_needs_encoding(const char *s);

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
size_t enc_utf8_len(unsigned char c);

/*
 * Quote a display name for a header if it needs it (RFC 5322 specials or
 * leading/trailing spaces): appends the phrase to out as-is or as a
 * quoted-string.  Non-ASCII names must be RFC 2047 encoded by the caller
 * (enc_header_text() does both).
 */
void enc_phrase(struct dynbuf *out, const char *name);

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
size_t enc_header_text(struct dynbuf *out, const char *text, size_t col, int phrase);

/*
 * Append a mailbox at column col: "name <addr>" (the name as by
 * enc_header_text() with phrase set, the address on a continuation line
 * when it does not fit), or the bare addr when name is NULL or "".
 * Returns the column where it ends.
 */
size_t enc_mailbox(struct dynbuf *out, const char *name, const char *addr, size_t col);

/*
 * Quoted-printable (RFC 2045 6.7), streamed: lines of at most 76
 * characters with soft breaks, "=" and non-printable bytes as =XX, CRLF
 * and LF as hard line breaks, a lone CR as =0D, and a "." or "F" (of
 * "From ") at a line start encoded, so that no relay alters them.  White
 * space before a hard line break (or the end) is encoded.  State carries
 * across enc_qp_feed() calls; enc_qp_finish() ends the text (with a soft
 * break when it did not end with a line break) and resets the state.
 */
struct enc_qp {
	size_t col;     /* characters on the current output line */
	int ws;         /* a space or tab held back (not yet known trailing), or -1 */
	int cr;         /* a CR not yet known to start a CRLF */
};
void enc_qp_init(struct enc_qp *q);
void enc_qp_feed(struct enc_qp *q, const void *in, size_t n, struct dynbuf *out);
void enc_qp_finish(struct enc_qp *q, struct dynbuf *out);

/*
 * Append one file name parameter, ";" CRLF TAB param=value: an ASCII
 * value that fits on the line as a quoted string, any other per RFC 2231
 * (UTF-8, percent-encoded, in numbered continuations when too long for a
 * line, never cutting a %XX triplet).
 */
void enc_name_param(struct dynbuf *d, const char *param, const char *value);

#endif
