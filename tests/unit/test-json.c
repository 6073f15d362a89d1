/* test-json.c - the strict JSON object reader (json.c). */
#include "config.h"

#include <string.h>

#include "json.h"
#include "tap.h"

static int
parses(const char *text)
{
	struct json_object o;
	char err[128];
	int rc = json_parse(text, strlen(text), &o, err, sizeof(err));

	json_free(&o);
	return rc == 0;
}

static void
test_token_answer(void)
{
	static const char t[] = " {\"access_token\":\"eyJ.a\\/b\",\"token_type\":\"Bearer\","
		"\"expires_in\":3599,\"ext_expires_in\":\"3599\",\"scope\":null,"
		"\"x\":{\"y\":[1,{\"z\":\"\\u00e9\"}]},\"refresh_token\":\"0.A\\u00e9\\ud83d\\ude00\"}\n";
	struct json_object o;
	char err[128];
	long n = 0;

	ok(json_parse(t, sizeof(t) - 1, &o, err, sizeof(err)) == 0, "a token answer parses");
	is_str(json_string(&o, "access_token"), "eyJ.a/b", "escaped solidus decoded");
	is_str(json_string(&o, "refresh_token"), "0.A\xc3\xa9\xf0\x9f\x98\x80",
	       "\\u escapes and a surrogate pair to UTF-8");
	ok(json_count(&o, "expires_in", &n) == 0 && n == 3599, "expires_in as a number");
	ok(json_count(&o, "ext_expires_in", &n) == 0 && n == 3599, "a quoted count");
	ok(json_string(&o, "scope") == NULL, "null is no string");
	ok(json_string(&o, "x") == NULL && json_string(&o, "z") == NULL,
	   "nested members are not top-level members");
	ok(json_count(&o, "token_type", &n) < 0, "a word is no count");
	ok(json_string(&o, "absent") == NULL, "absent member");
	json_free(&o);
}

static void
test_strictness(void)
{
	static const char *bad[] = {
		"", "[]", "\"s\"", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":1}{}", "{'a':1}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}",
		"{\"a\":tru}", "{\"a\":\"x\ty\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":1,\"a\":2}",
		"{\"a\":1 /* c */}", "{\"a\" 1}", "{a:1}", "{\"a\":[1,]}", "{\"a\":NaN}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!parses(bad[i]), "refused: %s", bad[i]);
	ok(parses("{}"), "empty object");
	ok(parses("{\"a\":-0.5e+3,\"b\":[],\"c\":{},\"d\":\"\xe2\x82\xac\"}"),
	   "numbers, empty containers, UTF-8");
}

static void
test_depth(void)
{
	char deep[200];
	size_t n = 0;

	n += (size_t)sprintf(deep, "{\"a\":");
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	ok(!parses(deep), "nesting deeper than JSON_MAX_DEPTH refused");
	n = (size_t)sprintf(deep, "{\"a\":");
	for (int i = 0; i < JSON_MAX_DEPTH - 2; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH - 2; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	ok(parses(deep), "nesting within the limit");
}

int
main(void)
{
	test_token_answer();
	test_strictness();
	test_depth();
	return done_testing();
}
