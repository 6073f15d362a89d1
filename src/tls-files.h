/*
 * tls-files.h - the account's TLS files, checked before they are used.
 *
 * The transport's side of checking an account (account_check() is
 * the configuration's): tls_trust_file, tls_cert_file and tls_key_file
 * must be readable regular files in a form GnuTLS reads (PEM; the key
 * unencrypted and matching the certificate).  A file that is not is a
 * configuration error (78) naming the key and the line that set it, found
 * before anything is spooled, sent or queued, rather than a handshake
 * failure that would look temporary and keep a message queued for days.
 * Loads GnuTLS (lazylib.h) only when the account names such a file.
 */
#ifndef MAILOUT_TLS_FILES_H
#define MAILOUT_TLS_FILES_H

#include "conf.h"
#include "result.h"

/* Check the TLS files of account a (nothing with tls = off).  Returns 0,
 * or -1 with *r set: RES_CONFIG for a file, RES_TEMPFAIL when GnuTLS
 * cannot be loaded, RES_OSERR when GnuTLS fails. */
int tls_files_check(const struct account *a, struct result *r);

#endif
