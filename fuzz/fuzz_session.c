/* libFuzzer harness for the session language: YAML parsing, validation, canonical form, rendering.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ward/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_session *s = NULL;
	int rc = ward_session_parse((const char *)data, size, &s);
	if (rc > 0 || (rc < 0 && s) || (rc == 0 && !s))
		abort();
	if (!s)
		return 0;
	/* The canonical form parses back to a session with the same canonical form. */
	char *c1 = NULL, *c2 = NULL;
	size_t l1, l2;
	struct ward_session *back = NULL;
	if (ward_session_canonical(s, &c1, &l1) != 0 || ward_session_parse(c1, l1, &back) != 0 ||
	    ward_session_canonical(back, &c2, &l2) != 0 || l1 != l2 || memcmp(c1, c2, l1) != 0)
		abort();
	uint8_t d1[32], d2[32];
	if (ward_session_digest(s, d1) != 0 || ward_session_digest(back, d2) != 0 ||
	    memcmp(d1, d2, 32) != 0)
		abort();
	/* Every service renders once secrets are generated. */
	struct ward_secret_set *vals = NULL;
	if (ward_session_secrets_resolve(s, NULL, &vals) != 0)
		abort();
	for (size_t i = 0; i < ward_session_service_count(s); i++) {
		char *cfg = NULL;
		size_t len;
		if (ward_session_render(s, i, vals, &cfg, &len) != 0 || strlen(cfg) != len)
			abort();
		ward_session_text_free(cfg);
		if (!ward_session_service_program(s, i)[0])
			abort();
	}
	ward_secret_set_free(vals);
	ward_session_text_free(c1);
	ward_session_text_free(c2);
	ward_session_free(back);
	ward_session_free(s);
	return 0;
}
