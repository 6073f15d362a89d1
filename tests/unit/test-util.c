/* Unit tests for util.c. */
#include "config.h"

#include "tap.h"
#include "util.h"

int
main(void)
{
	return done_testing();
}
