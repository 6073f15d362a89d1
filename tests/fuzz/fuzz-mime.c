/* Fuzz the MIME writer's encoders: RFC 2047 header text, quoted-printable
 * and 7bit bodies, base64, RFC 2231 file names (through compose mode). */
#include "fuzz-common.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "mime.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dynbuf d = { 0 };
	struct mime_compose c = { 0 };
	struct addr_list to = { 0 };
	struct result r;
	char *text = xstrndup((const char *)data, size);
	int body, out;

	/* Header text: every produced line must stay short and 7-bit. */
	mime_header_text(&d, text, 9, size & 1);
	for (size_t i = 0, col = 9; i < d.len; i++) {
		unsigned char ch = (unsigned char)d.s[i];
		if (!mime_needs_encoding(text) && strchr(text, '\n') == NULL)
			break;      /* ASCII text is passed through as given */
		if (ch >= 0x80)
			abort();
		col = ch == '\n' ? 0 : col + 1;
		if (col > 998)
			abort();
	}
	db_free(&d);
	mime_base64(&d, data, size);
	db_free(&d);

	addr_list_add(&to, "a@example.com");
	c.to = &to;
	c.subject = text;
	body = fuzz_fd(data, size);
	out = open("/dev/null", O_WRONLY);
	res_clear(&r);
	mime_compose(body, &c, out, &r);
	close(body);
	close(out);
	addr_list_free(&to);
	free(text);
	return 0;
}
