/* relay-load.c - load generator for keyhole-relay on loopback: handshakes/s, idle sessions and their memory, forwarded packets/s. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../../userspace/lib/handshake.h"
#include "../../userspace/lib/key.h"
#include "../../userspace/relay/registry.h"
#include "../relay/client.h"

#define NS_PER_MS 1000000ULL
/* What the relay asks for its own socket (udp.c); our sockets match it so that
 * neither side's receive queue is the first thing to overflow. */
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Initiations go out from this many sockets, so the relay sees many sources. */
#define HS_SOCKETS 8
/* Handshakes in flight: under a tenth of a second of the relay's work, so it
 * never idles and its 4 MB receive buffer (about 3000 initiations) never overflows. */
#define HS_WINDOW 512
/* Keys the handshake phase cycles through; each holds one half-open session. */
#define HS_KEYS 2000
/* The relay keys sessions by index and keeps one endpoint per session: a socket
 * can carry many sessions, and 100 per socket keeps 100 000 under the fd limit. */
#define SESSIONS_PER_SOCKET 100
/* An initiation or keepalive not answered within this is sent again. */
#define RETRY_NS (1000 * NS_PER_MS)
/* No answer for this long with packets in flight: count them lost and go on. */
#define STALL_NS (200 * NS_PER_MS)
#define MMSG_BATCH 64
/* Room for any datagram the relay sends us (its own buffers are 4096 bytes). */
#define RX_BUF 4096
#define FWD_MAX_PAIRS 64
/* The idle phase's session table, and a small one to tell what the table costs. */
#define IDLE_MAX_SESSIONS "120000"
#define IDLE_SMALL_TABLE "1000"
/* Other processes using more than this much CPU during a window spoil its figures. */
#define OTHERS_NOISE 0.15
/* The relay's admin socket is polled until it answers at start, this long at most. */
#define RELAY_START_S 20.0
/* SIGTERM, then SIGKILL after this: a relay that does not stop is killed anyway. */
#define RELAY_STOP_S 20.0

struct plan {
	bool quick;
	double budget_s;     /* the whole run; a watchdog kills everything a little after */
	double x25519_s;
	unsigned hs_keys;
	double hs_window_s;
	unsigned idle_small, idle_large; /* large 0: skipped */
	double idle_step_s;  /* bring-up of each step is bounded by this */
	unsigned pairs;
	double fwd_window_s;
	/* Packets in flight over all pairs: enough that neither side waits for the
	 * other, few enough to fit the relay's 4 MB receive buffer. */
	unsigned fwd_inflight_small, fwd_inflight_large;
};

static const struct plan full_plan = {
	.budget_s = 180, .x25519_s = 1.0, .hs_keys = HS_KEYS, .hs_window_s = 5,
	.idle_small = 10000, .idle_large = 100000, .idle_step_s = 90, .pairs = 64,
	.fwd_window_s = 5, .fwd_inflight_small = 4096, .fwd_inflight_large = 1024,
};

static const struct plan quick_plan = {
	.quick = true, .budget_s = 30, .x25519_s = 0.3, .hs_keys = 200, .hs_window_s = 1,
	.idle_small = 1000, .idle_large = 0, .idle_step_s = 10, .pairs = 16,
	.fwd_window_s = 1, .fwd_inflight_small = 4096, .fwd_inflight_large = 1024,
};

/* The relay under load: one process, one state directory, one port. */
static struct {
	const char *bin;
	char dir[64];
	char log[96];
	uint16_t port;
	volatile pid_t pid;
	uint8_t pub[32];
	int cpu; /* the core it is pinned to, -1 when not pinned */
} relay = { .pid = -1, .cpu = -1 };

static int ncpus;
static unsigned nodes_enrolled;
/* A figure that came out zero or a target not reached: the run fails, so that
 * `relay-load --quick` works as a smoke test. */
static bool broken;
static volatile sig_atomic_t interrupted;
static uint64_t run_deadline;

/* Files the relay leaves in its state directory, removed by the watchdog
 * without walking the directory (nothing else is safe in a signal handler). */
static const char *const state_files[] = {
	"relay.log", "relay.sock", "relay.lock", "private.key", "relay.db", "relay.db-wal",
	"relay.db-shm", "relay.db-journal",
};
static char state_paths[sizeof(state_files) / sizeof(state_files[0])][128];

/* The results: markdown rows, printed (and written to --out) at the end. */
static char table[8192];
static size_t table_len;

__attribute__((format(printf, 1, 2)))
static void row(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(table + table_len, sizeof(table) - table_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(table) - table_len - 1) {
		table_len += (size_t)n;
		table[table_len++] = '\n';
		table[table_len] = '\0';
	}
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "relay-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static uint64_t after_s(double s)
{
	uint64_t at = tn_now_ns() + (uint64_t)(s * 1e9);

	return at < run_deadline ? at : run_deadline;
}

static bool past(uint64_t deadline)
{
	return interrupted || tn_now_ns() >= deadline;
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Last resort when the run overruns its budget: kill the relay, remove its files, leave. */
static void on_watchdog(int sig)
{
	static const char msg[] = "relay-load: time budget exceeded, relay killed\n";
	size_t i;

	(void)sig;
	if (relay.pid > 0)
		kill(relay.pid, SIGKILL);
	for (i = 0; i < sizeof(state_paths) / sizeof(state_paths[0]); i++)
		unlink(state_paths[i]);
	rmdir(relay.dir);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static int pin_to(pid_t pid, int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	else
		for (i = 0; i < ncpus; i++)
			CPU_SET(i, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

/* ---- the relay process ---- */

/* The running relay's status object, or NULL if it does not answer. */
static struct json_object *relay_status(void)
{
	static char out[65536];
	struct json_object *o, *st, *ret = NULL;

	if (tn_shell(out, sizeof(out), "%s -d %s status --json 2>/dev/null", relay.bin, relay.dir))
		return NULL;
	o = json_tokener_parse(out);
	/* status --json prints the status object itself. */
	if (o && json_object_object_get_ex(o, "online", &st))
		ret = o;
	else
		json_object_put(o);
	return ret;
}

/* A top-level figure or a counter of the relay; -1 if it does not answer. */
static long long relay_figure(const char *name)
{
	struct json_object *o = relay_status(), *c, *v;
	long long val = -1;

	if (!o)
		return -1;
	if (json_object_object_get_ex(o, name, &v) ||
	    (json_object_object_get_ex(o, "counters", &c) &&
	     json_object_object_get_ex(c, name, &v)))
		val = json_object_get_int64(v);
	json_object_put(o);
	return val;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* CPU seconds (user + system) the process has used. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields are counted after its ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Jiffies of all CPUs together, from /proc/stat. */
struct machine_cpu {
	unsigned long long busy, idle;
};

static void machine_cpu(struct machine_cpu *m)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		m->idle = v[3] + v[4];
		m->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	}
	fclose(f);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU use over a timed window: the relay's and the generator's (shares of one
 * CPU) and the whole machine's, which shows when other processes competed. */
struct cpu_window {
	uint64_t t0;
	double relay0, gen0;
	struct machine_cpu m0;
	double seconds, relay, gen, busy; /* shares of one CPU; busy: of all */
};

static void cpu_window_start(struct cpu_window *w)
{
	memset(w, 0, sizeof(*w));
	machine_cpu(&w->m0);
	w->relay0 = cpu_s(relay.pid);
	w->gen0 = self_cpu_s();
	w->t0 = tn_now_ns();
}

static void cpu_window_end(struct cpu_window *w)
{
	struct machine_cpu m;
	double total;

	w->seconds = secs(tn_now_ns() - w->t0);
	w->relay = (cpu_s(relay.pid) - w->relay0) / w->seconds;
	w->gen = (self_cpu_s() - w->gen0) / w->seconds;
	machine_cpu(&m);
	total = (double)(m.busy - w->m0.busy + m.idle - w->m0.idle);
	w->busy = total > 0 ? (double)(m.busy - w->m0.busy) / total : 0;
}

/* CPUs' worth of time the machine spent on neither the relay nor the generator. */
static double cpu_others(const struct cpu_window *w)
{
	double others = w->busy * ncpus - w->relay - w->gen;

	return others > 0 ? others : 0;
}

static void cpu_row(const char *what, const struct cpu_window *w)
{
	row("| CPU %s: relay / generator / other processes | %.0f%% / %.0f%% / %.2f CPU%s |",
	    what, 100 * w->relay, 100 * w->gen, cpu_others(w),
	    cpu_others(w) > OTHERS_NOISE ? " (**others competed: figures are low**)" : "");
}

/* Sanitizer reports in the relay's log fail the run. */
static bool relay_log_clean(void)
{
	return tn_shell(NULL, 0, "grep -Eq 'Sanitizer|runtime error' %s 2>/dev/null", relay.log) != 0;
}

static void relay_log_tail(void)
{
	char out[2048];

	if (!tn_shell(out, sizeof(out), "tail -n 5 %s 2>/dev/null", relay.log) && out[0])
		fprintf(stderr, "relay-load: the relay's last words:\n%s", out);
}

/* Stop the relay: SIGTERM, bounded wait, then SIGKILL (*killed says which).
 * Returns the seconds it took. */
static double relay_stop(bool *killed)
{
	uint64_t start = tn_now_ns(), deadline = start + (uint64_t)(RELAY_STOP_S * 1e9);
	int status = 0;
	pid_t got;

	if (killed)
		*killed = false;
	if (relay.pid <= 0)
		return 0;
	kill(relay.pid, SIGTERM);
	while ((got = waitpid(relay.pid, &status, WNOHANG)) == 0) {
		if (tn_now_ns() >= deadline) {
			say("relay did not stop within %.0f s of SIGTERM: killed", RELAY_STOP_S);
			kill(relay.pid, SIGKILL);
			waitpid(relay.pid, &status, 0);
			if (killed)
				*killed = true;
			relay.pid = -1;
			return secs(tn_now_ns() - start);
		}
		usleep(10000);
	}
	/* A clean stop is a clean exit: sanitizers report at exit, through the status. */
	if (got == relay.pid && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		say("the relay exited with status %d on SIGTERM", status);
		relay_log_tail();
		broken = true;
	}
	relay.pid = -1;
	return secs(tn_now_ns() - start);
}

/* Start the relay with extra flags and wait until its admin socket answers. */
static int relay_start(const char *const *extra)
{
	const char *argv[40];
	char port[8];
	pid_t parent = getpid(), pid;
	uint64_t deadline = after_s(RELAY_START_S);
	int argc = 0, fd, status;

	snprintf(port, sizeof(port), "%u", relay.port);
	argv[argc++] = relay.bin;
	argv[argc++] = "-d";
	argv[argc++] = relay.dir;
	argv[argc++] = "-l";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "-p";
	argv[argc++] = port;
	/* One line per session going up would cost more than the session. */
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	while (*extra && argc < 36)
		argv[argc++] = *extra++;
	argv[argc++] = "run";
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* If the generator dies, whatever the cause, the relay goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (relay.cpu >= 0)
			pin_to(0, relay.cpu);
		fd = open(relay.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(relay.bin, (char *const *)argv);
		_exit(127);
	}
	relay.pid = pid;
	while (!past(deadline)) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			relay.pid = -1;
			say("the relay exited at start (status %d)", status);
			relay_log_tail();
			return -ECHILD;
		}
		if (relay_figure("online") >= 0)
			return 0;
		usleep(20000);
	}
	say("the relay did not answer within %.0f s of starting", RELAY_START_S);
	relay_log_tail();
	relay_stop(NULL);
	return -ETIMEDOUT;
}

/* Wait until the relay counts `want` sessions online; returns the last count seen. */
static long long wait_online(long long want, double timeout_s)
{
	uint64_t deadline = after_s(timeout_s);
	long long online;

	do {
		online = relay_figure("online");
		if (online == want)
			break;
		usleep(50000);
	} while (!past(deadline));
	return online;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	relay_stop(NULL);
	if (relay.dir[0])
		nftw(relay.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	relay.dir[0] = '\0';
}

/* ---- sockets ---- */

/* A non-blocking UDP socket connected to the relay, with room for bursts. */
static int relay_socket(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(relay.port) };
	int size = SOCKET_BUFFER, fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* FORCE needs CAP_NET_ADMIN; without it the sysctl maximum applies. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

struct rxbatch {
	struct mmsghdr m[MMSG_BATCH];
	struct iovec iov[MMSG_BATCH];
	uint8_t buf[MMSG_BATCH][RX_BUF];
};

/* Receive what is queued on fd, up to one batch; returns the count (0 when none). */
static int rx_batch(struct rxbatch *rx, int fd)
{
	int i, n;

	for (i = 0; i < MMSG_BATCH; i++) {
		rx->iov[i].iov_base = rx->buf[i];
		rx->iov[i].iov_len = RX_BUF;
		memset(&rx->m[i].msg_hdr, 0, sizeof(rx->m[i].msg_hdr));
		rx->m[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->m[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(fd, rx->m, MMSG_BATCH, MSG_DONTWAIT, NULL);
	return n < 0 ? 0 : n;
}

/* ---- work split over all cores, before the relay runs ---- */

struct par_job {
	size_t (*fn)(void *ctx, size_t begin, size_t end); /* returns failures */
	void *ctx;
	size_t begin, end, failed;
};

static void *par_thread(void *arg)
{
	struct par_job *job = arg;

	job->failed = job->fn(job->ctx, job->begin, job->end);
	return NULL;
}

/* Run fn over [0, n) split across the cores; returns the failures summed. */
static size_t par_for(size_t n, size_t (*fn)(void *, size_t, size_t), void *ctx)
{
	struct par_job jobs[16];
	pthread_t threads[16];
	size_t i, nt = ncpus < 16 ? (size_t)ncpus : 16, failed = 0;

	for (i = 0; i < nt; i++) {
		jobs[i] = (struct par_job){ fn, ctx, n * i / nt, n * (i + 1) / nt, 0 };
		if (i && pthread_create(&threads[i], NULL, par_thread, &jobs[i]))
			jobs[i].failed = fn(ctx, jobs[i].begin, jobs[i].end);
	}
	jobs[0].failed = fn(ctx, jobs[0].begin, jobs[0].end);
	for (i = 1; i < nt; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < nt; i++)
		failed += jobs[i].failed;
	return failed;
}

static size_t keygen_range(void *ctx, size_t begin, size_t end)
{
	struct noise_static *keys = ctx;
	size_t i, failed = 0;

	for (i = begin; i < end; i++) {
		kh_key_generate(keys[i].priv);
		failed += kh_key_public(keys[i].pub, keys[i].priv) != 0;
	}
	return failed;
}

/* Initiations for the handshake phase: round r of key k is message r * keys + k,
 * with timestamp nanoseconds r, so each key's messages arrive in rising order. */
struct hs_prep {
	const struct noise_static *keys;
	unsigned nkeys;
	int64_t sec;
	uint8_t (*msg)[KH_INIT_MIN_LEN];
};

static size_t hs_prep_range(void *ctx, size_t begin, size_t end)
{
	struct hs_prep *p = ctx;
	uint8_t ts[KH_TAI64N_LEN], psk[NOISE_PSK_LEN] = { 0 };
	struct kh_cookie_maker cm;
	struct noise_handshake hs;
	size_t i, failed = 0;

	kh_cookie_maker_init(&cm, relay.pub);
	for (i = begin; i < end; i++) {
		kh_tai64n(ts, p->sec, (uint32_t)(i / p->nkeys));
		failed += kh_handshake_initiate(&hs, &cm, &p->keys[i % p->nkeys], relay.pub, psk,
						(uint32_t)i, ts, NULL, NULL, p->msg[i],
						0) != KH_INIT_MIN_LEN;
	}
	noise_handshake_wipe(&hs);
	return failed;
}

/* One idle session: its handshake is prepared ahead, the keys are dropped once confirmed. */
enum idle_state { IDLE_NEW, IDLE_SENT, IDLE_CONFIRMING, IDLE_ONLINE };

struct idle_sess {
	struct noise_handshake hs;
	uint8_t msg[KH_INIT_MIN_LEN];
	uint8_t state;
	uint64_t sent_ns;
};

struct idle_prep {
	const struct noise_static *keys;
	struct idle_sess *s;
};

static int idle_initiate(struct idle_sess *s, const struct noise_static *key, uint32_t index,
			 struct kh_cookie_maker *cm)
{
	uint8_t ts[KH_TAI64N_LEN], psk[NOISE_PSK_LEN] = { 0 };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	kh_tai64n(ts, now.tv_sec, (uint32_t)now.tv_nsec);
	return kh_handshake_initiate(&s->hs, cm, key, relay.pub, psk, index, ts, NULL, NULL,
				     s->msg, tn_now_ns()) == KH_INIT_MIN_LEN ? 0 : -EINVAL;
}

static size_t idle_prep_range(void *ctx, size_t begin, size_t end)
{
	struct idle_prep *p = ctx;
	struct kh_cookie_maker cm;
	size_t i, failed = 0;

	kh_cookie_maker_init(&cm, relay.pub);
	for (i = begin; i < end; i++)
		failed += idle_initiate(&p->s[i], &p->keys[i], (uint32_t)i, &cm) != 0;
	return failed;
}

/* ---- phase 1: handshakes per second ---- */

/* X25519 per second: DH, or (base) the base point's multiple an ephemeral key costs. */
static double bench_x25519(double seconds, bool base)
{
	uint8_t priv[32], pub[32], out[32];
	uint64_t start = tn_now_ns(), elapsed;
	unsigned long n = 0, failures = 0;
	int i;

	kh_key_generate(priv);
	kh_key_public(pub, priv);
	do {
		for (i = 0; i < 100; i++)
			failures += (base ? crypto_scalarmult_curve25519_base(out, priv)
					  : crypto_scalarmult_curve25519(out, priv, pub)) != 0;
		n += 100;
		elapsed = tn_now_ns() - start;
	} while (secs(elapsed) < seconds);
	return failures ? 0 : (double)n / secs(elapsed);
}

struct txq {
	struct mmsghdr m[MMSG_BATCH];
	struct iovec iov[MMSG_BATCH];
	unsigned n;
};

static unsigned txq_flush(struct txq *q, int fd)
{
	int sent = q->n ? sendmmsg(fd, q->m, q->n, MSG_DONTWAIT) : 0;

	q->n = 0;
	return sent > 0 ? (unsigned)sent : 0;
}

static void txq_add(struct txq *q, const void *buf, size_t len)
{
	unsigned i = q->n++;

	q->iov[i].iov_base = (void *)buf;
	q->iov[i].iov_len = len;
	memset(&q->m[i].msg_hdr, 0, sizeof(q->m[i].msg_hdr));
	q->m[i].msg_hdr.msg_iov = &q->iov[i];
	q->m[i].msg_hdr.msg_iovlen = 1;
}

static int phase_handshakes(const struct plan *plan, const struct noise_static *keys,
			    double x25519, double x25519_base)
{
	static const char *const flags[] = {
		"--handshake-load", "10000000", "--max-half-open", "10000", NULL,
	};
	double bound = x25519 / 4, want = bound * plan->hs_window_s * 1.2, rate;
	size_t total = ((size_t)want / plan->hs_keys + 1) * plan->hs_keys, next = 0;
	unsigned long responses = 0, cookies = 0, lost = 0, sent = 0;
	uint64_t t0, t_end, last_progress, now;
	struct hs_prep prep = { keys, plan->hs_keys, 0, NULL };
	struct txq *q = NULL;
	struct rxbatch *rx = NULL;
	int fds[HS_SOCKETS], i, j, n, ret = -1;
	struct pollfd pfd[HS_SOCKETS];
	struct cpu_window cw;
	long long handshakes;
	long rss;

	for (i = 0; i < HS_SOCKETS; i++)
		fds[i] = -1;
	prep.msg = malloc(total * sizeof(*prep.msg));
	q = calloc(HS_SOCKETS, sizeof(*q));
	rx = malloc(sizeof(*rx));
	if (!prep.msg || !q || !rx)
		goto out;
	/* The client's half of each handshake (ephemeral key and 2 DH) is done
	 * here, on every core, before the relay runs: the timed window then
	 * measures the relay's half alone. */
	prep.sec = (int64_t)time(NULL);
	t0 = tn_now_ns();
	if (par_for(total, hs_prep_range, &prep)) {
		say("could not prepare initiations");
		goto out;
	}
	say("handshakes: %zu initiations from %u keys prepared in %.1f s", total, plan->hs_keys,
	    secs(tn_now_ns() - t0));
	pin_to(0, relay.cpu >= 0 ? 0 : -1);
	if (relay_start(flags))
		goto out;
	for (i = 0; i < HS_SOCKETS; i++) {
		fds[i] = relay_socket();
		if (fds[i] < 0)
			goto out;
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	}
	rss = rss_kb(relay.pid);
	cpu_window_start(&cw);
	t0 = now = last_progress = tn_now_ns();
	t_end = after_s(plan->hs_window_s);
	while (now < t_end && !interrupted) {
		unsigned long inflight, got = 0;

		/* Initiations counted lost may still be answered late. */
		if (sent < responses + lost)
			lost = sent - responses;
		inflight = sent - responses - lost;

		/* Keep HS_WINDOW initiations in flight, each socket's share in one sendmmsg. */
		while (inflight < HS_WINDOW && next < total) {
			unsigned room = HS_WINDOW - (unsigned)inflight;

			for (j = 0; j < (int)room && next < total; j++, next++) {
				i = (int)((next % plan->hs_keys) % HS_SOCKETS);
				txq_add(&q[i], prep.msg[next], KH_INIT_MIN_LEN);
				if (q[i].n == MMSG_BATCH)
					sent += txq_flush(&q[i], fds[i]);
			}
			for (i = 0; i < HS_SOCKETS; i++)
				sent += txq_flush(&q[i], fds[i]);
			inflight = sent - responses - lost;
		}
		if (next == total && inflight == 0)
			break; /* every prepared initiation answered: the window ends early */
		poll(pfd, HS_SOCKETS, 1);
		for (i = 0; i < HS_SOCKETS; i++) {
			while ((n = rx_batch(rx, fds[i])) > 0) {
				for (j = 0; j < n; j++) {
					int type = kh_msg_type(rx->buf[j], rx->m[j].msg_len);

					if (type == KH_MSG_RESPONSE && rx->m[j].msg_len == KH_RESP_LEN)
						got++;
					else if (type == KH_MSG_COOKIE_REPLY)
						cookies++;
				}
			}
		}
		now = tn_now_ns();
		responses += got;
		if (got || !inflight) {
			last_progress = now;
		} else if (now - last_progress > STALL_NS) {
			lost += inflight;
			last_progress = now;
		}
	}
	cpu_window_end(&cw);
	rate = (double)responses / cw.seconds;
	handshakes = relay_figure("handshakes");
	row("| relay RSS at start: %u nodes enrolled, default --max-sessions 65536 | %.1f MB |",
	    nodes_enrolled, (double)rss / 1024);
	broken |= responses == 0;
	row("| handshakes completed per second by the relay (%d client sockets, %u keys, "
	    "initiations prepared ahead) | **%.0f** (%lu responses in %.2f s%s; relay counted "
	    "%lld, %lu initiations lost, %lu cookie replies) |",
	    HS_SOCKETS, plan->hs_keys, rate, responses, cw.seconds,
	    next == total && sent == responses + lost ? ", ran out of prepared initiations" : "",
	    handshakes, lost, cookies);
	row("| X25519 operations per second (on the relay's core, before it ran): DH / base point "
	    "| %.0f / %.0f |", x25519, x25519_base);
	row("| handshakes/s against the bound X25519/4 = %.0f (the relay does 4 DH per handshake) "
	    "| **%.0f%%** |", bound, 100 * rate / bound);
	/* The responder's ephemeral key costs a base-point multiplication, which
	 * this bound counts and X25519/4 does not. */
	bound = 1 / (4 / x25519 + 1 / x25519_base);
	row("| handshakes/s against the bound of 4 DH + 1 base-point multiplication = %.0f | %.0f%% |",
	    bound, 100 * rate / bound);
	cpu_row("during the handshake window", &cw);
	say("handshakes: %.0f/s, relay CPU %.0f%%, others %.2f CPU", rate, 100 * cw.relay,
	    cpu_others(&cw));
	ret = 0;
out:
	for (i = 0; i < HS_SOCKETS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	relay_stop(NULL);
	pin_to(0, -1);
	free(prep.msg);
	free(q);
	free(rx);
	return ret;
}

/* ---- phase 2: idle sessions and memory ---- */

struct idle_run {
	const struct noise_static *keys;
	struct idle_sess *s;
	unsigned n;       /* sessions prepared */
	unsigned next;    /* first never sent */
	unsigned online;  /* confirmed by a transport message from the relay */
	unsigned inflight;
	unsigned long retries;
	int *fds;
	int epfd;
	uint32_t *ring;   /* sessions sent, oldest first; each at most once, so n fit */
	unsigned ring_mask, head, tail;
	struct kh_cookie_maker cm;
	struct rxbatch rx;
};

static void idle_send(struct idle_run *ir, uint32_t i)
{
	struct idle_sess *s = &ir->s[i];

	send(ir->fds[i / SESSIONS_PER_SOCKET], s->msg, KH_INIT_MIN_LEN, MSG_DONTWAIT);
	s->state = IDLE_SENT;
	s->sent_ns = tn_now_ns();
	ir->ring[ir->tail++ & ir->ring_mask] = i;
}

static void idle_take(struct idle_run *ir, int sock, const uint8_t *dgram, size_t len)
{
	struct kh_keypair kp;
	uint8_t ka[KH_DATA_OVERHEAD];
	struct idle_sess *s;
	int64_t idx;
	int n;

	switch (kh_msg_type(dgram, len)) {
	case KH_MSG_RESPONSE:
		idx = kh_handshake_response_receiver(dgram, len);
		if (idx < 0 || idx >= ir->n || (unsigned)idx / SESSIONS_PER_SOCKET != (unsigned)sock)
			return;
		s = &ir->s[idx];
		if (s->state != IDLE_SENT ||
		    kh_handshake_consume_response(&s->hs, dgram, len, &kp, tn_now_ns()))
			return;
		/* The confirming keepalive; the keys are not needed after it. */
		n = kh_transport_seal(&kp, NULL, 0, ka, tn_now_ns());
		kh_keypair_wipe(&kp);
		if (n > 0)
			send(ir->fds[sock], ka, (size_t)n, MSG_DONTWAIT);
		s->state = IDLE_CONFIRMING;
		break;
	case KH_MSG_TRANSPORT:
		/* The relay sends on a session only once the keepalive confirmed it. */
		idx = kh_transport_receiver(dgram, len);
		if (idx < 0 || idx >= ir->n || ir->s[idx].state != IDLE_CONFIRMING)
			return;
		ir->s[idx].state = IDLE_ONLINE;
		ir->online++;
		ir->inflight--;
		break;
	default:
		break;
	}
}

/* Bring sessions up until `target` are online or the deadline passes. */
static void idle_bring_up(struct idle_run *ir, unsigned target, unsigned window,
			  uint64_t deadline)
{
	struct epoll_event ev[64];
	uint64_t now;
	int i, k, n, sock;

	while (ir->online < target && !past(deadline)) {
		while (ir->inflight < window && ir->next < target) {
			unsigned i_sock = ir->next / SESSIONS_PER_SOCKET;

			if (ir->fds[i_sock] < 0) {
				struct epoll_event e = { .events = EPOLLIN, .data.u32 = i_sock };

				ir->fds[i_sock] = relay_socket();
				if (ir->fds[i_sock] < 0 ||
				    epoll_ctl(ir->epfd, EPOLL_CTL_ADD, ir->fds[i_sock], &e)) {
					say("cannot open client socket %u: %s", i_sock,
					    strerror(errno));
					return;
				}
			}
			idle_send(ir, ir->next++);
			ir->inflight++;
		}
		n = epoll_wait(ir->epfd, ev, 64, 1);
		for (i = 0; i < n; i++) {
			sock = (int)ev[i].data.u32;
			while ((k = rx_batch(&ir->rx, ir->fds[sock])) > 0) {
				int j;

				for (j = 0; j < k; j++)
					idle_take(ir, sock, ir->rx.buf[j], ir->rx.m[j].msg_len);
			}
		}
		/* Oldest first: online ones leave the ring, silent ones start over. */
		now = tn_now_ns();
		while (ir->head != ir->tail) {
			uint32_t idx = ir->ring[ir->head & ir->ring_mask];
			struct idle_sess *s = &ir->s[idx];

			if (s->state == IDLE_ONLINE) {
				ir->head++;
			} else if (now - s->sent_ns > RETRY_NS) {
				ir->head++;
				if (idle_initiate(s, &ir->keys[idx], idx, &ir->cm) == 0) {
					ir->retries++;
					idle_send(ir, idx);
				}
			} else {
				break;
			}
		}
	}
}

struct idle_step {
	unsigned from, target, online;
	long long relay_online;
	long rss_kb;
	double seconds;
	struct cpu_window cw;
};

static void idle_report(const struct idle_step *st, long rss_start_kb)
{
	if (st->online < st->target) {
		row("| %u idle sessions online | **not reached** within %.0f s: %u online (relay "
		    "counts %lld) |", st->target, st->seconds, st->online, st->relay_online);
		broken |= !st->from; /* the first step is small: it must come up */
		return;
	}
	row("| %u idle sessions online (handshake + keepalive each) | in %.1f s (%.0f new "
	    "sessions/s, relay CPU %.0f%%, generator CPU %.0f%%); relay counts %lld online |",
	    st->target, st->seconds, (double)(st->target - st->from) / st->seconds,
	    100 * st->cw.relay, 100 * st->cw.gen, st->relay_online);
	row("| relay RSS with %u sessions online | **%.1f MB**: %.1f MB more than at start = "
	    "**%.0f bytes per session** on top of its preallocated slot (%.0f counting all RSS) |",
	    st->target, (double)st->rss_kb / 1024, (double)(st->rss_kb - rss_start_kb) / 1024,
	    (double)(st->rss_kb - rss_start_kb) * 1024 / st->target,
	    (double)st->rss_kb * 1024 / st->target);
}

/* RSS of a relay just started with flags, then stopped; -1 if it did not start. */
static long idle_rss_at_start(const char *const *flags)
{
	long rss;

	if (relay_start(flags))
		return -1;
	rss = rss_kb(relay.pid);
	relay_stop(NULL);
	return rss;
}

static int phase_idle(const struct plan *plan, const struct noise_static *keys,
		      struct idle_sess *sessions, unsigned n)
{
	static const char *const flags[] = {
		"--max-sessions", IDLE_MAX_SESSIONS, "--max-half-open", IDLE_MAX_SESSIONS,
		"--handshake-load", "10000000", "--keepalive", "60", "--dead-peer-timeout", "600",
		NULL,
	};
	static const char *const small_flags[] = { "--max-sessions", IDLE_SMALL_TABLE, NULL };
	struct idle_run *ir = calloc(1, sizeof(*ir));
	unsigned targets[2] = { plan->idle_small, plan->idle_large }, nsock, cap = 1, t;
	long rss_start, rss_small;
	struct idle_step st;
	bool killed;
	double stop_s;
	int ret = -1;

	nsock = (n + SESSIONS_PER_SOCKET - 1) / SESSIONS_PER_SOCKET;
	while (cap < n)
		cap <<= 1;
	if (!ir)
		return -1;
	ir->keys = keys;
	ir->s = sessions;
	ir->n = n;
	ir->fds = malloc(nsock * sizeof(*ir->fds));
	ir->ring = malloc(cap * sizeof(*ir->ring));
	ir->ring_mask = cap - 1;
	ir->epfd = epoll_create1(EPOLL_CLOEXEC);
	kh_cookie_maker_init(&ir->cm, relay.pub);
	if (!ir->fds || !ir->ring || ir->epfd < 0)
		goto out;
	for (t = 0; t < nsock; t++)
		ir->fds[t] = -1;
	pin_to(0, relay.cpu >= 0 ? 0 : -1);
	/* The same relay with a small session table first: the difference is
	 * what the table costs before any session exists. */
	rss_small = idle_rss_at_start(small_flags);
	if (rss_small < 0 || relay_start(flags))
		goto out;
	rss_start = rss_kb(relay.pid);
	row("| relay RSS at start, %u nodes enrolled: --max-sessions %s / %s | %.1f MB / %.1f MB "
	    "= %.0f bytes per session slot, resident before any session |",
	    nodes_enrolled, IDLE_SMALL_TABLE, IDLE_MAX_SESSIONS, (double)rss_small / 1024,
	    (double)rss_start / 1024,
	    (double)(rss_start - rss_small) * 1024 /
		    (atof(IDLE_MAX_SESSIONS) - atof(IDLE_SMALL_TABLE)));
	for (t = 0; t < 2 && targets[t] && targets[t] <= n; t++) {
		memset(&st, 0, sizeof(st));
		st.from = ir->online;
		st.target = targets[t];
		cpu_window_start(&st.cw);
		idle_bring_up(ir, st.target, HS_WINDOW, after_s(plan->idle_step_s));
		cpu_window_end(&st.cw);
		st.seconds = st.cw.seconds;
		/* The relay's own count is the proof; ours says the keepalives went out. */
		st.relay_online = wait_online(st.target, 5);
		st.online = st.relay_online < ir->online ? (unsigned)(st.relay_online > 0 ?
								      st.relay_online : 0)
							 : ir->online;
		st.rss_kb = rss_kb(relay.pid);
		say("idle: %u sessions online in %.1f s (relay: %lld), RSS %.1f MB, %lu retries",
		    ir->online, st.seconds, st.relay_online, (double)st.rss_kb / 1024, ir->retries);
		idle_report(&st, rss_start);
		if (st.online < st.target)
			break;
	}
	stop_s = relay_stop(&killed);
	if (killed)
		row("| relay shutdown (SIGTERM to exit) with %u sessions online | **over %.0f s**: "
		    "killed |", ir->online, stop_s);
	else
		row("| relay shutdown (SIGTERM to exit) with %u sessions online | %.1f s |",
		    ir->online, stop_s);
	ret = 0;
out:
	relay_stop(NULL);
	pin_to(0, -1);
	if (ir->fds)
		for (t = 0; t < nsock; t++)
			if (ir->fds[t] >= 0)
				close(ir->fds[t]);
	if (ir->epfd >= 0)
		close(ir->epfd);
	free(ir->fds);
	free(ir->ring);
	free(ir);
	return ret;
}

/* ---- phase 3: forwarding between pairs ---- */

struct fwd_sender {
	struct txq q;
	uint8_t (*buf)[1500 + KH_DATA_OVERHEAD];
	uint8_t pkt[1500];
	size_t pkt_len;
	unsigned long sent, got, lost;
	uint64_t last_progress;
};

struct fwd_result {
	struct cpu_window cw;
	double pps;
	unsigned long delivered, lost, sent;
	long long forwarded;
};

static void fwd_run(struct test_node *tn, unsigned pairs, size_t size, unsigned credit,
		    double window_s, struct fwd_result *res)
{
	struct fwd_sender *snd = calloc(pairs, sizeof(*snd));
	struct rxbatch *rx = malloc(sizeof(*rx));
	struct pollfd pfd[FWD_MAX_PAIRS];
	uint8_t payload[1500] = { 0 };
	uint64_t t_end, now;
	long long fwd0;
	unsigned p, j;
	int n, k;

	memset(res, 0, sizeof(*res));
	if (!snd || !rx)
		goto out;
	for (p = 0; p < pairs; p++) {
		struct test_node *a = &tn[2 * p], *b = &tn[2 * p + 1];

		snd[p].buf = malloc(MMSG_BATCH * sizeof(*snd[p].buf));
		if (!snd[p].buf)
			goto out;
		snd[p].pkt_len = tn_build_udp4(snd[p].pkt, a->cfg.ipv4, b->cfg.ipv4, payload,
					       size - 28);
		pfd[p] = (struct pollfd){ .fd = b->fd, .events = POLLIN };
	}
	fwd0 = relay_figure("forwarded_packets");
	cpu_window_start(&res->cw);
	now = tn_now_ns();
	t_end = after_s(window_s);
	for (p = 0; p < pairs; p++)
		snd[p].last_progress = now;
	while (now < t_end && !interrupted) {
		bool busy = false;

		/* Senders: top up each pair's credit, one sendmmsg per pair. */
		for (p = 0; p < pairs; p++) {
			struct fwd_sender *s = &snd[p];
			unsigned long inflight;
			unsigned room;

			/* Packets counted lost may still arrive late. */
			if (s->sent < s->got + s->lost)
				s->lost = s->sent - s->got;
			inflight = s->sent - s->got - s->lost;
			room = inflight < credit ? credit - (unsigned)inflight : 0;

			if (room > MMSG_BATCH)
				room = MMSG_BATCH;
			for (j = 0; j < room; j++) {
				int len = kh_transport_seal(&tn[2 * p].kp, s->pkt, s->pkt_len,
							    s->buf[j], now);

				if (len > 0)
					txq_add(&s->q, s->buf[j], (size_t)len);
			}
			if (room) {
				s->sent += txq_flush(&s->q, tn[2 * p].fd);
				busy = true;
			}
		}
		/* Receivers: open and count what arrived. */
		for (p = 0; p < pairs; p++) {
			struct fwd_sender *s = &snd[p];

			while ((n = rx_batch(rx, tn[2 * p + 1].fd)) > 0) {
				for (k = 0; k < n; k++) {
					int plen = kh_transport_open(&tn[2 * p + 1].kp, rx->buf[k],
								     rx->m[k].msg_len,
								     rx->buf[k] + KH_DATA_HEADER_LEN, now);

					/* Anything else is the keepalive answer left from the handshake. */
					if (plen == (int)s->pkt_len &&
					    rx->buf[k][KH_DATA_HEADER_LEN] >> 4 == 4)
						s->got++;
				}
				s->last_progress = now;
				busy = true;
			}
		}
		if (!busy)
			poll(pfd, pairs, 1);
		now = tn_now_ns();
		for (p = 0; p < pairs; p++) {
			struct fwd_sender *s = &snd[p];

			if (s->sent > s->got + s->lost && now - s->last_progress > STALL_NS) {
				s->lost = s->sent - s->got;
				s->last_progress = now;
			}
		}
	}
	cpu_window_end(&res->cw);
	for (p = 0; p < pairs; p++) {
		res->delivered += snd[p].got;
		res->sent += snd[p].sent;
	}
	res->pps = (double)res->delivered / res->cw.seconds;
	/* Wait for what is still on its way: it is late, not lost, and the next
	 * run must start from empty queues. */
	usleep(100000);
	res->lost = res->sent - res->delivered;
	for (p = 0; p < pairs; p++) {
		while ((n = rx_batch(rx, tn[2 * p + 1].fd)) > 0) {
			for (k = 0; k < n; k++)
				if (kh_transport_open(&tn[2 * p + 1].kp, rx->buf[k], rx->m[k].msg_len,
						      rx->buf[k] + KH_DATA_HEADER_LEN,
						      tn_now_ns()) == (int)snd[p].pkt_len &&
				    res->lost)
					res->lost--;
		}
	}
	res->forwarded = relay_figure("forwarded_packets") - fwd0;
out:
	if (snd)
		for (p = 0; p < pairs; p++)
			free(snd[p].buf);
	free(snd);
	free(rx);
}

static int phase_forward(const struct plan *plan, struct test_node *tn)
{
	static const char *const flags[] = {
		"--handshake-load", "10000000", "--keepalive", "60", "--dead-peer-timeout", "600",
		NULL,
	};
	static const size_t sizes[2] = { 64, 1400 };
	unsigned inflight[2] = { plan->fwd_inflight_small, plan->fwd_inflight_large }, i, credit;
	int size = SOCKET_BUFFER, ret = -1, s;
	struct fwd_result res;
	char what[64];

	if (relay_start(flags))
		return -1;
	for (i = 0; i < 2 * plan->pairs; i++) {
		if (tn_connect(&tn[i], NULL, NULL, 2000)) {
			say("forward: node %u could not connect", i);
			goto out;
		}
		setsockopt(tn[i].fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	}
	pin_to(0, relay.cpu >= 0 ? 0 : -1);
	for (s = 0; s < 2; s++) {
		credit = inflight[s] / plan->pairs;
		fwd_run(tn, plan->pairs, sizes[s], credit > 8 ? credit : 8, plan->fwd_window_s, &res);
		if (!res.cw.seconds)
			goto out;
		broken |= res.delivered == 0;
		say("forward: %zu-byte packets: %.0f/s delivered, relay CPU %.0f%%, generator CPU "
		    "%.0f%%, others %.2f CPU", sizes[s], res.pps, 100 * res.cw.relay,
		    100 * res.cw.gen, cpu_others(&res.cw));
		row("| forwarded %zu-byte packets per second (%u pairs, one way, UDP in IPv4) | "
		    "**%.0f** delivered = %.0f Mbit/s of inner packets (%lu sent, %lu lost, relay "
		    "forwarded %lld) |",
		    sizes[s], plan->pairs, res.pps, res.pps * (double)sizes[s] * 8 / 1e6, res.sent,
		    res.lost, res.forwarded);
		snprintf(what, sizeof(what), "while forwarding %zu-byte packets", sizes[s]);
		cpu_row(what, &res.cw);
	}
	ret = 0;
out:
	pin_to(0, -1);
	relay_stop(NULL);
	return ret;
}

/* ---- setup ---- */

static int enroll(const struct noise_static *keys, size_t n, const struct test_node *tn,
		  size_t ntn)
{
	struct kh_registry *reg = NULL;
	char err[256], name[32];
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int ret;

	ret = kh_registry_open(&reg, relay.dir, err, sizeof(err));
	for (i = 0; !ret && i < n + ntn; i++) {
		snprintf(name, sizeof(name), i < n ? "load-%zu" : "pair-%zu", i < n ? i : i - n);
		ret = kh_registry_node_add(reg, name, i < n ? keys[i].pub : tn[i - n].key.pub, NULL,
					   0, now, NULL, err, sizeof(err));
	}
	if (reg)
		kh_registry_close(reg);
	if (ret)
		say("cannot enroll: %s", err);
	return ret;
}

static int setup_state(void)
{
	char out[256];
	const char *why;
	size_t i;

	snprintf(relay.dir, sizeof(relay.dir), "/tmp/keyhole-relay-load-XXXXXX");
	if (!mkdtemp(relay.dir)) {
		relay.dir[0] = '\0';
		say("cannot create a temporary directory: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(state_files) / sizeof(state_files[0]); i++)
		snprintf(state_paths[i], sizeof(state_paths[i]), "%s/%s", relay.dir,
			 state_files[i]);
	snprintf(relay.log, sizeof(relay.log), "%s/relay.log", relay.dir);
	relay.port = (uint16_t)(20000 + randombytes_uniform(40000));
	/* The first command creates the state: key, database and network. */
	if (tn_shell(out, sizeof(out), "%s -d %s pubkey 2>>%s", relay.bin, relay.dir, relay.log) ||
	    kh_key_from_base64(relay.pub, out, strlen(out), &why)) {
		say("'%s pubkey' failed", relay.bin);
		relay_log_tail();
		return -1;
	}
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void print_results(FILE *f, const struct plan *plan)
{
	fprintf(f, "keyhole-relay load (%s run): relay `%s` on 127.0.0.1 only, one event-loop "
		   "thread%s; %d CPUs online.\n\n",
		plan->quick ? "quick" : "full", relay.bin,
		relay.cpu >= 0 ? " pinned to CPU 1, generator pinned to CPU 0" : ", not pinned",
		ncpus);
	fprintf(f, "| figure | value |\n|---|---|\n%s", table);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: relay-load RELAY_BINARY [--quick] [--out FILE]\n"
		   "Starts its own keyhole-relay on 127.0.0.1 and measures handshakes per second,\n"
		   "idle sessions and their memory, and forwarded packets per second.\n"
		   "  --quick     small counts, about 5 s (a smoke test)\n"
		   "  --out FILE  also write the results table to FILE\n");
}

int main(int argc, char *argv[])
{
	const struct plan *plan = &full_plan;
	struct noise_static *keys = NULL;
	struct idle_sess *sessions = NULL;
	struct test_node *tn = NULL;
	const char *out_path = NULL;
	unsigned nkeys, nidle, i;
	uint64_t t0, start = tn_now_ns();
	double x25519, x25519_base;
	int ret = 1, a;
	FILE *f;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick")) {
			plan = &quick_plan;
		} else if (!strcmp(argv[a], "--out") && a + 1 < argc) {
			out_path = argv[++a];
		} else if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[a][0] != '-' && !relay.bin) {
			relay.bin = argv[a];
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (!relay.bin) {
		usage(stderr);
		return 1;
	}
	if (access(relay.bin, X_OK)) {
		fprintf(stderr, "relay-load: cannot run %s: %s\n", relay.bin, strerror(errno));
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	/* The relay alone on the last core, the generator on the first: each
	 * figure is then one core's worth, and the CPU shares say who was the bound. */
	relay.cpu = ncpus >= 2 ? 1 : -1;
	run_deadline = start + (uint64_t)(plan->budget_s * 1e9);
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	signal(SIGHUP, on_interrupt);
	signal(SIGALRM, on_watchdog);
	alarm((unsigned)plan->budget_s + 60);
	raise_fd_limit();

	nidle = plan->idle_large ? plan->idle_large : plan->idle_small;
	nkeys = nidle > plan->hs_keys ? nidle : plan->hs_keys;
	keys = malloc(nkeys * sizeof(*keys));
	sessions = calloc(nidle, sizeof(*sessions));
	tn = calloc(2 * plan->pairs, sizeof(*tn));
	if (!keys || !sessions || !tn || plan->pairs > FWD_MAX_PAIRS)
		goto out;
	for (i = 0; i < 2 * plan->pairs; i++)
		tn[i].fd = -1;
	if (setup_state())
		goto out;

	t0 = tn_now_ns();
	if (par_for(nkeys, keygen_range, keys))
		goto out;
	for (i = 0; i < 2 * plan->pairs; i++)
		if (tn_init(&tn[i], relay.pub, relay.port))
			goto out;
	if (enroll(keys, nkeys, tn, 2 * plan->pairs))
		goto out;
	nodes_enrolled = nkeys + 2 * plan->pairs;
	say("%u nodes enrolled in %.1f s", nodes_enrolled, secs(tn_now_ns() - t0));

	/* X25519 on the core the relay will use, while nothing else runs there. */
	pin_to(0, relay.cpu);
	x25519 = bench_x25519(plan->x25519_s, false);
	x25519_base = bench_x25519(plan->x25519_s / 2, true);
	pin_to(0, -1);

	/* The clients' halves of the idle sessions' handshakes, on every core, before the relay runs. */
	t0 = tn_now_ns();
	{
		struct idle_prep prep = { keys, sessions };

		if (par_for(nidle, idle_prep_range, &prep))
			goto out;
	}
	say("idle: %u initiations prepared in %.1f s", nidle, secs(tn_now_ns() - t0));

	if (phase_handshakes(plan, keys, x25519, x25519_base) || interrupted)
		goto out;
	if (phase_idle(plan, keys, sessions, nidle) || interrupted)
		goto out;
	if (phase_forward(plan, tn) || interrupted)
		goto out;
	row("| whole run | %.1f s |", secs(tn_now_ns() - start));
	ret = broken;
	if (out_path) {
		f = fopen(out_path, "w");
		if (!f || (print_results(f, plan), fclose(f))) {
			say("cannot write %s: %s", out_path, strerror(errno));
			ret = 1;
		}
	}
out:
	relay_stop(NULL);
	if (relay.dir[0] && !relay_log_clean()) {
		say("the relay's log holds sanitizer reports:");
		tn_shell(NULL, 0, "grep -E -A20 'Sanitizer|runtime error' %s >&2", relay.log);
		ret = 1;
	}
	if (table_len)
		print_results(stdout, plan);
	if (ret)
		say("failed%s", interrupted ? " (interrupted or out of time)"
			    : broken    ? " (a figure came out zero or a target was not reached)"
					: "");
	if (tn)
		for (i = 0; i < 2 * plan->pairs; i++)
			if (tn[i].fd >= 0)
				tn_close(&tn[i]);
	cleanup();
	if (sessions)
		sodium_memzero(sessions, (size_t)nidle * sizeof(*sessions));
	if (keys)
		sodium_memzero(keys, (size_t)nkeys * sizeof(*keys));
	free(sessions);
	free(keys);
	free(tn);
	return ret;
}
