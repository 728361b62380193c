/* log.c - one line per event; "<N>" prefixes let journald keep the level when stderr is captured. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

/* Written once before the loop starts, read-only afterwards. */
static struct {
	const char *ident;
	enum kh_log_level level;
	bool use_syslog;
} log_cfg = { "keyhole", KH_LOG_INFO, false };

void kh_log_setup(const char *ident, enum kh_log_level level, bool use_syslog)
{
	log_cfg.ident = ident;
	log_cfg.level = level;
	log_cfg.use_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

int kh_log_level_parse(const char *s)
{
	if (!strcmp(s, "error"))
		return KH_LOG_ERR;
	if (!strcmp(s, "warn"))
		return KH_LOG_WARN;
	if (!strcmp(s, "info"))
		return KH_LOG_INFO;
	if (!strcmp(s, "debug"))
		return KH_LOG_DEBUG;
	return -1;
}

void kh_log(enum kh_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_cfg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_cfg.use_syslog)
		syslog((int)level, "%s", line);
	else
		fprintf(stderr, "<%d>%s: %s\n", (int)level, log_cfg.ident, line);
}
