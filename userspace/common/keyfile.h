/* keyfile.h - read keys from files and streams, refusing private key files others can read. */
#ifndef KEYHOLE_KEYFILE_H
#define KEYHOLE_KEYFILE_H

#include <stdint.h>
#include <stdio.h>

#include "../lib/key.h"

/*
 * Read a private key from path. Refuses a file that is group- or
 * world-accessible. On error returns -errno and writes a one-line reason
 * (naming the file) into err.
 */
int kh_keyfile_read_private(uint8_t key[KH_KEY_LEN], const char *path, char *err,
			    size_t err_len);
/* Read one key from a stream (stdin for `keyhole pubkey`). */
int kh_keyfile_read_stream(uint8_t key[KH_KEY_LEN], FILE *in, char *err, size_t err_len);
/* Write a key as text to path, created with mode 0600 (replacing an older file). */
int kh_keyfile_write(const char *path, const uint8_t key[KH_KEY_LEN], char *err,
		     size_t err_len);

#endif
