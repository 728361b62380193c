// SPDX-License-Identifier: GPL-2.0
/*
 * queue.c - the crypto off the CPU that handed the packet over: a transmit and a receive
 * queue per device, each drained in order by one work item on an unbound workqueue, so the
 * sender's (or the softirq's) CPU goes on while another seals or opens, the pipelining the
 * TUN data plane gets from running in its own process. keyhole.workers=0 seals and opens
 * inline instead, for measuring the difference.
 */
#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/dst.h>

#include "keyhole.h"

/* Packets waiting per direction and device; beyond it they are dropped, as a full qdisc would. */
#define KH_QUEUE_MAX 1024
/* Packets a work item handles before it lets others run. */
#define KH_QUEUE_BUDGET 64

static bool workers = true;
module_param(workers, bool, 0644);
MODULE_PARM_DESC(workers, "seal and open on a workqueue (1, default) or inline (0)");

static struct workqueue_struct *keyhole_wq;

static void tx_work(struct work_struct *work)
{
	struct keyhole_dev *kd = container_of(work, struct keyhole_dev, tx_work);
	unsigned int n = 0;
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&kd->tx_queue))) {
		rcu_read_lock_bh();
		keyhole_send(kd, skb);
		rcu_read_unlock_bh();
		if (++n % KH_QUEUE_BUDGET == 0)
			cond_resched();
	}
}

static void rx_work(struct work_struct *work)
{
	struct keyhole_dev *kd = container_of(work, struct keyhole_dev, rx_work);
	unsigned int n = 0;
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&kd->rx_queue))) {
		/* Softirqs off, as in the encap hook: GRO cells expect it. */
		rcu_read_lock_bh();
		keyhole_receive(kd, skb);
		rcu_read_unlock_bh();
		if (++n % KH_QUEUE_BUDGET == 0)
			cond_resched();
	}
}

static void enqueue(struct keyhole_dev *kd, struct sk_buff_head *q, struct work_struct *work,
		    struct sk_buff *skb, atomic64_t *dropped)
{
	if (skb_queue_len(q) >= KH_QUEUE_MAX) {
		atomic64_inc(dropped);
		kfree_skb(skb);
		return;
	}
	/* The route may be a reference only valid under this RCU section (a noref dst from
	 * the output or input path); neither side needs it any more.
	 */
	skb_dst_drop(skb);
	skb_queue_tail(q, skb);
	queue_work(keyhole_wq, work);
}

/* rcu_read_lock_bh held; consumes skb. */
void keyhole_queue_tx(struct keyhole_dev *kd, struct sk_buff *skb)
{
	if (!READ_ONCE(workers)) {
		keyhole_send(kd, skb);
		return;
	}
	enqueue(kd, &kd->tx_queue, &kd->tx_work, skb, &kd->tx_dropped);
}

/* In the encap hook (softirq, rcu_read_lock held); consumes skb. */
void keyhole_queue_rx(struct keyhole_dev *kd, struct sk_buff *skb)
{
	if (!READ_ONCE(workers)) {
		keyhole_receive(kd, skb);
		return;
	}
	enqueue(kd, &kd->rx_queue, &kd->rx_work, skb, &kd->rx_dropped);
}

void keyhole_queue_dev_init(struct keyhole_dev *kd)
{
	skb_queue_head_init(&kd->tx_queue);
	skb_queue_head_init(&kd->rx_queue);
	INIT_WORK(&kd->tx_work, tx_work);
	INIT_WORK(&kd->rx_work, rx_work);
}

/* The device goes: nothing may be queued or running for it any more. */
void keyhole_queue_dev_uninit(struct keyhole_dev *kd)
{
	cancel_work_sync(&kd->tx_work);
	cancel_work_sync(&kd->rx_work);
	skb_queue_purge(&kd->tx_queue);
	skb_queue_purge(&kd->rx_queue);
}

int keyhole_queue_init(void)
{
	keyhole_wq = alloc_workqueue("keyhole", WQ_UNBOUND | WQ_HIGHPRI, 0);
	return keyhole_wq ? 0 : -ENOMEM;
}

void keyhole_queue_uninit(void)
{
	destroy_workqueue(keyhole_wq);
}
