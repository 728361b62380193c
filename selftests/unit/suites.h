/* suites.h - the list of unit test suites, one per file of selftests/unit/. */
#ifndef KEYHOLE_SUITES_H
#define KEYHOLE_SUITES_H

#include "test.h"

extern const struct test_case noise_vector_tests[];
extern const struct test_case handshake_tests[];
extern const struct test_case replay_tests[];
extern const struct test_case transport_tests[];
extern const struct test_case key_tests[];
extern const struct test_case keyfile_tests[];
extern const struct test_case cookie_tests[];
extern const struct test_case registry_tests[];
extern const struct test_case ippacket_tests[];
extern const struct test_case gso_tests[];
extern const struct test_case gro_tests[];
extern const struct test_case attr_tests[];
extern const struct test_case control_tests[];
extern const struct test_case ratelimit_tests[];
extern const struct test_case map_tests[];
extern const struct test_case genl_tests[];
extern const struct test_case genl_dataplane_tests[];
extern const struct test_case config_tests[];

static const struct {
	const char *name;
	const struct test_case *cases;
} all_suites[] = {
	{ "noise-vectors", noise_vector_tests },
	{ "handshake", handshake_tests },
	{ "cookie", cookie_tests },
	{ "replay", replay_tests },
	{ "transport", transport_tests },
	{ "key", key_tests },
	{ "keyfile", keyfile_tests },
	{ "ippacket", ippacket_tests },
	{ "gso", gso_tests },
	{ "gro", gro_tests },
	{ "registry", registry_tests },
	{ "attr", attr_tests },
	{ "control", control_tests },
	{ "ratelimit", ratelimit_tests },
	{ "map", map_tests },
	{ "genl", genl_tests },
	{ "genl-dataplane", genl_dataplane_tests },
	{ "config", config_tests },
	{ NULL, NULL },
};

#endif
