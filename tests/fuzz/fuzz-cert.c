/*
 * Fuzz the certificate fields --serverinfo shows (subject, issuer,
 * validity, fingerprint, pin) and the tls_pin check, through GnuTLS as
 * serverinfo.c calls it, without a network.  The first byte chooses: even,
 * the rest is DER, wrapped in PEM as libcurl hands certificates over;
 * odd, the rest is the PEM text itself.
 */
#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "serverinfo.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *out;
	struct dynbuf pem = { 0 };

	if (size == 0)
		return 0;
	if (!out && !(out = fopen("/dev/null", "w")))
		abort();
	if (data[0] % 2 == 0) {
		struct dynbuf b64 = { 0 };

		enc_base64(&b64, data + 1, size - 1);
		db_adds(&pem, "-----BEGIN CERTIFICATE-----\n");
		for (size_t i = 0; i < b64.len; i += 64) {
			db_add(&pem, b64.s + i, b64.len - i < 64 ? b64.len - i : 64);
			db_addc(&pem, '\n');
		}
		db_adds(&pem, "-----END CERTIFICATE-----\n");
		db_free(&b64);
	} else {
		db_add(&pem, data + 1, size - 1);
	}
	serverinfo_print_cert(out, data[0] / 2 % 3, db_str(&pem));
	(void)serverinfo_pin_matches("sha256//AAAA; sha256//Vd5jVQH8EmP5co2iemX2+he+LZ8OmQqUhW6"
				     "15zZFwC0=", db_str(&pem));
	db_free(&pem);
	return 0;
}
