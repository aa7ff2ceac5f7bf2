/* Loads one YAML document into a small tree with libyaml's event parser, refusing aliases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/core_internal.h"
#include "session/session_internal.h"

struct loader {
	yaml_parser_t p;
	size_t nodes;
	int err; /* first error code */
	char msg[200];
};

static int fail(struct loader *L, int code, unsigned line, const char *what)
{
	if (!L->err) {
		L->err = code;
		snprintf(L->msg, sizeof L->msg, "line %u: %s", line, what);
	}
	return code;
}

void ws_yaml_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ws_yaml_free(n->kids[i]);
	free(n->kids);
	if (n->str) {
		/* Scalars may hold explicit secret values: wipe before freeing. */
		memset(n->str, 0, n->len);
		__asm__ __volatile__("" : : "r"(n->str) : "memory");
		free(n->str);
	}
	free(n);
}

static struct ynode *node_new(struct loader *L, enum ynode_type t, unsigned line)
{
	if (++L->nodes > WS_MAX_NODES) {
		fail(L, WARD_E_FORMAT, line, "document has too many nodes");
		return NULL;
	}
	struct ynode *n = calloc(1, sizeof *n);
	if (!n) {
		fail(L, WARD_E_NOMEM, line, "out of memory");
		return NULL;
	}
	n->type = t;
	n->line = line;
	return n;
}

static int add_kid(struct loader *L, struct ynode *parent, struct ynode *kid)
{
	if ((parent->n & (parent->n - 1)) == 0) { /* grow at powers of two */
		size_t cap = parent->n ? parent->n * 2 : 4;
		struct ynode **k = realloc(parent->kids, cap * sizeof *k);
		if (!k) {
			ws_yaml_free(kid);
			return fail(L, WARD_E_NOMEM, kid->line, "out of memory");
		}
		parent->kids = k;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static struct ynode *load_node(struct loader *L, yaml_event_t *ev, int depth);

/* Loads the items of a sequence or mapping until its end event. */
static int load_children(struct loader *L, struct ynode *n, yaml_event_type_t end, int depth)
{
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&L->p, &ev))
			return fail(L, WARD_E_FORMAT, (unsigned)L->p.problem_mark.line + 1,
			            L->p.problem ? L->p.problem : "YAML syntax error");
		if (ev.type == end) {
			yaml_event_delete(&ev);
			break;
		}
		struct ynode *kid = load_node(L, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!kid)
			return L->err;
		if (n->type == Y_MAP && n->n % 2 == 0 && kid->type != Y_SCALAR) {
			unsigned line = kid->line;
			ws_yaml_free(kid);
			return fail(L, WARD_E_FORMAT, line, "mapping keys must be plain strings");
		}
		int rc = add_kid(L, n, kid);
		if (rc)
			return rc;
	}
	if (n->type == Y_MAP) {
		/* Duplicate keys would make the meaning depend on the parser: refuse them. */
		for (size_t i = 0; i < n->n; i += 2)
			for (size_t j = 0; j < i; j += 2)
				if (n->kids[i]->len == n->kids[j]->len &&
				    memcmp(n->kids[i]->str, n->kids[j]->str, n->kids[i]->len) ==
				        0) {
					char m[160];
					snprintf(m, sizeof m, "duplicate key '%.100s'",
					         n->kids[i]->str);
					return fail(L, WARD_E_FORMAT, n->kids[i]->line, m);
				}
	}
	return 0;
}

static struct ynode *load_node(struct loader *L, yaml_event_t *ev, int depth)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	if (depth > WS_MAX_DEPTH) {
		fail(L, WARD_E_FORMAT, line, "document nested too deeply");
		return NULL;
	}
	struct ynode *n = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (!(n = node_new(L, Y_SCALAR, line)))
			return NULL;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = malloc(n->len + 1);
		if (!n->str) {
			free(n);
			fail(L, WARD_E_NOMEM, line, "out of memory");
			return NULL;
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
		return n;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (!(n = node_new(L, ev->type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP, line)))
			return NULL;
		if (load_children(
		        L, n, n->type == Y_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT,
		        depth)) {
			ws_yaml_free(n);
			return NULL;
		}
		return n;
	case YAML_ALIAS_EVENT:
		/* Aliases allow exponential expansion ("billion laughs"); sessions do not need
		 * them. */
		fail(L, WARD_E_FORMAT, line, "YAML aliases are not allowed in sessions");
		return NULL;
	default:
		fail(L, WARD_E_FORMAT, line, "unexpected YAML event");
		return NULL;
	}
}

/* Reads the next event, expecting type. */
static int expect(struct loader *L, yaml_event_type_t type, const char *what)
{
	yaml_event_t ev;
	if (!yaml_parser_parse(&L->p, &ev))
		return fail(L, WARD_E_FORMAT, (unsigned)L->p.problem_mark.line + 1,
		            L->p.problem ? L->p.problem : "YAML syntax error");
	int ok = ev.type == type;
	unsigned line = (unsigned)ev.start_mark.line + 1;
	yaml_event_delete(&ev);
	return ok ? 0 : fail(L, WARD_E_FORMAT, line, what);
}

int ws_yaml_load(const char *text, size_t len, struct ynode **out)
{
	*out = NULL;
	struct loader L;
	memset(&L, 0, sizeof L);
	if (!yaml_parser_initialize(&L.p))
		return ward_error(WARD_E_NOMEM, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&L.p, (const unsigned char *)text, len);
	struct ynode *root = NULL;
	yaml_event_t ev;
	if (expect(&L, YAML_STREAM_START_EVENT, "expected a YAML stream") ||
	    expect(&L, YAML_DOCUMENT_START_EVENT, "empty document"))
		goto done;
	if (!yaml_parser_parse(&L.p, &ev)) {
		fail(&L, WARD_E_FORMAT, (unsigned)L.p.problem_mark.line + 1,
		     L.p.problem ? L.p.problem : "YAML syntax error");
		goto done;
	}
	root = load_node(&L, &ev, 0);
	yaml_event_delete(&ev);
	if (!root)
		goto done;
	if (expect(&L, YAML_DOCUMENT_END_EVENT, "expected the end of the document") ||
	    expect(&L, YAML_STREAM_END_EVENT, "a session file holds exactly one YAML document"))
		goto done;
done:
	yaml_parser_delete(&L.p);
	if (L.err) {
		ws_yaml_free(root);
		return ward_error(L.err, "%s", L.msg);
	}
	*out = root;
	return 0;
}
