/*
 * oauth2.h - OAuth2 access tokens for XOAUTH2 and OAUTHBEARER (SPEC 13).
 *
 * An account with oauth2_token_url (account_uses_oauth2()) gets its access
 * token from the provider's token endpoint: the refresh token is
 * exchanged for it (RFC 6749 section 6, a form POST of
 * grant_type=refresh_token over verified TLS), and both are kept in the
 * account's token store, a private directory (0700, files 0600):
 *
 *   $XDG_STATE_HOME/mailout/oauth2/ACCOUNT/   (~/.local/state/... by default)
 *   QUEUE_DIR/oauth2/ACCOUNT/                 for root: the system queue's
 *     refresh_token   one line: the refresh token (from --authorize, or
 *                     oauth2_refresh_token_eval's output, or rotated by
 *                     the provider); replaced atomically (write, fsync,
 *                     rename, directory fsync)
 *     access_token    two lines: the UNIX time it expires, the token
 *     lock            flock()ed around every read and refresh of the two
 *
 * No token, secret or refresh token goes to argv, the log, -v or an error
 * message.
 */
#ifndef MAILOUT_OAUTH2_H
#define MAILOUT_OAUTH2_H

#include <stdio.h>

#include "account.h"
#include "result.h"
#include "util.h"

/* An access token is used until this many seconds before it expires. */
#define OAUTH2_EXPIRY_MARGIN 60

/* The directory of root's token stores: the system queue's (queue_dir
 * from the configuration; default /var/spool/mailout).  Others use
 * $XDG_STATE_HOME.  The string is copied. */
void oauth2_set_system_dir(const char *queue_dir);

/*
 * The access token of account a: the cached one while it has more than
 * OAUTH2_EXPIRY_MARGIN seconds left (unless refresh is 1: the relay
 * refused it), else a new one from the token endpoint, cached, with a
 * rotated refresh token stored.  *cached is set to 1 when the token came
 * from the cache.  Returns a malloc'd token (free_secret()), or NULL with
 * *r set: RES_NOPERM when the provider refused the refresh token
 * (invalid_grant: "authorize again with mailout --authorize ACCOUNT") or
 * the client; RES_TEMPFAIL when the endpoint cannot be reached or answers
 * 5xx; RES_CONFIG when there is no refresh token or the store is not
 * private.
 */
char *oauth2_access_token(const struct account *a, int refresh, int *cached,
			  struct result *r);

/*
 * mailout --authorize: the device authorization grant (RFC 8628) at
 * oauth2_device_url.  Prints the verification URL and user code on out,
 * polls the token endpoint at the interval the provider gives (slow_down
 * adds 5 seconds), and stores the refresh token (and the access token)
 * on success.  Returns 0, or -1 with *r set (RES_NOPERM: access_denied or
 * expired_token; RES_CONFIG: settings missing).
 */
int oauth2_authorize(const struct account *a, FILE *out, struct result *r);

/*
 * One HTTPS form POST (oauth2-http.c): form to url with the account's
 * timeout and proxy, TLS verified against oauth2_trust_file or the system
 * store.  Returns 0 with *status the HTTP status and the answer appended
 * to body (at most 64 KiB), or -1 with *r set: RES_TEMPFAIL (not
 * reached, timed out), RES_UNAVAILABLE (certificate not verified),
 * RES_CONFIG (trust file unusable), RES_PROTOCOL (answer too long).
 */
int oauth2_http_post(const struct account *a, const char *url, const char *form,
		     long *status, struct dynbuf *body, struct result *r);

/* form-urlencode s (RFC 6749 appendix B) onto d. */
void oauth2_form_add(struct dynbuf *d, const char *name, const char *value);

#endif
