/* test-netcheck.c - the facts classify.c is given after a failure. */
#include "config.h"

#include <sys/resource.h>
#include <unistd.h>

#include "netcheck.h"
#include "tap.h"

int
main(void)
{
	struct rlimit old, low;
	int next;

	is_int(netcheck_no_descriptors(), 0, "descriptors left: not EMFILE");
	next = dup(0);
	close(next);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)next;   /* the next descriptor is over the limit */
	if (setrlimit(RLIMIT_NOFILE, &low) == 0) {
		is_int(netcheck_no_descriptors(), 1, "ulimit -n reached: too many open files");
		setrlimit(RLIMIT_NOFILE, &old);
	} else {
		ok(1, "# SKIP cannot lower RLIMIT_NOFILE");
	}
	is_int(netcheck_proxy_unresolved("socks5h://user:pw@[::1]:1080"), 0,
	       "a bracketed literal always resolves");
	is_int(netcheck_proxy_unresolved("socks5h://127.0.0.1:1080"), 0, "an IPv4 literal resolves");
	is_int(netcheck_proxy_unresolved("http://u:p@ss@localhost:3128/"), 0,
	       "the host is after the last @ of the authority");
	is_int(netcheck_name_unknown("127.0.0.1"), 0, "an address literal exists");
	return done_testing();
}
