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

#endif
