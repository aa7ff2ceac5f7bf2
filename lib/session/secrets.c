/* Secret values: sets in guarded memory, generation inside the service, public halves. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "session/session_internal.h"
#include "ward/secmem.h"

struct entry {
	char *name;
	enum ward_secret_kind kind;
	uint8_t *value; /* ward_secmem_alloc */
	size_t len;
};

struct ward_secret_set {
	atomic_uint refs; /* ward_secret_set_ref shares a set nobody changes any more */
	struct entry *e;
	size_t n, cap;
};

int ward_secret_set_new(struct ward_secret_set **out)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	*out = calloc(1, sizeof **out);
	if (!*out)
		return ward_error(WARD_E_NOMEM, "out of memory");
	atomic_init(&(*out)->refs, 1);
	return 0;
}

struct ward_secret_set *ward_secret_set_ref(struct ward_secret_set *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
	return set;
}

void ward_secret_set_free(struct ward_secret_set *set)
{
	if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) > 1)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->e[i].name);
		ward_secmem_free(set->e[i].value);
	}
	free(set->e);
	free(set);
}

static struct entry *find(const struct ward_secret_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->e[i].name, name) == 0)
			return &set->e[i];
	return NULL;
}

int ward_secret_set_put(struct ward_secret_set *set, const char *name, enum ward_secret_kind kind,
                        const uint8_t *value, size_t len)
{
	if (len > WARD_SECRET_MAX_SIZE || (len && !value))
		return ward_error(WARD_E_INVAL, "secret '%s': bad length %zu", name, len);
	uint8_t *copy = ward_secmem_alloc(len + 1);
	if (!copy)
		return ward_error(WARD_E_NOMEM, "out of memory");
	if (len)
		memcpy(copy, value, len);
	copy[len] = 0;
	struct entry *e = find(set, name);
	if (e) {
		ward_secmem_free(e->value);
	} else {
		if (set->n == set->cap) {
			size_t cap = set->cap ? 2 * set->cap : 8;
			struct entry *ne = realloc(set->e, cap * sizeof *ne);
			if (!ne) {
				ward_secmem_free(copy);
				return ward_error(WARD_E_NOMEM, "out of memory");
			}
			set->e = ne;
			set->cap = cap;
		}
		e = &set->e[set->n];
		if (!(e->name = strdup(name))) {
			ward_secmem_free(copy);
			return ward_error(WARD_E_NOMEM, "out of memory");
		}
		set->n++;
	}
	e->kind = kind;
	e->value = copy;
	e->len = len;
	return 0;
}

const uint8_t *ward_secret_set_get(const struct ward_secret_set *set, const char *name,
                                   enum ward_secret_kind *kind, size_t *len)
{
	const struct entry *e = find(set, name);
	if (!e)
		return NULL;
	if (kind)
		*kind = e->kind;
	if (len)
		*len = e->len;
	return e->value;
}

size_t ward_secret_set_count(const struct ward_secret_set *set)
{
	return set->n;
}

const char *ward_secret_set_entry(const struct ward_secret_set *set, size_t i,
                                  enum ward_secret_kind *kind, const uint8_t **value, size_t *len)
{
	if (i >= set->n)
		return NULL;
	if (kind)
		*kind = set->e[i].kind;
	if (value)
		*value = set->e[i].value;
	if (len)
		*len = set->e[i].len;
	return set->e[i].name;
}

/* Fills v with size characters of [A-Za-z0-9], uniformly (randombytes_uniform has no modulo bias).
 */
static void gen_ascii(uint8_t *v, size_t size)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	for (size_t i = 0; i < size; i++)
		v[i] = (uint8_t)alphabet[randombytes_uniform(sizeof alphabet - 1)];
}

static int generate(struct ward_secret_set *out, const struct ws_secret *x)
{
	uint8_t *v = ward_secmem_alloc(x->size);
	if (!v)
		return ward_error(WARD_E_NOMEM, "out of memory");
	if (x->kind == WARD_SECRET_ASCII)
		gen_ascii(v, x->size);
	else
		randombytes_buf(v, x->size); /* binary bytes, X25519 key, Ed25519 seed */
	int rc = ward_secret_set_put(out, x->name, x->kind, v, x->size);
	ward_secmem_free(v);
	return rc;
}

int ward_session_secrets_resolve(const struct ward_session *s, const struct ward_secret_set *prev,
                                 struct ward_secret_set **out)
{
	*out = NULL;
	struct ward_secret_set *set;
	int rc = ward_secret_set_new(&set);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nsecrets && !rc; i++) {
		const struct ws_secret *x = &s->secrets[i];
		enum ward_secret_kind pk;
		size_t plen;
		const uint8_t *pv = prev ? ward_secret_set_get(prev, x->name, &pk, &plen) : NULL;
		if (x->value)
			rc = ward_secret_set_put(set, x->name, x->kind, x->value, x->value_len);
		else if (pv && pk == x->kind && plen == x->size)
			rc = ward_secret_set_put(set, x->name, x->kind, pv, plen);
		else
			rc = generate(set, x);
	}
	if (rc) {
		ward_secret_set_free(set);
		return rc;
	}
	*out = set;
	return 0;
}

int ward_secret_public(enum ward_secret_kind kind, const uint8_t *value, size_t len, uint8_t pk[32])
{
	if (len != 32)
		return ward_error(WARD_E_INVAL, "key secrets are 32 bytes");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	if (kind == WARD_SECRET_X25519) {
		if (crypto_scalarmult_base(pk, value) != 0)
			return ward_error(WARD_E_INVAL, "invalid X25519 key");
		return 0;
	}
	if (kind == WARD_SECRET_ED25519) {
		uint8_t *sk = ward_secmem_alloc(crypto_sign_SECRETKEYBYTES);
		if (!sk)
			return ward_error(WARD_E_NOMEM, "out of memory");
		crypto_sign_seed_keypair(pk, sk, value);
		ward_secmem_free(sk);
		return 0;
	}
	return ward_error(WARD_E_INVAL, "%s secrets have no public half",
	                  ward_secret_kind_name(kind));
}
