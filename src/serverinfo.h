/*
 * serverinfo.h - --serverinfo: what a relay offers and which certificate
 * it presents, with the public-key pin to paste into tls_pin.
 */
#ifndef MAILOUT_SERVERINFO_H
#define MAILOUT_SERVERINFO_H

#include <stdio.h>

#include "conf.h"
#include "result.h"

/* Probe the account's relay and print the report to out.  Returns 0, or
 * -1 with *r when the relay could not be reached or talked to. */
int serverinfo_print(const struct account *a, FILE *out, struct result *r);

/*
 * The fields of one certificate (PEM, as libcurl gives it) as the report
 * shows them: subject, issuer, validity (EXPIRED when past), SHA-256
 * fingerprint and the tls_pin; "(cannot parse)" for what GnuTLS cannot
 * import.  index 0 is the relay's own.  GnuTLS is loaded if need be.
 */
void serverinfo_print_cert(FILE *out, size_t index, const char *pem);

/* 1 when the key of the certificate leaf_pem (NULL: none) is one of the
 * pins in tls_pin ("sha256//A;sha256//B", as CURLOPT_PINNEDPUBLICKEY
 * takes them), else 0. */
int serverinfo_pin_matches(const char *tls_pin, const char *leaf_pem);

#endif
