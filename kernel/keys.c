// SPDX-License-Identifier: GPL-2.0
/* keys.c - keypairs: made from what the daemon's handshake derived, freed wiped after RCU. */
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "keyhole.h"

struct keyhole_keypair *keyhole_keypair_new(u32 local_index, u32 remote_index,
					    const u8 *send_key, const u8 *recv_key)
{
	struct keyhole_keypair *kp = kzalloc(sizeof(*kp), GFP_KERNEL);

	if (!kp)
		return NULL;
	memcpy(kp->send_key, send_key, KEYHOLE_KEY_LEN);
	memcpy(kp->recv_key, recv_key, KEYHOLE_KEY_LEN);
	atomic64_set(&kp->send_counter, 0);
	spin_lock_init(&kp->replay_lock);
	keyhole_replay_init(&kp->replay);
	kp->local_index = local_index;
	kp->remote_index = remote_index;
	kp->birth_jiffies = get_jiffies_64();
	return kp;
}

static void keypair_free_rcu(struct rcu_head *rcu)
{
	kfree_sensitive(container_of(rcu, struct keyhole_keypair, rcu));
}

/* The data path may still hold it under rcu_read_lock: wipe and free after a grace period. */
void keyhole_keypair_free(struct keyhole_keypair *kp)
{
	if (kp)
		call_rcu(&kp->rcu, keypair_free_rcu);
}

bool keyhole_keypair_expired(const struct keyhole_keypair *kp)
{
	return time_after_eq64(get_jiffies_64(),
			       kp->birth_jiffies + (u64)KH_REJECT_AFTER_SECONDS * HZ);
}
