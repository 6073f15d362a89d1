/*
 * netcheck.c - what the classifier is told about the world after a
 * transfer failed (netcheck.h).
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netcheck.h"
#include "util.h"

int
netcheck_name_unknown(const char *host)
{
	struct addrinfo hints, *ai = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (ai)
		freeaddrinfo(ai);
	return rc == EAI_NONAME || rc == EAI_NODATA;
}

int
netcheck_proxy_unresolved(const char *url)
{
	const char *h = strstr(url, "://"), *at, *end;
	struct addrinfo hints, *ai = NULL;
	char *host;
	int rc;

	h = h ? h + 3 : url;
	end = h + strcspn(h, "/?#");
	at = memrchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	if (*h == '[')
		return 0;
	host = xstrndup(h, strcspn(h, ":/?#"));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (ai)
		freeaddrinfo(ai);
	free(host);
	return rc != 0;
}

int
netcheck_no_descriptors(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE;
}
