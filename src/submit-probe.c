/*
 * submit-probe.c - --serverinfo's look at a relay (submit_probe()): the
 * session of submit.c with a NOOP instead of a message, certificates kept.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "submit-internal.h"
#include "util.h"

static size_t
discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

/* A NOOP instead of a message, certificates kept; the trust store alone
 * decides "verified" (serverinfo.c compares the key with tls_pin itself). */
static int
probe_setopts(struct submit *s, int verify, struct result *r)
{
	SET(long, CURLOPT_UPLOAD, 0L);
	SET(str, CURLOPT_CUSTOMREQUEST, "NOOP");
	SET(long, CURLOPT_NOBODY, 0L);
	SET(write, CURLOPT_WRITEFUNCTION, discard);
	SET(long, CURLOPT_CERTINFO, 1L);
	SET(str, CURLOPT_PINNEDPUBLICKEY, NULL);
	SET(long, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	SET(long, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	return 0;
}

/* One NOOP transaction; records into p.  Returns the libcurl code. */
static CURLcode
probe_once(struct submit *s, struct submit_probe *p, int verify)
{
	struct curl_certinfo *ci = NULL;
	struct result ignored;
	CURLcode c;

	s->tr.probe = p;
	smtp_trace_reset(&s->tr);
	s->errbuf[0] = '\0';
	res_clear(&ignored);
	(void)probe_setopts(s, verify, &ignored);   /* as a message would go */
	c = sym_curl_easy_perform(s->h);
	if (s->a->tls != TLS_OFF && sym_curl_easy_getinfo(s->h, CURLINFO_CERTINFO, &ci) == CURLE_OK &&
	    ci && ci->num_of_certs > 0) {
		for (size_t i = 0; i < p->ncerts; i++)
			free(p->certs[i]);
		free(p->certs);
		p->certs = xcalloc((size_t)ci->num_of_certs, sizeof(char *));
		p->ncerts = 0;
		for (int i = 0; i < ci->num_of_certs; i++)
			for (struct curl_slist *l = ci->certinfo[i]; l; l = l->next)
				if (!strncmp(l->data, "Cert:", 5))
					p->certs[p->ncerts++] = xstrdup(l->data + 5);
	}
	return c;
}

int
submit_probe(const struct account *a, struct submit_probe *p, struct result *r)
{
	struct account plain;
	struct submit *s;
	CURLcode c;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	/* Inspect only: no credentials are fetched or sent. */
	account_copy(&plain, a);
	plain.auth = AUTH_OFF;
	if (submit_global_init(r) < 0)
		goto out;
	if (!(s = submit_new(&plain, r)))
		goto out;
	/* The first relay that answers is the one shown (SPEC 13). */
	while ((c = probe_once(s, p, 1)) != CURLE_OK && c != CURLE_PEER_FAILED_VERIFICATION &&
	       submit_relay_failed(s, c, r)) {
		submit_probe_free(p);
		s->tr.probe = p;
	}
	p->relay = xstrdup(submit_relay(s));
	if (c == CURLE_PEER_FAILED_VERIFICATION) {
		str_copy(p->verify_error, sizeof(p->verify_error),
			 s->errbuf[0] ? s->errbuf : sym_curl_easy_strerror(c));
		c = probe_once(s, p, 0);
	} else if (c == CURLE_OK && a->tls != TLS_OFF) {
		p->verified = 1;
	}
	if (c == CURLE_OK)
		rc = 0;
	else if (submit_classify(s, c, r) < 0)
		submit_tried_note(s, r);
	submit_free(s);
out:
	account_free(&plain);
	return rc;
}

void
submit_probe_free(struct submit_probe *p)
{
	free(p->greeting);
	for (size_t i = 0; i < p->nehlo; i++)
		free(p->ehlo[i]);
	free(p->ehlo);
	for (size_t i = 0; i < p->nehlo_plain; i++)
		free(p->ehlo_plain[i]);
	free(p->ehlo_plain);
	free(p->tls_desc);
	free(p->relay);
	for (size_t i = 0; i < p->ncerts; i++)
		free(p->certs[i]);
	free(p->certs);
	memset(p, 0, sizeof(*p));
}
