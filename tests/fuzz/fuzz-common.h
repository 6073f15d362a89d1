/* Shared helpers for the libFuzzer targets. */
#ifndef MAILOUT_FUZZ_COMMON_H
#define MAILOUT_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* An fd reading data[0..size) from the start (a memfd). */
static int
fuzz_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#endif
