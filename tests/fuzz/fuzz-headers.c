/* Fuzz the input converter, the header scanner and -t recipient extraction. */
#include "fuzz-common.h"

#include <fcntl.h>
#include <stdlib.h>

#include "address.h"
#include "message.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_list rcpts = { 0 };
	struct result r;
	struct msg m;
	char *from;
	int fd = fuzz_fd(data, size);

	if (fd < 0)
		return 0;
	res_clear(&r);
	msg_init(&m, fd, size > 0 && (data[0] & 1));
	if (msg_read_headers(&m, &r) == 0) {
		msg_header_recipients(&m, &rcpts, &r);
		from = msg_from_address(&m, &r);
		free(from);
		int out = open("/dev/null", O_WRONLY);
		msg_copy_body(&m, out, &r);
		close(out);
	}
	addr_list_free(&rcpts);
	msg_free(&m, 0);
	close(fd);
	return 0;
}
