/*
 * serverinfo.c - print a relay's greeting, capabilities and certificates.
 *
 * The certificates come from libcurl (PEM); GnuTLS parses them.  The pin
 * is "sha256//" + base64 of the SHA-256 of the certificate's
 * SubjectPublicKeyInfo, the form CURLOPT_PINNEDPUBLICKEY (tls_pin) takes.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "lazylib.h"
#include "encode.h"
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

/* The "sha256//BASE64" public-key pin of a certificate into pin; 0 or -1. */
static int
cert_pin(gnutls_x509_crt_t crt, char *pin, size_t len)
{
	unsigned char digest[32];
	size_t dlen = sizeof(digest);
	struct dynbuf b = { 0 };

	if (sym_gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, digest, &dlen) < 0)
		return -1;
	enc_base64(&b, digest, dlen);
	snprintf(pin, len, "sha256//%s", db_str(&b));
	db_free(&b);
	return 0;
}

static gnutls_x509_crt_t
cert_parse(const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t in = { (unsigned char *)pem, (unsigned)strlen(pem) };
	struct result r;

	/* Loaded already when a probe fetched the certificate. */
	if (lazy_gnutls(&r) < 0 || sym_gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (sym_gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0) {
		sym_gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

void
serverinfo_print_cert(FILE *out, size_t index, const char *pem)
{
	gnutls_x509_crt_t crt = cert_parse(pem);
	gnutls_datum_t dn;
	unsigned char digest[32];
	char pin[128];
	size_t len;

	fprintf(out, "  certificate %zu%s:\n", index, index == 0 ? " (the relay's own)" : "");
	if (!crt) {
		fprintf(out, "    (cannot parse)\n");
		return;
	}
	if (sym_gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
		fprintf(out, "    %-12s %s\n", "subject:", dn.data);
		lazy_gnutls_free(dn.data);
	}
	if (sym_gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0) {
		fprintf(out, "    %-12s %s\n", "issuer:", dn.data);
		lazy_gnutls_free(dn.data);
	}
	print_time(out, "not before:", sym_gnutls_x509_crt_get_activation_time(crt));
	print_time(out, "not after:", sym_gnutls_x509_crt_get_expiration_time(crt));
	len = sizeof(digest);
	if (sym_gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &len) >= 0) {
		fprintf(out, "    %-12s ", "SHA-256:");
		print_hex(out, digest, len);
		fputc('\n', out);
	}
	if (cert_pin(crt, pin, sizeof(pin)) == 0)
		fprintf(out, "    %-12s %s\n", "tls_pin:", pin);
	sym_gnutls_x509_crt_deinit(crt);
}

int
serverinfo_pin_matches(const char *tls_pin, const char *leaf_pem)
{
	gnutls_x509_crt_t crt = leaf_pem ? cert_parse(leaf_pem) : NULL;
	char pin[128];
	int match = 0;

	if (!crt)
		return 0;
	if (cert_pin(crt, pin, sizeof(pin)) == 0) {
		size_t n = strlen(pin);
		for (const char *p = tls_pin; *p; p += strcspn(p, ";"), p += *p == ';') {
			p += strspn(p, " ");
			if (strncmp(p, pin, n) == 0 && (p[n] == ';' || p[n] == ' ' || !p[n]))
				match = 1;
		}
	}
	sym_gnutls_x509_crt_deinit(crt);
	return match;
}

static void
print_caps(FILE *out, const char *title, char **lines, size_t n)
{
	fprintf(out, "capabilities (%s):\n", title);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s\n", strlen(lines[i]) > 4 ? lines[i] + 4 : lines[i]);
	if (n == 0)
		fprintf(out, "  (none)\n");
}

/*
 * Two questions, answered apart: does the chain verify against the trust
 * store (and name the host), and does the key match tls_pin.  Delivery
 * trusts the relay by the pin when one is set, else by the trust store:
 * "verification" is that verdict.
 */
static void
print_trust(FILE *out, const struct account *a, const struct submit_probe *p)
{
	int pinned = a->tls_pin != NULL;
	int pin_ok = pinned &&
		     serverinfo_pin_matches(a->tls_pin, p->ncerts ? p->certs[0] : NULL);

	fprintf(out, "trust store: %s%s%s\n", p->verified ? "OK" : "FAILED",
		p->verified ? "" : ": ", p->verified ? "" : p->verify_error);
	if (pinned)
		fprintf(out, "tls_pin: %s\n", pin_ok ? "matches the relay's key"
			: "DOES NOT MATCH the relay's key");
	if (pinned ? pin_ok : p->verified)
		fprintf(out, "verification: OK (by %s)\n", pinned ? "tls_pin" : "the trust store");
	else
		fprintf(out, "verification: FAILED (by %s): delivery would refuse this relay\n",
			pinned ? "tls_pin" : "the trust store");
}

int
serverinfo_print(const struct account *a, FILE *out, struct result *r)
{
	struct submit_probe p;
	int rc = submit_probe(a, &p, r);

	/* What was learnt is printed even when the probe failed half-way
	 * (STARTTLS not offered, a refusal): it is what the user needs. */
	fprintf(out, "relay %s port %ld, tls %s (account \"%s\")\n",
		p.relay ? p.relay : a->host, account_port(a),
		conf_tls_name(a->tls), a->name);
	fprintf(out, "greeting: %s\n", p.greeting ? p.greeting : "(none)");
	if (p.nehlo_plain)
		print_caps(out, "EHLO before STARTTLS", p.ehlo_plain, p.nehlo_plain);
	if (p.nehlo || !p.nehlo_plain)
		print_caps(out, p.nehlo_plain ? "EHLO after STARTTLS" : "EHLO", p.ehlo, p.nehlo);
	if (a->tls == TLS_OFF) {
		fprintf(out, "TLS: off\n");
	} else if (p.tls_desc || p.ncerts) {
		fprintf(out, "TLS: %s\n", p.tls_desc ? p.tls_desc : "(unknown)");
		print_trust(out, a, &p);
		for (size_t i = 0; i < p.ncerts; i++)
			serverinfo_print_cert(out, i, p.certs[i]);
	} else {
		fprintf(out, "TLS: not established\n");
	}
	if (rc < 0)
		fprintf(out, "error: %s\n", r->text);
	submit_probe_free(&p);
	return rc;
}
