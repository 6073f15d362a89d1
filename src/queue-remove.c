/*
 * queue-remove.c - delivered messages leave the queue at once; a thread
 * unlinks them.
 *
 * A delivered message leaves q/ while its run still holds its lock: q/ID
 * and q/ID.state are renamed into done/, and a thread of its own unlinks
 * them there while the run goes on with the next message.  Unlinking can
 * block for as long as the filesystem frees (or discards) the blocks; a
 * rename frees nothing, so it does not hold up the run.  A crash can make
 * a message go twice only between the relay's 250 and the rename, as with
 * an unlink in place.  Whatever a killed run left in done/ is removed by
 * the next run that delivers a message.  When done/ cannot be made, a
 * rename fails or the thread cannot start, the files are unlinked in
 * place.
 *
 * The thread starts with the first removal: a run that delivers nothing
 * needs none, and by then libcurl is loaded: no library is opened while a
 * second thread runs.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue-internal.h"
#include "util.h"

#define MAX_PENDING 256          /* names waiting for the thread */

struct queue_removal {
	struct queue_removal *next;
	char *path;              /* done/ID or done/ID.state */
};

/* Everything in done/ goes: only a run that was killed leaves files there. */
static int
drop_any(const char *path, const char *name, const struct stat *st, time_t now, void *arg)
{
	(void)path, (void)name, (void)st, (void)now, (void)arg;
	return 1;
}

static void *
remover_main(void *arg)
{
	struct queue_remover *rm = arg;

	queue_sweep_dir(rm->done, drop_any, NULL);
	pthread_mutex_lock(&rm->mu);
	for (;;) {
		struct queue_removal *x = rm->head;

		if (!x) {
			if (rm->closing)
				break;
			pthread_cond_wait(&rm->cv, &rm->mu);
			continue;
		}
		rm->head = x->next;
		if (!rm->head)
			rm->tail = &rm->head;
		pthread_mutex_unlock(&rm->mu);
		unlink(x->path);        /* ENOENT: another run's sweep was first */
		free(x->path);
		free(x);
		pthread_mutex_lock(&rm->mu);
		rm->pending--;
		pthread_cond_broadcast(&rm->cv);
	}
	pthread_mutex_unlock(&rm->mu);
	return NULL;
}

void
queue_remover_start(struct queue_remover *rm, const char *qdir)
{
	rm->done = queue_subdir(qdir, "done", NULL);
	pthread_mutex_init(&rm->mu, NULL);
	pthread_cond_init(&rm->cv, NULL);
	rm->head = NULL;
	rm->tail = &rm->head;
	rm->pending = 0;
	rm->closing = 0;
	rm->started = rm->running = 0;
}

static void
remover_launch(struct queue_remover *rm)
{
	rm->started = 1;
	rm->running = rm->done &&
		      pthread_create(&rm->thread, NULL, remover_main, rm) == 0;
}

/* Unlinked in place: 0, also when it is gone already. */
static int
unlink_here(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
queue_remover_take(struct queue_remover *rm, const char *path)
{
	const char *name = strrchr(path, '/') + 1;
	struct queue_removal *x;
	char *dst;

	if (!rm->started)
		remover_launch(rm);
	if (!rm->running)
		return unlink_here(path);
	dst = xasprintf("%s/%s", rm->done, name);
	if (rename(path, dst) != 0) {
		int saved = errno;

		free(dst);
		return saved == ENOENT ? 0 : unlink_here(path);
	}
	x = xmalloc(sizeof(*x));
	x->next = NULL;
	x->path = dst;
	pthread_mutex_lock(&rm->mu);
	while (rm->pending >= MAX_PENDING)
		pthread_cond_wait(&rm->cv, &rm->mu);
	*rm->tail = x;
	rm->tail = &x->next;
	rm->pending++;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	return 0;
}

void
queue_remover_finish(struct queue_remover *rm)
{
	if (rm->running) {
		pthread_mutex_lock(&rm->mu);
		rm->closing = 1;
		pthread_cond_broadcast(&rm->cv);
		pthread_mutex_unlock(&rm->mu);
		pthread_join(rm->thread, NULL);
		rm->running = 0;
	}
	pthread_cond_destroy(&rm->cv);
	pthread_mutex_destroy(&rm->mu);
	free(rm->done);
}
