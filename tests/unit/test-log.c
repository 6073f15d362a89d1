/* test-log.c - the delivery log line (msmtp's format, its escaping), the
 * log file, stderr messages and the redaction of the verbose transcript. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static void
test_full_line(void)
{
	struct log_entry e = {
		.host = "relay.example", .tls = 1, .auth = 1, .user = "me",
		.from = "a@example.com", .recipients = "b@example.com,c@example.com",
		.mailsize = 1234, .smtpstatus = 250, .smtpmsg = "250 2.0.0 Ok",
		.queue_id = "20261207T080000000000-abc", .exitcode = "EX_OK",
	};
	char *line = log_delivery_line(&e);

	is_str(line, "host=relay.example tls=on auth=on user=me from=a@example.com "
	       "recipients=b@example.com,c@example.com mailsize=1234 smtpstatus=250 "
	       "smtpmsg='250 2.0.0 Ok' queue=20261207T080000000000-abc exitcode=EX_OK",
	       "every field, in msmtp's order, queue= before exitcode=");
	free(line);
}

static void
test_uid(void)
{
	struct log_entry e = {
		.host = "relay.example", .from = "a@example.com", .recipients = "b@example.com",
		.mailsize = -1, .queue_id = "20261207T080000000000-abc", .uid = "33",
		.exitcode = "EX_OK",
	};
	char *line = log_delivery_line(&e);

	is_str(line, "host=relay.example tls=off auth=off from=a@example.com "
	       "recipients=b@example.com queue=20261207T080000000000-abc uid=33 exitcode=EX_OK",
	       "the system queue's submitter: uid= after queue=, before exitcode=");
	free(line);
}

static void
test_fields_left_out(void)
{
	struct log_entry e = {
		.recipients = "root", .mailsize = -1, .smtpmsg = "", .errormsg = "",
		.exitcode = "EX_NOUSER",
	};
	char *line = log_delivery_line(&e);

	is_str(line, "host=local tls=off auth=off recipients=root exitcode=EX_NOUSER",
	       "no host is local; NULL, empty, -1 and 0 fields are left out");
	free(line);
}

static void
test_escaping(void)
{
	struct log_entry e = {
		.host = "h", .from = "o'brien@example.com", .recipients = "a@x\r\nb@y",
		.mailsize = 0, .smtpstatus = 550,
		.smtpmsg = "550 5.1.1 <a@x>: user's\tmailbox", .errormsg = "Couldn't connect\n",
		.exitcode = "EX_NOUSER",
	};
	char *line = log_delivery_line(&e);

	is_str(line, "host=h tls=off auth=off from=o'brien@example.com recipients=a@x  b@y "
	       "mailsize=0 smtpstatus=550 smtpmsg='550 5.1.1 <a@x>: user?s mailbox' "
	       "errormsg='Couldn?t connect ' exitcode=EX_NOUSER",
	       "control characters become spaces; ' becomes ? inside quotes only");
	ok(strchr(line, '\n') == NULL && strchr(line, '\r') == NULL, "one line");
	free(line);
}

static void
test_log_file(const char *dir)
{
	char *path = xasprintf("%s/log", dir), *text;
	struct log_entry e = { .host = "h", .recipients = "r@x", .mailsize = -1,
			       .exitcode = "EX_OK" };
	struct stat sb;

	ok(log_setup(path, NULL) == 0, "log_setup with a file and no syslog");
	log_delivery(&e);
	e.exitcode = "EX_TEMPFAIL";
	log_delivery(&e);
	text = t_read_file(path);
	ok(text != NULL, "the log file was created");
	/* "Mon DD HH:MM:SS " then the line */
	ok(text && strlen(text) > 16 && text[3] == ' ' && text[6] == ' ' && text[9] == ':' &&
	   text[12] == ':' && text[15] == ' ', "each line starts with a time stamp");
	ok(text && strstr(text, " host=h tls=off auth=off recipients=r@x exitcode=EX_OK\n") &&
	   strstr(text, " host=h tls=off auth=off recipients=r@x exitcode=EX_TEMPFAIL\n") &&
	   strstr(text, "EX_OK\n") < strstr(text, "EX_TEMPFAIL\n"),
	   "two lines appended in order");
	ok(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600, "created 0600");
	free(text);
	unlink(path);
	log_setup(NULL, NULL);
	log_delivery(&e);
	ok(access(path, F_OK) != 0, "no log file configured: nothing written");
	free(path);
}

static void
test_facilities(void)
{
	ok(log_setup(NULL, "LOG_LOCAL3") == 0 && log_setup(NULL, "off") == 0,
	   "known facilities and off");
	ok(log_setup(NULL, "LOG_KERN") < 0, "an unknown facility is refused");
	ok(log_facility_valid("on") && log_facility_valid("log_mail") &&
	   !log_facility_valid("mail"), "log_facility_valid, case-insensitive");
	log_setup(NULL, NULL);
}

/* Run fn with stderr going to a file; returns what it wrote. */
static char *
capture_stderr(const char *dir, void (*fn)(void))
{
	char *path = xasprintf("%s/stderr", dir), *text;
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	text = t_read_file(path);
	unlink(path);
	free(path);
	return text;
}

static void
messages(void)
{
	log_verbose_level = 0;
	log_err("refused: %s", "line\nbreak\x1b[31m");
	log_info("not shown");
	log_verbose_level = 1;
	log_info("shown");
	log_verbose_level = 0;
}

static void
test_messages(const char *dir)
{
	char *text = capture_stderr(dir, messages);

	is_str(text, "mailout: refused: line?break?[31m\nmailout: shown\n",
	       "\"mailout: \" prefix, control characters as ?, log_info only when verbose");
	free(text);
}

int
main(void)
{
	char dir[] = "/tmp/test-log.XXXXXX";

	if (!mkdtemp(dir))
		return 1;
	test_full_line();
	test_uid();
	test_fields_left_out();
	test_escaping();
	test_log_file(dir);
	test_facilities();
	test_messages(dir);
	rmdir(dir);
	return done_testing();
}
