/*
 * tls-files.c - the account's TLS files, checked with GnuTLS before they
 * are used (tls-files.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazylib.h"
#include "tls-files.h"
#include "util.h"

#define TLS_FILE_MAX (64 * 1024 * 1024)

/* Read a TLS file (regular, readable, not empty, not huge) into *d
 * (free_tls_file() it).  Returns 0, or -1 with the reason in err. */
static int
load_tls_file(const char *path, gnutls_datum_t *d, char *err, size_t n)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	d->data = NULL;
	d->size = 0;
	if (fd < 0) {
		snprintf(err, n, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, n, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size == 0 || st.st_size > TLS_FILE_MAX) {
		snprintf(err, n, st.st_size ? "larger than 64 MiB" : "empty");
		close(fd);
		return -1;
	}
	d->data = xmalloc((size_t)st.st_size + 1);
	got = read_retry(fd, d->data, (size_t)st.st_size);
	close(fd);
	if (got <= 0) {
		snprintf(err, n, "%s", got < 0 ? strerror(errno) : "empty");
		free(d->data);
		d->data = NULL;
		return -1;
	}
	d->data[got] = '\0';
	d->size = (unsigned)got;
	return 0;
}

static void
free_tls_file(gnutls_datum_t *d)
{
	if (d->data) {
		wipe(d->data, d->size);
		free(d->data);
	}
	d->data = NULL;
}

/* The first PEM certificate of d, imported into *crt. */
static int
first_cert(const gnutls_datum_t *d, gnutls_x509_crt_t *crt, char *err, size_t n)
{
	int rc;

	*crt = NULL;
	if (!memmem(d->data, d->size, "-----BEGIN ", 11) ||
	    !memmem(d->data, d->size, "CERTIFICATE-----", 16)) {
		snprintf(err, n, "no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
		return -1;
	}
	if ((rc = sym_gnutls_x509_crt_init(crt)) < 0) {
		*crt = NULL;
		snprintf(err, n, "GnuTLS: %s", sym_gnutls_strerror(rc));
		return -1;
	}
	if ((rc = sym_gnutls_x509_crt_import(*crt, d, GNUTLS_X509_FMT_PEM)) < 0) {
		snprintf(err, n, "its certificate cannot be read: %s", sym_gnutls_strerror(rc));
		sym_gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return -1;
	}
	return 0;
}

/* The client certificate and key: readable, PEM, key unencrypted and
 * matching the certificate.  Returns 0 or -1 with RES_CONFIG. */
static int
check_client_cert(const struct account *a, struct result *r)
{
	const char *keyfile = a->tls_key_file ? a->tls_key_file : a->tls_cert_file;
	const char *keykey = a->tls_key_file ? "tls_key_file" : "tls_cert_file";
	gnutls_datum_t cd = { 0 }, kd = { 0 };
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	unsigned char id1[64], id2[64];
	size_t n1 = sizeof(id1), n2 = sizeof(id2);
	char err[300];
	int rc = -1, e;

	if (load_tls_file(a->tls_cert_file, &cd, err, sizeof(err)) < 0 ||
	    first_cert(&cd, &crt, err, sizeof(err)) < 0) {
		account_key_fail(a, "tls_cert_file", r, "tls_cert_file %s: %s (see mailout.conf(5), "
			 "DEFAULTS AND ACCOUNTS)", a->tls_cert_file, err);
		goto out;
	}
	if (a->tls_key_file && load_tls_file(keyfile, &kd, err, sizeof(err)) < 0) {
		account_key_fail(a, "tls_key_file", r, "tls_key_file %s: %s (see mailout.conf(5), "
			 "DEFAULTS AND ACCOUNTS)", keyfile, err);
		goto out;
	}
	if ((e = sym_gnutls_x509_privkey_init(&key)) < 0) {
		key = NULL;
		res_fail(r, RES_OSERR, "GnuTLS: %s", sym_gnutls_strerror(e));
		goto out;
	}
	e = sym_gnutls_x509_privkey_import2(key, a->tls_key_file ? &kd : &cd,
					    GNUTLS_X509_FMT_PEM, NULL, 0);
	if (e < 0) {
		int encrypted = e == GNUTLS_E_DECRYPTION_FAILED ||
				memmem((a->tls_key_file ? &kd : &cd)->data,
				       (a->tls_key_file ? &kd : &cd)->size, "ENCRYPTED", 9);
		if (encrypted)
			account_key_fail(a, keykey, r, "%s %s: the private key is encrypted, and mailout "
				 "cannot ask for its passphrase (store it decrypted, readable only "
				 "by you: openssl pkey -in KEY -out KEY.plain; see mailout.conf(5), "
				 "DEFAULTS AND ACCOUNTS)", keykey, keyfile);
		else
			account_key_fail(a, keykey, r, "%s %s: no PEM private key in it%s (see "
				 "mailout.conf(5), DEFAULTS AND ACCOUNTS)", keykey, keyfile,
				 a->tls_key_file ? "" : " (set tls_key_file when the key is in "
				 "a file of its own)");
		goto out;
	}
	if (sym_gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id1, &n1) >= 0 &&
	    sym_gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id2, &n2) >= 0 &&
	    (n1 != n2 || memcmp(id1, id2, n1) != 0)) {
		account_key_fail(a, keykey, r, "%s %s: the private key does not belong to the "
			 "certificate in tls_cert_file %s (see mailout.conf(5), DEFAULTS AND "
			 "ACCOUNTS)", keykey, keyfile, a->tls_cert_file);
		goto out;
	}
	rc = 0;
out:
	if (crt)
		sym_gnutls_x509_crt_deinit(crt);
	if (key)
		sym_gnutls_x509_privkey_deinit(key);
	free_tls_file(&cd);
	free_tls_file(&kd);
	return rc;
}

int
tls_files_check(const struct account *a, struct result *r)
{
	if (a->tls == TLS_OFF || (a->tls_key_file && !a->tls_cert_file))
		return 0;       /* unused, or account_check()'s to refuse */
	if ((a->tls_trust_file || a->tls_cert_file) && lazy_gnutls(r) < 0)
		return -1;
	if (a->tls_trust_file) {
		gnutls_datum_t d = { 0 };
		gnutls_x509_crt_t crt;
		char err[300];

		/* Only the first certificate: libcurl reads the whole bundle
		 * when it connects. */
		if (load_tls_file(a->tls_trust_file, &d, err, sizeof(err)) < 0 ||
		    first_cert(&d, &crt, err, sizeof(err)) < 0) {
			free_tls_file(&d);
			return account_key_fail(a, "tls_trust_file", r, "tls_trust_file %s: %s (see "
					"mailout.conf(5), DEFAULTS AND ACCOUNTS)",
					a->tls_trust_file, err);
		}
		sym_gnutls_x509_crt_deinit(crt);
		free_tls_file(&d);
	}
	if (a->tls_cert_file && check_client_cert(a, r) < 0)
		return -1;
	return 0;
}
