/* Fuzz the -bs command parser and DATA handling.  Messages go through the
 * pipeline in dry-run mode (printed to /dev/null): nothing is delivered. */
#include "fuzz-common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "conf.h"
#include "result.h"
#include "smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	struct submission s;
	struct result r;
	int in, out;

	if (!ready) {
		res_clear(&r);
		if (conf_load_buf(&cfg, "fuzz.conf", "queue_dir = \"/tmp/mailout-fuzz-queue\"\n",
				  &r) != 0)
			abort();
		/* dry-run output goes to stdout: send it nowhere */
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		close(null);
		ready = 1;
	}
	accept_init(&s, &cfg, -1);
	s.dry_run = 1;
	in = fuzz_fd(data, size);
	out = open("/dev/null", O_WRONLY);
	res_clear(&r);
	smtpd_serve(&s, in, out, &r);
	close(in);
	close(out);
	return 0;
}
