/* transport.c - data messages: ChaCha20-Poly1305 with the counter as nonce, anti-replay, limits. */
#include "transport.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void kh_keypair_init(struct kh_keypair *kp, const struct noise_split *keys,
		     uint32_t local_index, uint32_t remote_index, bool initiator,
		     uint64_t now_ns)
{
	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, keys->send, NOISE_KEY_LEN);
	memcpy(kp->recv_key, keys->recv, NOISE_KEY_LEN);
	kh_replay_init(&kp->replay);
	kp->local_index = local_index;
	kp->remote_index = remote_index;
	kp->birth_ns = now_ns;
	kp->initiator = initiator;
	kp->valid = true;
}

void kh_keypair_wipe(struct kh_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

bool kh_keypair_expired(const struct kh_keypair *kp, uint64_t now_ns)
{
	return !kp->valid || now_ns - kp->birth_ns >= KH_REJECT_AFTER_TIME_NS;
}

bool kh_keypair_needs_rekey(const struct kh_keypair *kp, uint64_t now_ns)
{
	return kp->initiator && (kp->send_counter >= KH_REKEY_AFTER_MESSAGES ||
				 now_ns - kp->birth_ns >= KH_REKEY_AFTER_TIME_NS);
}

int kh_transport_seal(struct kh_keypair *kp, const uint8_t *payload, size_t len,
		      uint8_t *out, uint64_t now_ns)
{
	uint64_t counter;

	if (len > KH_DATA_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (kh_keypair_expired(kp, now_ns) || kp->send_counter >= KH_REJECT_AFTER_MESSAGES)
		return -ESTALE;
	counter = kp->send_counter++;
	kh_put_header(out, KH_MSG_TRANSPORT);
	kh_put_le32(out + KH_DATA_RECEIVER_OFF, kp->remote_index);
	kh_put_le64(out + KH_DATA_COUNTER_OFF, counter);
	noise_aead_encrypt(kp->send_key, counter, NULL, 0, payload, len,
			   out + KH_DATA_HEADER_LEN);
	return (int)(len + KH_DATA_OVERHEAD);
}

int64_t kh_transport_receiver(const uint8_t *msg, size_t len)
{
	if (len < KH_DATA_OVERHEAD || len > KH_DATA_MAX_LEN ||
	    kh_msg_type(msg, len) != KH_MSG_TRANSPORT)
		return -EINVAL;
	return kh_get_le32(msg + KH_DATA_RECEIVER_OFF);
}

int kh_transport_open(struct kh_keypair *kp, const uint8_t *msg, size_t len,
		      uint8_t *out, uint64_t now_ns)
{
	uint64_t counter;

	if (kh_transport_receiver(msg, len) < 0)
		return -EINVAL;
	if (kh_keypair_expired(kp, now_ns))
		return -ESTALE;
	counter = kh_get_le64(msg + KH_DATA_COUNTER_OFF);
	if (counter >= KH_REJECT_AFTER_MESSAGES)
		return -ESTALE;
	if (noise_aead_decrypt(kp->recv_key, counter, NULL, 0, msg + KH_DATA_HEADER_LEN,
			       len - KH_DATA_HEADER_LEN, out))
		return -EBADMSG;
	/* The window moves only for authenticated counters. */
	if (!kh_replay_check(&kp->replay, counter, KH_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	return (int)(len - KH_DATA_OVERHEAD);
}
