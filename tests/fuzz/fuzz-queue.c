/* Fuzz the queue file's envelope parser (queue_env_read), as a queue run
 * meets it in q/ID: what it accepts must format and read back to the same
 * envelope (queue_env_format, then queue_env_read again). */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_env e, again;
	struct dynbuf f1 = { 0 }, f2 = { 0 };
	struct result r;
	off_t off = -1, off2 = -1;
	int fd = fuzz_fd(data, size);

	if (fd < 0)
		return 0;
	res_clear(&r);
	if (queue_env_read(fd, &e, &off, &r) == 0) {
		if (off < 0 || (size_t)off > size || !e.sender || e.rcpts.n == 0)
			abort();
		queue_env_format(&f1, &e);
		int fd2 = fuzz_fd((const uint8_t *)f1.s, f1.len);
		res_clear(&r);
		if (queue_env_read(fd2, &again, &off2, &r) != 0 || (size_t)off2 != f1.len)
			abort();
		queue_env_format(&f2, &again);
		if (f1.len != f2.len || memcmp(f1.s, f2.s, f1.len) != 0)
			abort();
		queue_env_free(&again);
		close(fd2);
		queue_env_free(&e);
	}
	db_free(&f1);
	db_free(&f2);
	close(fd);
	return 0;
}
