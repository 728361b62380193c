/* keyfile.c - key files: bounded reads, permission checks, 0600 creation, secrets wiped. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* A key file holds 44 characters and a newline; read a little more to see garbage. */
#define KEYFILE_READ_MAX 128

static int decode(uint8_t key[KH_KEY_LEN], char *text, size_t len, const char *what,
		  char *err, size_t err_len)
{
	const char *why = NULL;
	int ret = kh_key_from_base64(key, text, len, &why);

	if (ret)
		snprintf(err, err_len, "%s: invalid key: %s", what, why);
	sodium_memzero(text, KEYFILE_READ_MAX);
	return ret;
}

int kh_keyfile_read_private(uint8_t key[KH_KEY_LEN], const char *path, char *err,
			    size_t err_len)
{
	char text[KEYFILE_READ_MAX];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	/* Non-blocking: a FIFO in place of a key file must not hang us before the check below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_len, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		snprintf(err, err_len,
			 "%s: private key is accessible by group or others (mode %04o); "
			 "run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		return -EACCES;
	}
	while (len < sizeof(text)) {
		n = read(fd, text + len, sizeof(text) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			close(fd);
			sodium_memzero(text, sizeof(text));
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(-ret));
			return ret;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return decode(key, text, len, path, err, err_len);
}

int kh_keyfile_read_stream(uint8_t key[KH_KEY_LEN], FILE *in, char *err, size_t err_len)
{
	char text[KEYFILE_READ_MAX];
	size_t len = fread(text, 1, sizeof(text), in);

	if (ferror(in)) {
		sodium_memzero(text, sizeof(text));
		snprintf(err, err_len, "cannot read key: %s", strerror(errno));
		return -EIO;
	}
	return decode(key, text, len, "key", err, err_len);
}

int kh_keyfile_write(const char *path, const uint8_t key[KH_KEY_LEN], char *err,
		     size_t err_len)
{
	char text[KH_KEY_B64_LEN + 2];
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
		return ret;
	}
	/* An older file may have had looser permissions: tighten before writing. */
	if (fchmod(fd, 0600) < 0)
		ret = -errno;
	kh_key_to_base64(text, key);
	text[KH_KEY_B64_LEN] = '\n';
	if (!ret && write(fd, text, KH_KEY_B64_LEN + 1) != KH_KEY_B64_LEN + 1)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	sodium_memzero(text, sizeof(text));
	if (ret)
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(-ret));
	return ret;
}
