/*
 * netcheck.h - the facts about names and descriptors that classify.c is
 * given, found after a transfer failed (classify.c does no I/O itself).
 */
#ifndef MAILOUT_NETCHECK_H
#define MAILOUT_NETCHECK_H

/* 1 when host does not exist (getaddrinfo: EAI_NONAME, EAI_NODATA), 0 when
 * it resolves or the lookup failed for now. */
int netcheck_name_unknown(const char *host);

/* 1 when the host name in the proxy URL does not resolve (a bracketed
 * literal always does). */
int netcheck_proxy_unresolved(const char *url);

/* 1 when this process can open no more descriptors (EMFILE, ENFILE):
 * libcurl reports a socket() that failed so as a failed connection. */
int netcheck_no_descriptors(void);

#endif
