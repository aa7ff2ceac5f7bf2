/* Growable text buffers (optionally in guarded memory), canonical JSON strings, secret references.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "session/session_internal.h"
#include "ward/secmem.h"

void ws_buf_init(struct ws_buf *b, int secure)
{
	memset(b, 0, sizeof *b);
	b->secure = secure;
	/* libsodium must be initialised before guarded memory is used. */
	if (secure && sodium_init() < 0)
		b->oom = 1;
}

static void *buf_alloc(int secure, size_t n)
{
	return secure ? ward_secmem_alloc(n) : malloc(n);
}

static void buf_release(int secure, char *p, size_t cap)
{
	if (!p)
		return;
	if (secure) {
		ward_secmem_free(p); /* wipes */
	} else {
		sodium_memzero(p, cap);
		free(p);
	}
}

/* Grows to hold n more bytes plus a NUL. Secure buffers are copied, never realloc'ed, so no copy is
 * left unwiped. */
static int grow(struct ws_buf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = buf_alloc(b->secure, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	if (b->len)
		memcpy(p, b->p, b->len);
	buf_release(b->secure, b->p, b->cap);
	b->p = p;
	b->cap = cap;
	return 0;
}

void ws_buf_put(struct ws_buf *b, const void *data, size_t n)
{
	if (n == 0 || grow(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void ws_buf_puts(struct ws_buf *b, const char *s)
{
	ws_buf_put(b, s, strlen(s));
}

void ws_buf_json_str(struct ws_buf *b, const char *s, size_t n)
{
	ws_buf_put(b, "\"", 1);
	size_t run = 0; /* bytes copied verbatim in one go */
	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		char u[7];
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				/* Never in validated sessions; rendered secrets may contain them.
				 */
				static const char hex[] = "0123456789abcdef";
				memcpy(u, "\\u00", 4);
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
			}
		}
		if (esc) {
			ws_buf_put(b, s + i - run, run);
			run = 0;
			ws_buf_puts(b, esc);
		} else {
			run++;
		}
	}
	ws_buf_put(b, s + n - run, run);
	ws_buf_put(b, "\"", 1);
}

int ws_buf_finish(struct ws_buf *b, char **out, size_t *len)
{
	if (grow(b, 0)) {
		ws_buf_free(b);
		return ward_error(WARD_E_NOMEM, "out of memory building text");
	}
	b->p[b->len] = '\0';
	*out = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

void ws_buf_free(struct ws_buf *b)
{
	buf_release(b->secure, b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

void ward_session_text_free(char *text)
{
	if (text)
		ward_secmem_free(text);
}

static int name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

int ws_ref_next(const char *s, size_t *pos, struct ws_ref *ref)
{
	static const char open[] = "$$WARD::";
	const char *p = strstr(s + *pos, open);
	if (!p)
		return 0;
	size_t start = (size_t)(p - s);
	const char *q = p + sizeof open - 1;
	const char *name = q;
	while (name_char(*q))
		q++;
	memset(ref, 0, sizeof *ref);
	ref->name = name;
	ref->namelen = (size_t)(q - name);
	ref->start = start;
	if (ref->namelen == 0) {
		*pos = start;
		return -1;
	}
	if (strncmp(q, ":public", 7) == 0 && (q[7] == ':' || q[7] == '$')) {
		ref->pub = 1;
		q += 7;
	}
	if (strncmp(q, ":hex$$", 6) == 0) {
		ref->enc = WS_ENC_HEX;
		q += 4;
	} else if (strncmp(q, ":base64$$", 9) == 0) {
		ref->enc = WS_ENC_BASE64;
		q += 7;
	}
	if (strncmp(q, "$$", 2) != 0) {
		*pos = start;
		return -1;
	}
	ref->end = (size_t)(q + 2 - s);
	*pos = ref->end;
	return 1;
}
