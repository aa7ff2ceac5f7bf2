/* Private helpers of the attestation module (evidence layout, key internals). */
#ifndef WARD_ATTEST_INTERNAL_H
#define WARD_ATTEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_internal.h"
#include "ward/attest.h"

/* Byte offsets of host evidence version 1 (see include/ward/attest.h). */
enum {
	EV_OFF_MAGIC = 0,
	EV_OFF_VERSION = 4,
	EV_OFF_MODE = 5,
	EV_OFF_FLAGS = 6,
	EV_OFF_RSV1 = 7,
	EV_OFF_PLATFORM = 8,
	EV_OFF_LAUNCHER = 40,
	EV_OFF_WORKLOAD = 72,
	EV_OFF_RDATA = 104,
	EV_OFF_NONCE = 136,
	EV_OFF_LASNONCE = 168,
	EV_OFF_TIME = 184,
	EV_OFF_PID = 192,
	EV_OFF_UID = 196,
	EV_OFF_GID = 200,
	EV_OFF_RSV2 = 204,
	EV_OFF_SIG = 208,
	EV_SIGNED_BYTES = 208,
	EV_HEADER_BYTES = 8,
};

#define EV_MAGIC   "WEV1"
#define EV_VERSION 1u

/* The Ed25519 secret key (libsodium's 64-byte seed||public form). */
struct ward_attest_key {
	uint8_t sk[64];
	uint8_t pk[32];
};

/* 1 if a (n bytes) equals one of the 32-byte entries of list, compared in constant time per entry.
 */
int attest_in_list(const uint8_t a[32], const uint8_t (*list)[32], size_t n);

/* Where ward_attest_measure_process finds the mappings; tests pin each source. */
enum attest_maps {
	ATTEST_MAPS_AUTO,  /* PROCMAP_QUERY, else the /proc/PID/maps text (the default) */
	ATTEST_MAPS_QUERY, /* PROCMAP_QUERY only: WARD_E_UNSUPPORTED on kernels before 6.11 */
	ATTEST_MAPS_TEXT,  /* the text only, as on kernels before 6.11 */
};

/* ward_attest_measure_process with the source of the mappings chosen. */
WARD_NODISCARD int attest_measure_process_maps(int pid, const struct ward_attest_proc_ops *ops,
                                               enum attest_maps how, uint8_t out[32]);

#endif
