/* Fuzz the queue's state-file parser (queue_state_parse), as a run or -bp
 * meets q/ID.state: any bytes give numbers in range and a last_error
 * without control characters, and what it reads formats
 * (queue_state_format) and parses back to the same state. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "queue-internal.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const struct queue_state *a, const struct queue_state *b)
{
	return a->attempts == b->attempts && a->last_try == b->last_try &&
	       a->next_try == b->next_try && a->created == b->created &&
	       strcmp(a->last_error, b->last_error) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_state s, again;
	struct dynbuf f = { 0 };

	queue_state_parse((const char *)data, size, &s);
	if (s.attempts < 0 || s.attempts > QUEUE_ATTEMPTS_MAX || s.last_try < 0 ||
	    s.next_try < 0 || s.created < 0)
		abort();
	for (const char *p = s.last_error; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
	queue_state_format(&f, &s);
	queue_state_parse(f.s, f.len, &again);
	if (!same(&s, &again))
		abort();
	db_free(&f);
	return 0;
}
