/*
 * conf-values.c - the values of configuration keys and of the options
 * that set the same things on the command line: the enumerations (tls,
 * auth, queue), numbers, durations and proxy URLs.  Pure functions, no
 * libconfuse: conf.c's parse callbacks call them and add the line number.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf-internal.h"

static const char *const tls_names[] = { "starttls", "smtps", "off" };
static const char *const auth_names[] = {
	"(unset)", "off", "on", "plain", "login", "cram-md5", "xoauth2",
	"oauthbearer", "external"
};
static const char *const queue_names[] = { "never", "onfail", "always" };

static int
lookup(const char *const *names, size_t n, const char *s, size_t first)
{
	for (size_t i = first; i < n; i++)
		if (strcasecmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *conf_tls_name(enum tls_mode m) { return tls_names[m]; }
const char *conf_auth_name(enum auth_mode m) { return auth_names[m]; }
const char *conf_queue_name(enum queue_mode m) { return queue_names[m]; }

int
conf_parse_tls(const char *s)
{
	return lookup(tls_names, 3, s, 0);
}

int
conf_parse_auth(const char *s)
{
	int v = lookup(auth_names, 9, s, 1);

	/* libconfuse booleans spelled the other ways */
	if (v < 0 && (!strcasecmp(s, "true") || !strcasecmp(s, "yes")))
		v = AUTH_ON;
	if (v < 0 && (!strcasecmp(s, "false") || !strcasecmp(s, "no")))
		v = AUTH_OFF;
	return v;
}

int
conf_parse_queue(const char *s)
{
	return lookup(queue_names, 3, s, 0);
}

int
conf_parse_decimal(const char *s, long max, long *out)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int
conf_parse_duration(const char *s, long *out)
{
	char *end;
	long v, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (tolower((unsigned char)*end)) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 7 * 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v <= 0 || v > 365L * 86400 / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * The proxy schemes libcurl takes for an SMTP connection.  Anything else
 * would be refused by libcurl only when connecting, which looks like a
 * temporary failure and would keep the message queued for days.
 */
static const char *const proxy_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h"
};

int
conf_check_proxy(const char *url, char *err, size_t n)
{
	const char *sep = strstr(url, "://"), *at;
	size_t len = sep ? (size_t)(sep - url) : 0;

	if (!*url)
		return 0;       /* empty: no proxy */
	if (!sep) {
		snprintf(err, n, "'proxy' must be a URL with a scheme, such as "
			 "socks5h://127.0.0.1:1080");
		return -1;
	}
	/* libcurl takes the authority to end at the first '/', '?', '#' (and
	 * refuses a space), so such a character in an unencoded password
	 * would make it quote the whole URL, password and all, in its error
	 * message. */
	at = strrchr(sep + 3, '@');
	if (at && strcspn(sep + 3, "/?# ") < (size_t)(at - (sep + 3))) {
		snprintf(err, n, "'proxy': a '/', '?', '#' or space comes before its last '@': "
			 "percent-encode it in the user name or password (%%2F, %%3F, %%23, %%20); "
			 "a proxy URL has no path");
		return -1;
	}
	for (size_t i = 0; i < sizeof(proxy_schemes) / sizeof(proxy_schemes[0]); i++) {
		const char *host = sep + 3, *end = host + strcspn(host, "/?#");

		if (len != strlen(proxy_schemes[i]) || strncasecmp(url, proxy_schemes[i], len))
			continue;
		for (const char *p = host; p < end; p++)      /* after user:password@ */
			if (*p == '@')
				host = p + 1;
		if (host == end || *host == ':') {
			snprintf(err, n, "'proxy' names no host");
			return -1;
		}
		return 0;
	}
	snprintf(err, n, "'proxy': unknown scheme '%.*s' (one of: http, https, socks4, "
		 "socks4a, socks5, socks5h)", (int)(len > 20 ? 20 : len), url);
	return -1;
}

int
conf_proxy_display(const char *url, char *buf, size_t n)
{
	/* The last '@' anywhere after the scheme: a password may hold '/',
	 * '#' or '@' that its writer did not percent-encode, and a proxy URL
	 * has no path worth showing. */
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	const char *at = strrchr(host, '@');
	const char *start = at ? at + 1 : host;
	size_t len = strcspn(start, "/?#");

	snprintf(buf, n, "%.*s%.*s", (int)(host - url), url, (int)len, start);
	return at != NULL;
}

/*
 * tls_pin: "sha256//" and the 44 base64 characters of a SHA-256 hash,
 * several joined by ";" exactly as libcurl's CURLOPT_PINNEDPUBLICKEY splits
 * them (no spaces, nothing empty): what libcurl would not parse the same
 * way is refused at its line instead of failing every delivery (69).
 */
int
conf_pin_valid(const char *s)
{
	for (;;) {
		size_t n = 0;

		if (strncmp(s, "sha256//", 8) != 0)
			return 0;
		s += 8;
		while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '/')
			n++;
		if (n != 43 || s[n] != '=')
			return 0;
		s += n + 1;
		if (!*s)
			return 1;
		if (*s++ != ';')
			return 0;
	}
}
