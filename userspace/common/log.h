/* log.h - leveled logging to stderr (systemd-friendly prefixes) or syslog. */
#ifndef KEYHOLE_LOG_H
#define KEYHOLE_LOG_H

#include <stdbool.h>

enum kh_log_level { KH_LOG_ERR = 3, KH_LOG_WARN = 4, KH_LOG_INFO = 6, KH_LOG_DEBUG = 7 };

/* Set once at start-up, before the event loop runs. */
void kh_log_setup(const char *ident, enum kh_log_level level, bool use_syslog);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int kh_log_level_parse(const char *s);
void kh_log(enum kh_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kh_err(...) kh_log(KH_LOG_ERR, __VA_ARGS__)
#define kh_warn(...) kh_log(KH_LOG_WARN, __VA_ARGS__)
#define kh_info(...) kh_log(KH_LOG_INFO, __VA_ARGS__)
#define kh_debug(...) kh_log(KH_LOG_DEBUG, __VA_ARGS__)

#endif
