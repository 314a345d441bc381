#ifndef MASHANG_CTL_ADMIN_H
#define MASHANG_CTL_ADMIN_H
/* mashangctl's administrator commands, through the daemon's admin API
 * over HTTP (libcurl, blocking: this is a command line tool):
 *
 *   cases list [--state S] [--deputy D] [--station S] [--category C]
 *              [--from T] [--to T] [--overdue] [--limit N] [--json]
 *   cases show ID [--json]
 *   cases assign ID DEPUTY [--note TEXT]
 *   cases label ID CATEGORY
 *   deputies [--json]
 *   stats [--by deputy|station|category] [--from T] [--to T] [--csv|--json]
 *   reload
 *   outbox dead [--limit N] [--json] | outbox retry
 *   intents corrections [--label CATEGORY] [--from T] [--limit N] [--json]
 *   intents review [--limit N] [--json]
 *
 * Every command takes --url URL (default $MASHANG_URL, else
 * http://127.0.0.1:8080) and --token TOKEN (default $MASHANG_ADMIN_TOKEN).
 * Exit status 0, 1 when the server refused (its error is printed), 2 on
 * bad usage. */
#include <stddef.h>

/* argv[0] is the command name: "cases", "deputies", "stats", "reload"
 * or "outbox". */
int ctl_admin_main(int argc, char **argv);

/* `mashangctl intents corrections|review` (`what`), through the admin
 * API; argv holds only the options after the subcommand's name. */
int ctl_admin_intents(const char *what, int argc, char **argv);

/* Helpers exposed for tests. */
/* Terminal columns `s` (UTF-8) takes: East Asian wide characters count 2. */
size_t ctl_display_width(const char *s);
/* Writes `s` padded with spaces to `width` columns (never truncated) into
 * buf; returns buf. */
const char *ctl_pad(const char *s, size_t width, char *buf, size_t bufsz);
/* "45s", "12m", "5h", "3d4h" for an age in seconds ("-" when negative). */
const char *ctl_format_age(long seconds, char *buf, size_t bufsz);
/* "label<TAB>text" as a line of intents/train/<label>.tsv: tabs and line
 * breaks in the text become spaces.  malloc'd, NULL on OOM. */
char *ctl_training_line(const char *label, const char *text);

#endif
