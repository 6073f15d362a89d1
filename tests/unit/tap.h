/* tap.h - a tiny TAP producer for the unit tests (header only). */
#ifndef MAILOUT_TAP_H
#define MAILOUT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	return cond;
}

#define is_str(got, want, ...) \
	(ok((got) && strcmp((got), (want)) == 0, __VA_ARGS__) ? 1 : \
	 (printf("#   got: \"%s\"\n#  want: \"%s\"\n", (got) ? (got) : "(null)", (want)), 0))
#define is_int(got, want, ...) \
	(ok((long)(got) == (long)(want), __VA_ARGS__) ? 1 : \
	 (printf("#   got: %ld\n#  want: %ld\n", (long)(got), (long)(want)), 0))

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
