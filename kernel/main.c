// SPDX-License-Identifier: GPL-2.0
/* main.c - keyhole.ko: register the link kind and the netlink family; self-tests on request. */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include <net/rtnetlink.h>

#include "keyhole.h"

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the self-tests (replay window, transport seal/open) at load");

static bool bench;
module_param(bench, bool, 0444);
MODULE_PARM_DESC(bench, "time the AEAD at load and log its Mbit/s (for make vmbench)");

static int __init keyhole_init(void)
{
	int err;

	if (selftest && !keyhole_selftest())
		return -ENOTRECOVERABLE;
	if (bench)
		keyhole_bench();
	err = keyhole_queue_init();
	if (err)
		return err;
	err = keyhole_device_init();
	if (err)
		goto fail_queue;
	err = keyhole_genl_init();
	if (err)
		goto fail_device;
	pr_info("keyhole: kernel data plane for keyholed loaded\n");
	return 0;
fail_device:
	keyhole_device_uninit();
fail_queue:
	keyhole_queue_uninit();
	return err;
}

static void __exit keyhole_exit(void)
{
	keyhole_genl_uninit();
	keyhole_device_uninit();
	keyhole_queue_uninit();
	/* The keys and relay addresses freed after grace periods must be gone first. */
	rcu_barrier();
}

module_init(keyhole_init);
module_exit(keyhole_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("keyhole: kernel data plane for the keyhole overlay");
MODULE_AUTHOR("The keyhole authors");
MODULE_ALIAS_RTNL_LINK("keyhole");
MODULE_ALIAS_GENL_FAMILY(KEYHOLE_GENL_NAME);
