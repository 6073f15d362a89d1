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

#endif
