/*
 * serverinfo.c - print a relay's greeting, capabilities and certificates.
 *
 * The certificates come from libcurl (PEM); GnuTLS parses them.  The pin
 * is "sha256//" + base64 of the SHA-256 of the certificate's
 * SubjectPublicKeyInfo, the form CURLOPT_PINNEDPUBLICKEY (tls_pin) takes.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>

#include "mime.h"
#include "serverinfo.h"
#include "submit.h"
#include "util.h"

static void
print_time(FILE *out, const char *label, time_t t)
{
	char buf[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "    %-12s %s%s\n", label, buf,
		strcmp(label, "not after:") == 0 && t < time(NULL) ? "  (EXPIRED)" : "");
}

static void
print_hex(FILE *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02X%s", p[i], i + 1 < n ? ":" : "");
}

static void
print_cert(FILE *out, size_t index, const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t in = { (unsigned char *)pem, (unsigned)strlen(pem) }, dn;
	unsigned char digest[32];
	size_t len;

	fprintf(out, "  certificate %zu%s:\n", index, index == 0 ? " (the relay's own)" : "");
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0) {
		fprintf(out, "    (cannot parse)\n");
		gnutls_x509_crt_deinit(crt);
		return;
	}
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
		fprintf(out, "    %-12s %s\n", "subject:", dn.data);
		gnutls_free(dn.data);
	}
	if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0) {
		fprintf(out, "    %-12s %s\n", "issuer:", dn.data);
		gnutls_free(dn.data);
	}
	print_time(out, "not before:", gnutls_x509_crt_get_activation_time(crt));
	print_time(out, "not after:", gnutls_x509_crt_get_expiration_time(crt));
	len = sizeof(digest);
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &len) >= 0) {
		fprintf(out, "    %-12s ", "SHA-256:");
		print_hex(out, digest, len);
		fputc('\n', out);
	}
	len = sizeof(digest);
	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, digest, &len) >= 0) {
		struct dynbuf b = { 0 };
		mime_base64(&b, digest, len);
		fprintf(out, "    %-12s sha256//%s\n", "tls_pin:", db_str(&b));
		db_free(&b);
	}
	gnutls_x509_crt_deinit(crt);
}

int
serverinfo_print(const struct account *a, FILE *out, struct result *r)
{
	struct submit_probe p;

	if (submit_probe(a, &p, r) < 0) {
		submit_probe_free(&p);
		return -1;
	}
	fprintf(out, "relay %s port %ld, tls %s (account \"%s\")\n", a->host, conf_port(a),
		conf_tls_name(a->tls), a->name);
	fprintf(out, "greeting: %s\n", p.greeting ? p.greeting : "(none)");
	fprintf(out, "capabilities (EHLO%s):\n", a->tls == TLS_STARTTLS ? " after STARTTLS" : "");
	for (size_t i = 0; i < p.nehlo; i++)
		fprintf(out, "  %s\n", strlen(p.ehlo[i]) > 4 ? p.ehlo[i] + 4 : p.ehlo[i]);
	if (a->tls != TLS_OFF) {
		fprintf(out, "TLS: %s\n", p.tls_desc ? p.tls_desc : "(unknown)");
		fprintf(out, "verification: %s%s%s\n", p.verified ? "OK" : "FAILED",
			p.verified ? "" : ": ", p.verified ? "" : p.verify_error);
		for (size_t i = 0; i < p.ncerts; i++)
			print_cert(out, i, p.certs[i]);
	} else {
		fprintf(out, "TLS: off\n");
	}
	submit_probe_free(&p);
	return 0;
}
