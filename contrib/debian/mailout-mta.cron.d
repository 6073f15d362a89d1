# The system queue's retry without systemd (with systemd, mailout-queue.timer
# and mailout-queue.path do it): every five minutes, what is due.
*/5 * * * * root [ -d /run/systemd/system ] || /usr/bin/mailout -q --due >/dev/null 2>&1
