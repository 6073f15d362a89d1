/* Unit tests for serverinfo.c's certificate fields and pin check, on a
 * fixed self-signed certificate (made with openssl req -x509, P-256). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serverinfo.h"
#include "tap.h"
#include "util.h"

static const char cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBtDCCAVmgAwIBAgIUNup/tbbeDU0S1yTABP48Yj7tXwYwCgYIKoZIzj0EAwIw\n"
	"LzEVMBMGA1UECgwMTWFpbG91dCBUZXN0MRYwFAYDVQQDDA1yZWxheS5leGFtcGxl\n"
	"MB4XDTI2MTIwNzA4MDY0MFoXDTM2MTIwNDA4MDY0MFowLzEVMBMGA1UECgwMTWFp\n"
	"bG91dCBUZXN0MRYwFAYDVQQDDA1yZWxheS5leGFtcGxlMFkwEwYHKoZIzj0CAQYI\n"
	"KoZIzj0DAQcDQgAEIzjgO17TFCHsZpAvcNz5CBzsfNkIazENqonylMenCJSwpkc5\n"
	"n3V8y2FPAQpBh1vwECRrGgouojUrHpCaMjIauaNTMFEwHQYDVR0OBBYEFHRY73z+\n"
	"iDFCWQ1lg25hxmY6vTOkMB8GA1UdIwQYMBaAFHRY73z+iDFCWQ1lg25hxmY6vTOk\n"
	"MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAKz//P7D2xNMJlPo\n"
	"X+pwM0rPWB1Ib5KIrg7MT8bpFeOSAiEAiSyCG83hZKuf3C08njVY13wIdckv2s2c\n"
	"eVlNtQ+MbVQ=\n"
	"-----END CERTIFICATE-----\n";

/* openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256 | base64 */
#define PIN "sha256//Vd5jVQH8EmP5co2iemX2+he+LZ8OmQqUhW615zZFwC0="
#define OTHER "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static char *
fields(size_t index, const char *pem)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	serverinfo_print_cert(f, index, pem);
	fclose(f);
	return buf;
}

int
main(void)
{
	char *s = fields(0, cert);

	ok(strstr(s, "  certificate 0 (the relay's own):\n") != NULL, "the leaf is named");
	ok(strstr(s, "    subject:     CN=relay.example,O=Mailout Test\n") &&
	   strstr(s, "    issuer:      CN=relay.example,O=Mailout Test\n"),
	   "subject and issuer in RFC 4514 form");
	ok(strstr(s, "    not before:  2026-12-07 08:06:40 UTC\n") &&
	   strstr(s, "    not after:   2036-12-04 08:06:40 UTC\n"), "validity in UTC");
	ok(strstr(s, "    SHA-256:     E3:87:A8:0B:2E:DD:9A:DB:47:3B:5A:6A:58:1C:04:EC:93:47:"
		  "46:8B:89:16:B4:96:8B:2C:69:BB:2D:9D:61:95\n") != NULL,
	   "the SHA-256 fingerprint, as openssl x509 -fingerprint gives it");
	ok(strstr(s, "    tls_pin:     " PIN "\n") != NULL, "the public-key pin, as openssl gives it");
	ok(strstr(s, "EXPIRED") == NULL, "not expired");
	if (tap_failed)
		printf("# %s", s);
	free(s);

	s = fields(1, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	ok(!strcmp(s, "  certificate 1:\n    (cannot parse)\n"), "garbage: cannot parse");
	free(s);

	ok(serverinfo_pin_matches(PIN, cert) == 1, "its own pin matches");
	ok(serverinfo_pin_matches(OTHER "; " PIN, cert) == 1 &&
	   serverinfo_pin_matches(OTHER ";" PIN " ", cert) == 1, "one of several pins matches");
	ok(serverinfo_pin_matches(OTHER, cert) == 0, "another pin does not");
	ok(serverinfo_pin_matches(PIN "x", cert) == 0 &&
	   serverinfo_pin_matches("sha256//Vd5jVQH8EmP5co2iemX2", cert) == 0,
	   "a pin that only starts or ends like it does not");
	ok(serverinfo_pin_matches(PIN, NULL) == 0 && serverinfo_pin_matches(PIN, "junk") == 0,
	   "no or an unreadable certificate matches nothing");
	return done_testing();
}
